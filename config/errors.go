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
