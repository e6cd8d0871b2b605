package portal

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot/internal/didyoumean"
)

// action is what a step kind does; see run.go for the implementations.
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

// gotoStep navigates to a URL (relative to base_url).
type gotoStep struct {
	URL *tmpl
}

func decodeGoto(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &gotoStep{}
	if r := d.node(n, path); r != nil && r.Kind == yaml.ScalarNode {
		d.str(n, path, "goto: ", "url")
		a.URL = d.template(n, path, "goto: ", "url", inEach)
		return a
	}
	d.mapping(n, path, "goto: ", []field{
		{"url", true, func(k, v *yaml.Node) {
			d.str(v, path, "goto: ", "url")
			a.URL = d.template(v, path, "goto: ", "url", inEach)
		}},
	})
	return a
}

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

// clickStep clicks an element; it may wait for the navigation it starts or
// for the download it triggers.
type clickStep struct {
	Selector sel
	// Text keeps only elements whose text matches.
	Text     *regexp.Regexp
	Navigate bool
	// Download is the document kind of the file the click downloads.
	Download string
}

func decodeClick(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &clickStep{}
	if r := d.node(n, path); r != nil && r.Kind == yaml.ScalarNode {
		a.Selector = d.sel(n, path, "click: ", "selector", inEach)
		return a
	}
	if !d.mapping(n, path, "click: ", []field{
		{"selector", true, func(k, v *yaml.Node) { a.Selector = d.sel(v, path, "click: ", "selector", inEach) }},
		{"text", false, func(k, v *yaml.Node) { a.Text = d.regex(v, path, "click: ", "text") }},
		{"navigate", false, func(k, v *yaml.Node) { a.Navigate = d.boolean(v, path, "click: ", "navigate") }},
		{"download", false, func(k, v *yaml.Node) {
			a.Download = d.str(v, path, "click: ", "download")
			if a.Download != "" && !validName(a.Download) {
				d.errAt(d.node(v, path), path, "click: download: document kind %q: use letters, digits, - and _", a.Download)
			}
		}},
	}) {
		return a
	}
	if a.Navigate && a.Download != "" {
		d.errAt(d.node(n, path), path, "click: navigate and download cannot be combined")
	}
	return a
}

// uploadStep attaches files to a file input.
type uploadStep struct {
	Selector sel
	// Attachments uploads the case's attachments (filtered by Kinds).
	Attachments bool
	Kinds       []string
	// Files are path templates, for files outside the case.
	Files []*tmpl
}

func decodeUpload(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &uploadStep{}
	if !d.mapping(n, path, "upload: ", []field{
		{"selector", true, func(k, v *yaml.Node) { a.Selector = d.sel(v, path, "upload: ", "selector", inEach) }},
		{"files", true, func(k, v *yaml.Node) {
			r := d.node(v, path)
			if r == nil {
				return
			}
			if r.Kind == yaml.ScalarNode {
				if r.Value != "attachments" {
					d.errAt(r, path, "upload: files: expected \"attachments\" or a list of file paths, got %q", r.Value)
					return
				}
				a.Attachments = true
				return
			}
			d.sequence(v, path, "upload: files: ", func(i int, item *yaml.Node) {
				if t := d.template(item, path, "upload: ", fmt.Sprintf("files[%d]", i), inEach); t != nil {
					a.Files = append(a.Files, t)
				}
			})
		}},
		{"kinds", false, func(k, v *yaml.Node) {
			d.sequence(v, path, "upload: kinds: ", func(i int, item *yaml.Node) {
				a.Kinds = append(a.Kinds, d.str(item, path, "upload: ", "kinds"))
			})
		}},
	}) {
		return a
	}
	if len(a.Kinds) > 0 && !a.Attachments {
		d.errAt(d.node(n, path), path, "upload: kinds filters attachments: set files: attachments")
	}
	return a
}

// waitForStep waits until an element, a text or a URL is there (or gone).
type waitForStep struct {
	Selector sel
	Text     *regexp.Regexp
	URL      *regexp.Regexp
	Gone     bool
}

func decodeWaitFor(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &waitForStep{}
	if r := d.node(n, path); r != nil && r.Kind == yaml.ScalarNode {
		a.Selector = d.sel(n, path, "wait_for: ", "selector", inEach)
		return a
	}
	if !d.mapping(n, path, "wait_for: ", []field{
		{"selector", false, func(k, v *yaml.Node) { a.Selector = d.sel(v, path, "wait_for: ", "selector", inEach) }},
		{"text", false, func(k, v *yaml.Node) { a.Text = d.regex(v, path, "wait_for: ", "text") }},
		{"url", false, func(k, v *yaml.Node) { a.URL = d.regex(v, path, "wait_for: ", "url") }},
		{"gone", false, func(k, v *yaml.Node) { a.Gone = d.boolean(v, path, "wait_for: ", "gone") }},
	}) {
		return a
	}
	if a.Selector.raw == "" && a.Text == nil && a.URL == nil {
		d.errAt(d.node(n, path), path, "wait_for: needs one of selector, text or url")
	}
	if a.Gone && (a.Text != nil || a.URL != nil) {
		d.errAt(d.node(n, path), path, "wait_for: gone works with selector only")
	}
	return a
}

// extractStep reads a value into a variable, several values of the page
// into their own variables (fields without rows), or a table of rows into
// one variable (rows with fields).
type extractStep struct {
	Into  string
	Sel   sel
	Field FieldSpec // attr and regex of the single-value form
	// Rows, when set, reads one record per matching element with Fields.
	Rows   string
	Fields map[string]*FieldSpec
	order  []string
}

func decodeExtract(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &extractStep{}
	const p = "extract: "
	if !d.mapping(n, path, p, []field{
		{"into", false, func(k, v *yaml.Node) {
			a.Into = d.str(v, path, p, "into")
			if a.Into != "" && !validName(a.Into) {
				d.errAt(d.node(v, path), path, "%sinto: variable name %q: use letters, digits, - and _", p, a.Into)
			}
		}},
		{"selector", false, func(k, v *yaml.Node) { a.Sel = d.sel(v, path, p, "selector", inEach) }},
		{"attr", false, func(k, v *yaml.Node) { a.Field.Attr = d.str(v, path, p, "attr") }},
		{"regex", false, func(k, v *yaml.Node) { a.Field.Regex = d.regex(v, path, p, "regex") }},
		{"rows", false, func(k, v *yaml.Node) { a.Rows = d.str(v, path, p, "rows") }},
		{"fields", false, func(k, v *yaml.Node) {
			a.Fields = map[string]*FieldSpec{}
			d.pairs(v, path, p+"fields: ", func(fk, fv *yaml.Node) {
				if !validName(fk.Value) {
					d.errAt(fk, path, "%sfields: name %q: use letters, digits, - and _", p, fk.Value)
					return
				}
				a.Fields[fk.Value] = d.fieldSpec(fv, path, p+"fields: "+fk.Value+": ")
				a.order = append(a.order, fk.Value)
			})
		}},
	}) {
		return a
	}
	line := d.node(n, path)
	single := a.Sel.raw != "" || a.Field.Attr != "" || a.Field.Regex != nil
	switch {
	case a.Rows != "":
		if len(a.Fields) == 0 {
			d.errAt(line, path, "%srows needs fields", p)
		}
		if single {
			d.errAt(line, path, "%sselector, attr and regex go inside fields when rows is set", p)
		}
		if a.Into == "" {
			d.errAt(line, path, "%smissing required key \"into\" (the variable that gets the rows)", p)
		}
		d.intos[a.Into] = true
	case a.Fields != nil:
		if single {
			d.errAt(line, path, "%suse either selector (one value) or fields (several values)", p)
		}
		if a.Into != "" {
			d.errAt(line, path, "%sinto is for one value or rows: with fields, each field is its own variable", p)
		}
		for _, name := range a.order {
			d.intos[name] = true
		}
	default:
		if a.Sel.raw == "" {
			d.errAt(line, path, "%smissing required key \"selector\" (or fields, or rows and fields)", p)
		}
		if a.Into == "" {
			d.errAt(line, path, "%smissing required key \"into\"", p)
		}
		d.intos[a.Into] = true
	}
	return a
}

// totpStep types an RFC 6238 code computed from a keyring seed.
type totpStep struct {
	Selector sel
	Secret   string // a role of the secrets section
}

func decodeTOTP(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &totpStep{}
	d.mapping(n, path, "totp: ", []field{
		{"selector", true, func(k, v *yaml.Node) { a.Selector = d.sel(v, path, "totp: ", "selector", inEach) }},
		{"secret", true, func(k, v *yaml.Node) {
			a.Secret = d.str(v, path, "totp: ", "secret")
			d.totps = append(d.totps, &totpRef{role: a.Secret, path: path, line: d.node(v, path).Line})
		}},
	})
	return a
}

// screenshotStep attaches a screenshot (and the DOM) to the recording.
type screenshotStep struct {
	Name     string
	FullPage bool
}

func decodeScreenshot(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &screenshotStep{}
	if r := d.node(n, path); r != nil && r.Kind == yaml.ScalarNode {
		a.Name, _ = d.scalar(n, path, "screenshot: ", "name")
		return a
	}
	d.mapping(n, path, "screenshot: ", []field{
		{"name", false, func(k, v *yaml.Node) { a.Name, _ = d.scalar(v, path, "screenshot: ", "name") }},
		{"full_page", false, func(k, v *yaml.Node) { a.FullPage = d.boolean(v, path, "screenshot: ", "full_page") }},
	})
	return a
}

// expectStep waits for the first of named alternatives to appear.
type expectStep struct {
	Alternatives []*Alternative
}

func decodeExpect(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &expectStep{}
	d.pairs(n, path, "expect: ", func(k, v *yaml.Node) {
		if alt := d.alternative(k, v, path+".expect."+k.Value, "expect: ", false, inEach); alt != nil {
			a.Alternatives = append(a.Alternatives, alt)
		}
	})
	if r := d.node(n, path); r != nil && r.Kind == yaml.MappingNode && len(r.Content) == 0 {
		d.errAt(r, path, "expect: needs at least one alternative")
	}
	return a
}

// callStep runs a named flow of the flows section.
type callStep struct {
	Flow string
	flow *Flow
}

func decodeCall(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &callStep{}
	a.Flow = d.str(n, path, "call: ", "flow")
	if a.Flow != "" {
		d.calls = append(d.calls, &callRef{name: a.Flow, path: path, line: d.node(n, path).Line})
	}
	return a
}

// eachStep repeats steps for each service line, attachment or diagnosis.
type eachStep struct {
	Over  string
	Steps []*Step
}

var eachOver = []string{"service_lines", "attachments", "diagnoses"}

func decodeEach(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &eachStep{}
	if inEach {
		d.errAt(d.node(n, path), path, "each: cannot be nested in another each")
		return a
	}
	d.mapping(n, path, "each: ", []field{
		{"over", true, func(k, v *yaml.Node) {
			a.Over = d.str(v, path, "each: ", "over")
			if a.Over != "" && !slices.Contains(eachOver, a.Over) {
				d.errAt(d.node(v, path), path, "each: over: unknown list %q%s (one of %s)", a.Over, didyoumean.Suggest(a.Over, eachOver), strings.Join(eachOver, ", "))
			}
		}},
		{"steps", true, func(k, v *yaml.Node) { a.Steps = d.steps(v, path+".each.steps", true) }},
	})
	return a
}
