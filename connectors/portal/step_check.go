package portal

import (
	"github.com/authpilot/authpilot"
	"gopkg.in/yaml.v3"
)

// checkStep sets a checkbox or radio button.
type checkStep struct {
	Selector sel
	Checked  bool
}

func decodeCheck(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &checkStep{Checked: true}
	if r := d.node(n, path); r != nil && r.Kind == yaml.ScalarNode {
		a.Selector = d.sel(n, path, "check: ", "selector", inEach)
		return a
	}
	d.mapping(n, path, "check: ", []field{
		{"selector", true, func(k, v *yaml.Node) { a.Selector = d.sel(v, path, "check: ", "selector", inEach) }},
		{"checked", false, func(k, v *yaml.Node) { a.Checked = d.boolean(v, path, "check: ", "checked") }},
	})
	return a
}

const jsCheck = `function(want) {
	if (this.checked !== want) this.click();
	return this.checked === want;
}`

func (a *checkStep) run(x *exec) error {
	el, err := x.element(a.Selector, exists)
	if err != nil {
		return err
	}
	if err := x.beforeAct(); err != nil {
		return err
	}
	res, err := el.Eval(jsCheck, a.Checked)
	if err != nil {
		return x.actErr("check the box", err)
	}
	if !res.Value.Bool() {
		return x.fail(authpilot.ErrPortalChanged, quote(a.Selector.raw)+": the box did not change", nil)
	}
	return nil
}
