package portal

import (
	"fmt"
	"strings"

	"github.com/authpilot/authpilot"
	"gopkg.in/yaml.v3"
)

// selectStep picks an option of a <select> by value or by visible label.
type selectStep struct {
	Selector sel
	Value    *tmpl
	Label    *tmpl
}

func decodeSelect(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &selectStep{}
	if !d.mapping(n, path, "select: ", []field{
		{"selector", true, func(k, v *yaml.Node) { a.Selector = d.sel(v, path, "select: ", "selector", inEach) }},
		{"value", false, func(k, v *yaml.Node) { a.Value = d.template(v, path, "select: ", "value", inEach) }},
		{"label", false, func(k, v *yaml.Node) { a.Label = d.template(v, path, "select: ", "label", inEach) }},
	}) {
		return a
	}
	if (a.Value == nil) == (a.Label == nil) {
		d.errAt(d.node(n, path), path, "select: needs exactly one of value or label")
	}
	return a
}

const jsSelect = `function(byValue, want) {
	if (this.tagName !== 'SELECT') return 'not a select element';
	const norm = s => s.replace(/\s+/g, ' ').trim();
	for (const o of this.options) {
		if ((byValue ? o.value : norm(o.text)) === want) {
			this.value = o.value;
			o.selected = true;
			this.dispatchEvent(new Event('input', {bubbles: true}));
			this.dispatchEvent(new Event('change', {bubbles: true}));
			return '';
		}
	}
	return 'no option matches';
}`

func (a *selectStep) run(x *exec) error {
	el, err := x.element(a.Selector, exists)
	if err != nil {
		return err
	}
	byValue, t := true, a.Value
	if t == nil {
		byValue, t = false, a.Label
	}
	want, err := x.render(t)
	if err != nil {
		return err
	}
	if err := x.beforeAct(); err != nil {
		return err
	}
	res, err := el.Eval(jsSelect, byValue, strings.TrimSpace(want))
	if err != nil {
		return x.actErr("select an option", err)
	}
	if msg := res.Value.Str(); msg != "" {
		// The wanted value may be PHI (a code): name the mode only.
		mode := "label"
		if byValue {
			mode = "value"
		}
		return x.fail(authpilot.ErrPortalChanged, fmt.Sprintf("%s: %s by %s", quote(a.Selector.raw), msg, mode), nil)
	}
	return nil
}
