package yamlx

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

type inner struct {
	Name  string        `yaml:"name"`
	Wait  time.Duration `yaml:"wait"`
	Count int           `yaml:"count"`
}

type outer struct {
	Inner inner            `yaml:"inner"`
	List  []inner          `yaml:"list"`
	Map   map[string]inner `yaml:"map"`
	On    bool             `yaml:"on"`
	Words words            `yaml:"words"`
}

// words may be written as a list or as one space-separated string.
type words []string

func (w *words) DecodeYAML(d *Decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode {
		*w = strings.Fields(n.Value)
		return
	}
	var list []string
	d.Decode(n, reflect.ValueOf(&list).Elem(), path)
	*w = list
}

func decode(t *testing.T, src string) (outer, []string) {
	t.Helper()
	var errs []string
	d := New(func(line int, path, msg string) { errs = append(errs, fmt.Sprintf("%d: %s: %s", line, path, msg)) })
	var o outer
	if root := d.Parse([]byte(src)); root != nil {
		d.DecodeInto(root, &o)
	}
	return o, errs
}

// TestStrictAtEveryDepth: yaml.v3's Node.Decode is not strict below the
// top; this decoder is, in nested mappings, list items, map values and
// merged mappings alike.
func TestStrictAtEveryDepth(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"nested", "inner: {name: a, nmae: b}\n", []string{`1: inner: unknown key "nmae" (did you mean "name"?)`}},
		{"list item", "list:\n  - {name: a}\n  - {cuont: 2}\n", []string{`3: list[1]: unknown key "cuont" (did you mean "count"?)`}},
		{"map value", "map:\n  x: {wait: soon}\n", []string{`2: map.x.wait: expected a duration such as 30s or 15m, got "soon"`}},
		{"merged", "inner:\n  <<: {name: a, wiat: 1s}\n", []string{`2: inner: unknown key "wiat" (did you mean "wait"?)`}},
		{"duplicate", "inner:\n  name: a\n  name: b\n", []string{`3: inner: duplicate key "name" (first at line 2)`}},
		{"wrong types", "on: yes\ninner: [1]\n", []string{`1: on: expected true or false, got "yes"`, `2: inner: expected a mapping, got a list`}},
		{"two shapes, wrong", "words: {a: b}\n", []string{`1: words: expected a list, got a mapping`}},
		{"alias to the wrong shape", "list: &l\n  - {name: a}\n  - *l\n", []string{`1: list[1]: expected a mapping, got a list`}},
		{"two documents", "on: true\n---\non: false\n", []string{`2: : more than one YAML document in the file`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := decode(t, tt.src)
			if !slices.Equal(errs, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDecodes(t *testing.T) {
	o, errs := decode(t, "inner:\n  <<: {name: x, wait: 2s}\n  name: y\nlist: [{count: 3}]\nmap: {k: {name: v}}\non: true\nwords: a b\n")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := outer{
		Inner: inner{Name: "y", Wait: 2 * time.Second},
		List:  []inner{{Count: 3}},
		Map:   map[string]inner{"k": {Name: "v"}},
		On:    true,
		Words: words{"a", "b"},
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v\nwant %+v", o, want)
	}
}

func TestAliasBombStops(t *testing.T) {
	var b strings.Builder
	b.WriteString("a: &a [x, x, x, x, x, x, x, x, x, x]\n")
	prev := "a"
	for i := range 6 {
		name := fmt.Sprintf("l%d", i)
		fmt.Fprintf(&b, "%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	var errs []string
	d := New(func(line int, path, msg string) { errs = append(errs, msg) })
	root := d.Parse([]byte(b.String()))
	var v struct {
		L [][][][][][][]string `yaml:"l5"`
	}
	d.DecodeInto(root, &v)
	if !slices.Contains(errs, "document too large or too deeply aliased") {
		t.Fatalf("errors: %v", errs[:min(len(errs), 3)])
	}
}
