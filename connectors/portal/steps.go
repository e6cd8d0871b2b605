package portal

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot/internal/didyoumean"
)

// action is what a step kind does. Each kind lives in its own file,
// step_KIND.go: its type, decoder, run and, where a fetched page allows
// it, fetch (fetch.go).
type action interface {
	run(x *exec) error
}

// stepKinds maps each step kind to its body decoder.
var stepKinds map[string]func(d *decoder, body *yaml.Node, path string, inEach bool) action

func init() {
	stepKinds = map[string]func(d *decoder, body *yaml.Node, path string, inEach bool) action{
		"goto":       decodeGoto,
		"fill":       decodeFill,
		"select":     decodeSelect,
		"check":      decodeCheck,
		"click":      decodeClick,
		"upload":     decodeUpload,
		"wait_for":   decodeWaitFor,
		"extract":    decodeExtract,
		"totp":       decodeTOTP,
		"ask":        decodeAsk,
		"screenshot": decodeScreenshot,
		"expect":     decodeExpect,
		"call":       decodeCall,
		"each":       decodeEach,
	}
}

// stepModifiers are the keys every step may carry besides its kind.
var stepModifiers = []string{"name", "if", "optional", "timeout"}

func stepKindNames() []string {
	names := make([]string, 0, len(stepKinds))
	for k := range stepKinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func (d *decoder) steps(n *yaml.Node, path string, inEach bool) []*Step {
	var out []*Step
	d.sequence(n, path, "", func(i int, item *yaml.Node) {
		if st := d.step(item, fmt.Sprintf("%s[%d]", path, i), inEach); st != nil {
			out = append(out, st)
		}
	})
	return out
}

// step decodes one step: a mapping with exactly one kind key and optional
// modifiers.
func (d *decoder) step(n *yaml.Node, path string, inEach bool) *Step {
	n0 := n
	n = d.node(n, path)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errAt(n, path, "a step must be a mapping such as {click: \"#next\"}, got %s", d.Describe(n))
		return nil
	}
	st := &Step{Path: path, Line: n.Line}
	var kindKey, body *yaml.Node
	valid := true
	hasKind := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if _, ok := stepKinds[n.Content[i].Value]; ok && n.Content[i].Kind == yaml.ScalarNode {
			hasKind = true
		}
	}
	before := len(d.errs)
	d.pairs(n0, path, "", func(k, v *yaml.Node) {
		switch k.Value {
		case "name":
			st.Name, _ = d.scalar(v, path, "", "name")
			return
		case "if":
			st.If = d.template(v, path, "", "if", inEach)
			return
		case "optional":
			st.Optional = d.boolean(v, path, "", "optional")
			return
		case "timeout":
			st.Timeout = d.duration(v, path, "", "timeout")
			return
		}
		if _, ok := stepKinds[k.Value]; !ok {
			msg := "unknown step %q%s"
			if hasKind {
				msg = "unknown key %q%s"
			}
			d.errAt(k, path, msg, k.Value, didyoumean.Suggest(k.Value, append(stepKindNames(), stepModifiers...)))
			valid = false
			return
		}
		if kindKey != nil {
			d.errAt(k, path, "a step has one kind: %q and %q given (make them two steps)", kindKey.Value, k.Value)
			valid = false
			return
		}
		kindKey, body = k, v
	})
	if len(d.errs) > before {
		valid = false
	}
	if kindKey == nil {
		if valid {
			d.errAt(n, path, "missing step kind (one of %s)", strings.Join(stepKindNames(), ", "))
		}
		return nil
	}
	st.Kind = kindKey.Value
	nerr := len(d.errs)
	st.action = stepKinds[st.Kind](d, body, path, inEach)
	if !valid || len(d.errs) > nerr || st.action == nil {
		return nil
	}
	return st
}

// sel is a CSS selector, optionally a template (inside each: "#cpt-{{.Number}}").
// Messages quote raw, never the rendered selector.
type sel struct {
	raw string
	t   *tmpl
}

func (d *decoder) sel(n *yaml.Node, path, prefix, name string, inEach bool) sel {
	s := d.str(n, path, prefix, name)
	if strings.Contains(s, "{{") {
		return sel{raw: s, t: d.template(n, path, prefix, name, inEach)}
	}
	return sel{raw: s}
}
