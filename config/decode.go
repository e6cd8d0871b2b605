package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/didyoumean"
)

// maxSteps bounds the work of one decode, so that a file of nested aliases
// (a "billion laughs") is an error rather than a hang.
const maxSteps = 200000

// decoder strictly decodes one file's yaml.Node tree into Go values. It
// walks the tree itself rather than calling Node.Decode, which drops
// KnownFields strictness for nested nodes: every unknown key, wrong type
// and duplicate key anywhere gets an error with its line, and decoding
// goes on so that all problems are reported at once.
type decoder struct {
	file string
	errs *collector
	// nodes maps raw field paths ("connectors[2].schedule.poll") to the
	// value nodes written in the file, for validation's line numbers.
	nodes map[string]*yaml.Node
	// written maps nodes whose values came from ${VAR} expansion to the
	// text as written, which errors show instead of the value.
	written map[*yaml.Node]string
	// failed holds the paths whose values could not be decoded, and bad
	// the nodes whose ${VAR} expansion failed: validation says nothing
	// more about them, so one mistake gives one error.
	failed map[string]bool
	bad    map[*yaml.Node]bool
	// base prefixes every path: a flow file's errors belong under its
	// connector ("connectors[2]").
	base  string
	steps int
}

func newDecoder(file string, errs *collector) *decoder {
	return &decoder{
		file:    file,
		errs:    errs,
		nodes:   map[string]*yaml.Node{},
		written: map[*yaml.Node]string{},
		failed:  map[string]bool{},
		bad:     map[*yaml.Node]bool{},
	}
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs.add(d.file, line, join(d.base, path), fmt.Sprintf(format, args...))
}

// hasFailed reports whether the value at path, or one that holds it, could
// not be decoded.
func (d *decoder) hasFailed(path string) bool {
	for p := path; p != ""; p = parent(p) {
		if d.failed[p] {
			return true
		}
	}
	return false
}

// yamlLine matches yaml.v3's syntax errors, which carry their line.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses one YAML document and returns its root node, nil for an
// empty document. Syntax errors are reported with their line.
func (d *decoder) parseYAML(data []byte) *yaml.Node {
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
			d.errorf(&extra, "", "more than one YAML document in the file")
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

func (d *decoder) syntaxError(err error) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.errs.add(d.file, line, d.base, "bad YAML: "+m[2])
		return
	}
	d.errs.add(d.file, 0, d.base, "bad YAML: "+strings.TrimPrefix(msg, "yaml: "))
}

// expandEnv replaces ${VAR} and ${VAR:-default} in every scalar value (not
// in keys). "$${" stands for a literal "${". An unset variable without a
// default is an error naming the line.
func (d *decoder) expandEnv(root *yaml.Node, lookup func(string) (string, bool)) {
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], join(path, n.Content[i].Value))
			}
		case yaml.ScalarNode:
			if !strings.Contains(n.Value, "${") {
				return
			}
			out, err := expand(n.Value, lookup)
			if err != nil {
				d.errorf(n, path, "%v", err)
				d.bad[n] = true
				return
			}
			if out == n.Value {
				return
			}
			d.written[n] = n.Value
			n.Value = out
			// A plain scalar gets its type from its new text, so that
			// "pages: ${PAGES}" is an integer; a quoted one stays a string.
			if n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
				n.Tag = ""
			}
		}
	}
	walk(root, "")
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand substitutes environment references in s.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			// "$${" is a literal "${".
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", errors.New(`unterminated "${" (write "$${" for a literal "${")`)
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !envName.MatchString(name) {
			return "", fmt.Errorf("bad environment reference %q", "${"+ref+"}")
		}
		v, ok := lookup(name)
		switch {
		case hasDef && v == "":
			b.WriteString(def)
		case ok:
			b.WriteString(v)
		default:
			return "", fmt.Errorf("environment variable %s is not set (write ${%s:-default} for a default)", name, name)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// parent strips the last field or index from a raw path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// line returns the line of the value at path, or of its nearest ancestor
// written in the file; 0 if none is.
func (d *decoder) line(path string) int {
	for p := path; p != ""; p = parent(p) {
		if n, ok := d.nodes[p]; ok {
			return n.Line
		}
	}
	return 0
}

// nodeKeeper is implemented by structs that keep some keys' raw nodes
// instead of decoding them (a connector's options, decoded by its kind).
type nodeKeeper interface {
	keepNode(key string, n *yaml.Node) bool
}

// defaulter is implemented by list items that start from defaults.
type defaulter interface {
	setDefaults()
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType        = reflect.TypeFor[Duration]()
	dateType            = reflect.TypeFor[authpilot.Date]()
)

// tick counts one step of work and reports whether the budget allows it.
func (d *decoder) tick(n *yaml.Node, path string) bool {
	d.steps++
	if d.steps > maxSteps {
		if d.steps == maxSteps+1 {
			d.errorf(n, path, "document too large or too deeply aliased")
		}
		return false
	}
	return true
}

// decode decodes n into v (settable), recording n under path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if !d.tick(n, path) {
		return
	}
	for i := 0; n.Kind == yaml.AliasNode; i++ {
		if n.Alias == nil || i > 100 {
			d.errorf(n, path, "bad alias")
			return
		}
		n = n.Alias
	}
	if path != "" {
		d.nodes[path] = n
	}
	if d.bad[n] {
		d.failed[path] = true
		return
	}
	if isNull(n) {
		// An empty value keeps the default.
		return
	}
	t := v.Type()
	if v.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(textUnmarshalerType) {
		if n.Kind != yaml.ScalarNode {
			d.typeError(n, path, t)
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.typeError(n, path, t)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.steps--
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.typeError(n, path, t)
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.typeError(n, path, t)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || v.OverflowInt(i) {
			d.typeError(n, path, t)
			return
		}
		v.SetInt(i)
	case reflect.Float32, reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") || n.Decode(&f) != nil {
			d.typeError(n, path, t)
			return
		}
		v.SetFloat(f)
	default:
		d.errorf(n, path, "internal error: cannot decode into %s", t)
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// isMerge reports a "<<" merge key.
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

// fieldInfo is a struct type's keys and their field indexes.
type fieldInfo struct {
	index map[string]int
	keys  []string
}

var fieldCache sync.Map // reflect.Type → *fieldInfo

func fieldsOf(t reflect.Type) *fieldInfo {
	if fi, ok := fieldCache.Load(t); ok {
		return fi.(*fieldInfo)
	}
	fi := &fieldInfo{index: map[string]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fi.index[name] = i
		fi.keys = append(fi.keys, name)
	}
	fieldCache.Store(t, fi)
	return fi
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.typeError(n, path, v.Type())
		return
	}
	fi := fieldsOf(v.Type())
	keeper, _ := v.Addr().Interface().(nodeKeeper)
	// Merged mappings ("<<: *defaults") first, so that the keys written
	// here override them.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMerge(n.Content[i]) {
			d.merge(n.Content[i+1], v, path)
		}
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			continue
		}
		if !d.tick(k, path) {
			return
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be plain names")
			continue
		}
		key := k.Value
		if first, dup := seen[key]; dup {
			d.errorf(k, path, "duplicate key %q (first at line %d)", key, first.Line)
			continue
		}
		seen[key] = k
		child := join(path, key)
		if keeper != nil {
			target := val
			for j := 0; target.Kind == yaml.AliasNode && target.Alias != nil && j < 100; j++ {
				target = target.Alias
			}
			if keeper.keepNode(key, target) {
				d.nodes[child] = target
				continue
			}
		}
		idx, ok := fi.index[key]
		if !ok {
			d.errorf(k, path, "unknown key %q%s", key, didyoumean.Suggest(key, fi.keys))
			continue
		}
		d.decode(val, v.Field(idx), child)
	}
}

// merge decodes the value of a "<<" key: a mapping or a list of them, the
// earlier ones winning.
func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		d.decodeStruct(n, v, path)
	case yaml.SequenceNode:
		for i := len(n.Content) - 1; i >= 0; i-- {
			m := n.Content[i]
			for j := 0; m.Kind == yaml.AliasNode && m.Alias != nil && j < 100; j++ {
				m = m.Alias
			}
			if m.Kind != yaml.MappingNode {
				d.errorf(m, path, "a merge (<<) takes a mapping or a list of mappings")
				continue
			}
			d.decodeStruct(m, v, path)
		}
	default:
		d.errorf(n, path, "a merge (<<) takes a mapping or a list of mappings")
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.typeError(n, path, v.Type())
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ev := s.Index(i)
		if ev.Kind() == reflect.Pointer {
			ev.Set(reflect.New(ev.Type().Elem()))
			if df, ok := ev.Interface().(defaulter); ok {
				df.setDefaults()
			}
		} else if df, ok := ev.Addr().Interface().(defaulter); ok {
			df.setDefaults()
		}
		d.decode(item, ev, fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.typeError(n, path, v.Type())
		return
	}
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		d.errorf(n, path, "internal error: map key type %s", t.Key())
		return
	}
	m := reflect.MakeMap(t)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be plain names")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, path, "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		ev := reflect.New(t.Elem()).Elem()
		d.decode(val, ev, join(path, k.Value))
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), ev)
	}
	v.Set(m)
}

// typeError reports that n is not a value of type t.
func (d *decoder) typeError(n *yaml.Node, path string, t reflect.Type) {
	d.failed[path] = true
	d.errorf(n, path, "expected %s, got %s", typeName(t), d.describe(n))
}

// typeName says what a value of type t is written as.
func typeName(t reflect.Type) string {
	switch t {
	case durationType:
		return "a duration such as 90s, 15m, 48h or 7d"
	case dateType:
		return "a date (YYYY-MM-DD)"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	}
	return t.String()
}

// describe says what n is, quoting a scalar as written (a value that came
// from the environment is shown as its ${VAR} reference).
func (d *decoder) describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return d.quote(n)
	}
	return "an unexpected node"
}

// quote returns the value of n as written, quoted and cut short.
func (d *decoder) quote(n *yaml.Node) string {
	if w, ok := d.written[n]; ok {
		return quoteShort(w)
	}
	return quoteShort(n.Value)
}

// quoteAt quotes the value at path for a validation message: a value that
// came from the environment shows as its ${VAR} reference.
func (d *decoder) quoteAt(path, value string) string {
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
