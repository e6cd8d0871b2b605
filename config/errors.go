package config

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Error is one problem in a configuration file. It names the file, the
// line (0 when unknown) and the field, e.g.
//
//	examples/authpilot.yaml:42: connectors[2] "carelon": schedule.poll: bad cron spec "0 25 * * *": ...
type Error struct {
	File string
	Line int
	// Path is the field, with list items labelled by their id, e.g.
	// `connectors[2] "carelon": schedule.poll`; empty for file-level errors.
	Path string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a configuration, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// maxErrors stops collecting after this many errors; a file that bad is
// probably not an authpilot config at all.
const maxErrors = 100

// collector gathers errors and warnings with raw paths (e.g.
// "connectors[2].schedule.poll"); finish labels list items and sorts.
type collector struct {
	errs     []*Error
	warnings []*Error
	full     bool
}

func (c *collector) add(file string, line int, path, msg string) {
	if len(c.errs) >= maxErrors {
		if !c.full {
			c.full = true
			c.errs = append(c.errs, &Error{File: file, Msg: fmt.Sprintf("too many errors; stopped after %d", maxErrors)})
		}
		return
	}
	c.errs = append(c.errs, &Error{File: file, Line: line, Path: path, Msg: msg})
}

func (c *collector) warn(file string, line int, path, msg string) {
	c.warnings = append(c.warnings, &Error{File: file, Line: line, Path: path, Msg: msg})
}

// itemPath matches a raw path into a labelled list: its item and the rest.
var itemPath = regexp.MustCompile(`^((?:connectors|payers|notify\.sinks)\[\d+\])(?:\.(.*))?$`)

// display turns a raw path into the form errors print: list items of
// connectors, payers and sinks carry their id and a ": " before the field.
func display(raw string, labels map[string]string) string {
	m := itemPath.FindStringSubmatch(raw)
	if m == nil {
		return raw
	}
	head := m[1]
	if id := labels[head]; id != "" {
		head += " " + strconv.Quote(id)
	}
	if m[2] == "" {
		return head
	}
	return head + ": " + m[2]
}

// finish labels, orders (files in order of first appearance, then by line)
// and returns the errors and warnings.
func (c *collector) finish(labels map[string]string) (Errors, []string) {
	order := func(list []*Error) {
		rank := map[string]int{}
		for _, e := range list {
			if _, ok := rank[e.File]; !ok {
				rank[e.File] = len(rank)
			}
			e.Path = display(e.Path, labels)
		}
		sort.SliceStable(list, func(i, j int) bool {
			a, b := list[i], list[j]
			if rank[a.File] != rank[b.File] {
				return rank[a.File] < rank[b.File]
			}
			return a.Line < b.Line
		})
	}
	order(c.errs)
	order(c.warnings)
	var warnings []string
	for _, w := range c.warnings {
		warnings = append(warnings, w.Error())
	}
	if len(c.errs) == 0 {
		return nil, warnings
	}
	return Errors(c.errs), warnings
}

// suggest returns ` (did you mean "x"?)` when one candidate is close to s
// by edit distance, else "".
func suggest(s string, candidates []string) string {
	if s == "" {
		return ""
	}
	best, bestDist, ties := "", -1, 0
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		switch {
		case bestDist < 0 || d < bestDist:
			best, bestDist, ties = c, d, 0
		case d == bestDist:
			ties++
		}
	}
	if bestDist < 0 || ties > 0 || bestDist > maxSuggestDistance(s) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// maxSuggestDistance is how many edits still count as a typo: about one in
// three characters, at most three.
func maxSuggestDistance(s string) int {
	n := len(s)
	switch {
	case n <= 3:
		return 1
	case n <= 8:
		return 2
	default:
		return 3
	}
}

// editDistance is the Levenshtein distance between a and b, counting an
// adjacent transposition as one edit (optimal string alignment).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 128 || len(rb) > 128 {
		// Keys that long are not typos of ours.
		return 1 << 20
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
