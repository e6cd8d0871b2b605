package portal

import (
	"net/url"

	"github.com/go-rod/rod"
	"gopkg.in/yaml.v3"
)

// fillStep types a value into an input or textarea.
type fillStep struct {
	Selector sel
	Value    *tmpl
}

func decodeFill(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &fillStep{}
	d.mapping(n, path, "fill: ", []field{
		{"selector", true, func(k, v *yaml.Node) { a.Selector = d.sel(v, path, "fill: ", "selector", inEach) }},
		{"value", true, func(k, v *yaml.Node) { a.Value = d.template(v, path, "fill: ", "value", inEach) }},
	})
	return a
}

const jsClear = `function() {
	const proto = this instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
	const set = Object.getOwnPropertyDescriptor(proto, 'value').set;
	set.call(this, '');
	this.dispatchEvent(new Event('input', {bubbles: true}));
	return this.type || this.tagName.toLowerCase();
}`

const jsSetValue = `function(v) {
	const proto = this instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
	const set = Object.getOwnPropertyDescriptor(proto, 'value').set;
	set.call(this, v);
	this.dispatchEvent(new Event('input', {bubbles: true}));
	this.dispatchEvent(new Event('change', {bubbles: true}));
}`

const jsChanged = `function() { this.dispatchEvent(new Event('change', {bubbles: true})); }`

// typedInputs are input types that take typed text; others (date, time,
// color, range, ...) are set directly.
var typedInputs = map[string]bool{"text": true, "email": true, "password": true, "search": true, "tel": true, "url": true, "number": true, "textarea": true}

// fillElement clears el and enters v: typed like a user for text inputs,
// set with input/change events for the others.
func (x *exec) fillElement(el *rod.Element, v string) error {
	res, err := el.Eval(jsClear)
	if err != nil {
		return x.actErr("clear the field", err)
	}
	if typ := res.Value.Str(); typedInputs[typ] {
		if v != "" {
			if err := el.Input(v); err != nil {
				return x.actErr("type into the field", err)
			}
		}
		if _, err := el.Eval(jsChanged); err != nil {
			return x.actErr("type into the field", err)
		}
		return nil
	}
	if _, err := el.Eval(jsSetValue, v); err != nil {
		return x.actErr("set the field", err)
	}
	return nil
}

func (a *fillStep) run(x *exec) error {
	el, err := x.element(a.Selector, visible)
	if err != nil {
		return err
	}
	v, err := x.render(a.Value)
	if err != nil {
		return err
	}
	if x.r.inLogin && v != "" {
		// What is typed to log in is a credential (a username or an
		// account number written in the flow, not only the secrets):
		// never recorded.
		x.r.s.rec.Redact(v, url.QueryEscape(v), url.PathEscape(v))
	}
	if err := x.beforeAct(); err != nil {
		return err
	}
	return x.fillElement(el, v)
}
