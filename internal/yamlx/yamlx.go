// Package yamlx is authpilot's one strict YAML decoder, shared by the
// config file, the portal flows and the kinds' options. It walks the
// yaml.Node tree itself rather than calling Node.Decode, which drops
// KnownFields strictness for nested nodes: every unknown key (with a "did
// you mean"), wrong type and duplicate key anywhere is reported with its
// line and field path, and decoding goes on so that all problems are
// reported at once.
package yamlx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot/internal/didyoumean"
)

// maxSteps bounds the work of one decode, so that a file of nested aliases
// (a "billion laughs") is an error rather than a hang.
const maxSteps = 200000

// Decoder decodes one file's node tree, sending each problem to its report
// function with the line (0 when unknown) and the raw field path, e.g.
// "connectors[2].schedule.poll".
type Decoder struct {
	report func(line int, path, msg string)
	// Base prefixes every path: a flow file's errors belong under its
	// connector ("connectors[2]").
	Base string
	// Names describes types of the caller's in "expected …" messages,
	// e.g. "a duration such as 90s, 15m, 48h or 7d".
	Names map[reflect.Type]string
	// nodes maps raw field paths to the value nodes written in the file,
	// for validation's line numbers.
	nodes map[string]*yaml.Node
	// written maps nodes whose values came from ${VAR} expansion to the
	// text as written, which errors show instead of the value.
	written map[*yaml.Node]string
	// failed holds the paths whose values could not be decoded, and bad
	// the nodes whose ${VAR} expansion failed: validation says nothing
	// more about them, so one mistake gives one error.
	failed map[string]bool
	bad    map[*yaml.Node]bool
	// active are the aliases being walked (a recursive alias is an error).
	active map[*yaml.Node]bool
	steps  int
}

// New returns a decoder that reports every problem to report.
func New(report func(line int, path, msg string)) *Decoder {
	return &Decoder{
		report:  report,
		nodes:   map[string]*yaml.Node{},
		written: map[*yaml.Node]string{},
		failed:  map[string]bool{},
		bad:     map[*yaml.Node]bool{},
		active:  map[*yaml.Node]bool{},
	}
}

// Errorf reports a problem at n (its line) and path.
func (d *Decoder) Errorf(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.report(line, Join(d.Base, path), fmt.Sprintf(format, args...))
}

// Failed reports whether the value at path, or one that holds it, could
// not be decoded.
func (d *Decoder) Failed(path string) bool {
	for p := path; p != ""; p = Parent(p) {
		if d.failed[p] {
			return true
		}
	}
	return false
}

// Line returns the line of the value at path, or of its nearest ancestor
// written in the file; 0 if none is.
func (d *Decoder) Line(path string) int {
	for p := path; p != ""; p = Parent(p) {
		if n, ok := d.nodes[p]; ok {
			return n.Line
		}
	}
	return 0
}

// Join appends a key to a raw path.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	if key == "" {
		return path
	}
	return path + "." + key
}

// Parent strips the last field or index from a raw path.
func Parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// yamlLine matches yaml.v3's syntax errors, which carry their line.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse parses one YAML document and returns its root node, nil for an
// empty document or after a syntax error (reported with its line).
func (d *Decoder) Parse(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		d.syntaxError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			d.syntaxError(err)
		} else {
			d.Errorf(&extra, "", "more than one YAML document in the file")
		}
		return nil
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil
		}
		return doc.Content[0]
	}
	return &doc
}

func (d *Decoder) syntaxError(err error) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.report(line, d.Base, "bad YAML: "+m[2])
		return
	}
	d.report(0, d.Base, "bad YAML: "+strings.TrimPrefix(msg, "yaml: "))
}

// tick counts one step of work and reports whether the budget allows it.
func (d *Decoder) tick(n *yaml.Node, path string) bool {
	d.steps++
	if d.steps > maxSteps {
		if d.steps == maxSteps+1 {
			d.Errorf(n, path, "document too large or too deeply aliased")
		}
		return false
	}
	return true
}

// Resolve counts a visit to n and returns the node it stands for: aliases
// followed, a document unwrapped. It returns nil for an empty document, a
// recursive alias or when the work budget is spent (after an error).
func (d *Decoder) Resolve(n *yaml.Node, path string) *yaml.Node {
	if !d.tick(n, path) {
		return nil
	}
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if d.active[n] {
			d.Errorf(n, path, "recursive alias *%s", n.Value)
			return nil
		}
		if n.Alias == nil || i > 100 {
			d.Errorf(n, path, "bad alias")
			return nil
		}
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return d.Resolve(n.Content[0], path)
	}
	return n
}

// within marks n (if an alias) as being walked while fn runs, so that an
// alias inside its own anchor is reported instead of followed forever.
func (d *Decoder) within(n *yaml.Node, fn func()) {
	if n != nil && n.Kind == yaml.AliasNode {
		d.active[n] = true
		defer delete(d.active, n)
	}
	fn()
}

// IsNull reports an empty value ("", "~", "null" or nothing).
func IsNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// isMerge reports a "<<" merge key.
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

// entry is one key of a mapping and its value. A merged key that a key
// written beside the merge overrides is kept, marked: a struct decodes
// both in turn, so nested mappings merge key by key.
type entry struct {
	key, val   *yaml.Node
	overridden bool
}

// entries lists a mapping's keys in order, merged mappings ("<<: *base")
// first, then the keys written beside them. Keys that are not plain names
// and keys written twice are reported and left out.
func (d *Decoder) entries(n *yaml.Node, path, prefix string) []entry {
	var out []entry
	index := map[string]int{}
	add := func(e entry, own bool) {
		if i, dup := index[e.key.Value]; dup {
			if !own {
				return // an earlier merge wins
			}
			out[i].overridden = true
		}
		index[e.key.Value] = len(out)
		out = append(out, e)
	}
	// Merged mappings: in a list the earlier ones win.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !isMerge(n.Content[i]) {
			continue
		}
		v := n.Content[i+1]
		m := d.Resolve(v, path)
		if m == nil {
			continue
		}
		var sources []*yaml.Node
		switch m.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{m}
		case yaml.SequenceNode:
			for _, item := range m.Content {
				if r := d.Resolve(item, path); r != nil {
					sources = append(sources, r)
				}
			}
		}
		for _, src := range sources {
			if src.Kind != yaml.MappingNode {
				d.Errorf(src, path, "%sa merge (<<) takes a mapping or a list of mappings", prefix)
				continue
			}
			d.within(v, func() {
				for _, e := range d.entries(src, path, prefix) {
					if !e.overridden {
						add(e, false)
					}
				}
			})
		}
		if len(sources) == 0 {
			d.Errorf(m, path, "%sa merge (<<) takes a mapping or a list of mappings", prefix)
		}
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			continue
		}
		if !d.tick(k, path) {
			return out
		}
		if k.Kind != yaml.ScalarNode {
			d.Errorf(k, path, "%skeys must be plain names, got %s", prefix, d.Describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.Errorf(k, path, "%sduplicate key %q (first at line %d)", prefix, k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		add(entry{key: k, val: v}, true)
	}
	return out
}

// Field is one known key of a mapping walked by Fields.
type Field struct {
	Name     string
	Required bool
	// Fn is called with the key and its value node.
	Fn func(key, val *yaml.Node)
}

// Fields walks a mapping of known keys: each key's Fn is called with its
// value, in the file's order; unknown keys (with a suggestion), duplicate
// keys and missing required keys are reported. prefix starts every
// message (e.g. a step kind, "fill: "). It reports whether n was a mapping
// without such problems.
func (d *Decoder) Fields(n *yaml.Node, path, prefix string, fields []Field) bool {
	r := d.expect(n, path, prefix, yaml.MappingNode)
	if r == nil {
		return false
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	ok := true
	d.within(n, func() {
		seen := map[string]bool{}
		for _, e := range d.entries(r, path, prefix) {
			if e.overridden {
				continue
			}
			i := slices.Index(names, e.key.Value)
			if i < 0 {
				d.unknownKey(e.key, path, prefix, names)
				ok = false
				continue
			}
			seen[e.key.Value] = true
			fields[i].Fn(e.key, e.val)
		}
		for _, f := range fields {
			if f.Required && !seen[f.Name] {
				d.Errorf(r, path, "%smissing required key %q", prefix, f.Name)
				ok = false
			}
		}
	})
	return ok
}

// unknownKey reports key k, which is none of names.
func (d *Decoder) unknownKey(k *yaml.Node, path, prefix string, names []string) {
	d.Errorf(k, path, "%sunknown key %q%s", prefix, k.Value, didyoumean.Suggest(k.Value, names))
}

// expect resolves n and returns it when it is a node of kind; otherwise
// it reports what was there instead and returns nil.
func (d *Decoder) expect(n *yaml.Node, path, prefix string, kind yaml.Kind) *yaml.Node {
	r := d.Resolve(n, path)
	if r == nil || r.Kind == kind {
		return r
	}
	want := "a mapping"
	if kind == yaml.SequenceNode {
		want = "a list"
	}
	d.failed[path] = true
	d.Errorf(r, path, "%sexpected %s, got %s", prefix, want, d.Describe(r))
	return nil
}

// Pairs walks a mapping whose keys are free names (flows, status rules),
// in the file's order.
func (d *Decoder) Pairs(n *yaml.Node, path, prefix string, fn func(key, val *yaml.Node)) bool {
	r := d.expect(n, path, prefix, yaml.MappingNode)
	if r == nil {
		return false
	}
	d.within(n, func() {
		for _, e := range d.entries(r, path, prefix) {
			if !e.overridden {
				fn(e.key, e.val)
			}
		}
	})
	return true
}

// Items walks a list.
func (d *Decoder) Items(n *yaml.Node, path, prefix string, fn func(i int, item *yaml.Node)) bool {
	r := d.expect(n, path, prefix, yaml.SequenceNode)
	if r == nil {
		return false
	}
	d.within(n, func() {
		for i, item := range r.Content {
			fn(i, item)
		}
	})
	return true
}

// Describe says what n is, quoting a scalar as written (a value that came
// from the environment is shown as its ${VAR} reference).
func (d *Decoder) Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if IsNull(n) {
			return "nothing"
		}
		return d.Quote(n)
	case yaml.AliasNode:
		return "an alias"
	}
	return "an unexpected node"
}

// Quote returns the value of n as written, quoted and cut short.
func (d *Decoder) Quote(n *yaml.Node) string {
	if w, ok := d.written[n]; ok {
		return quoteShort(w)
	}
	return quoteShort(n.Value)
}

// QuoteAt quotes the value at path for a validation message: a value that
// came from the environment shows as its ${VAR} reference.
func (d *Decoder) QuoteAt(path, value string) string {
	if n, ok := d.nodes[path]; ok {
		if w, ok := d.written[n]; ok {
			return quoteShort(w)
		}
	}
	return quoteShort(value)
}

func quoteShort(s string) string {
	const max = 80
	if len(s) > max {
		cut := max
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strconv.Quote(s)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
