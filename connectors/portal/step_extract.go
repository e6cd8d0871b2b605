package portal

import (
	"errors"
	"fmt"
	"strings"

	"github.com/authpilot/authpilot"
	"github.com/go-rod/rod"
	"gopkg.in/yaml.v3"
)

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

// jsExtract reads, for each row matched by rowsSel (or only the first),
// the text or attribute of each spec's element inside the row, in one
// round trip. A spec selector of "" or "." means the row itself. docKey
// names a fetched document (fetch mode); "" reads the page's own.
const jsExtract = `(docKey, rowsSel, specs, firstOnly) => {
	const root = docKey ? (` + jsDocs + `[docKey] || {}).doc : document;
	if (!root) return null;
	const rows = firstOnly ? [root.querySelector(rowsSel)].filter(Boolean) : Array.from(root.querySelectorAll(rowsSel));
	return rows.map(row => specs.map(s => {
		const el = (s.sel === '' || s.sel === '.') ? row : row.querySelector(s.sel);
		if (!el) return null;
		if (s.attr) return el.getAttribute(s.attr);
		const t = el.innerText;
		return (t === undefined || t === '') ? (el.textContent || '') : t;
	}));
}`

type namedSpec struct {
	name string
	spec *FieldSpec
}

type jsSpec struct {
	Sel  string `json:"sel"`
	Attr string `json:"attr"`
}

// fieldError is a field that could not be read; it names the field, never
// the page text (which may be PHI).
type fieldError struct {
	field, reason string
}

func (e *fieldError) Error() string { return fmt.Sprintf("field %q: %s", e.field, e.reason) }

// readRows extracts specs from every row (or the first) of rowsSel, in
// the page's document or (docKey set) in a fetched one.
func readRows(p *rod.Page, docKey, rowsSel string, specs []namedSpec, firstOnly bool) ([]map[string]string, error) {
	js := make([]jsSpec, len(specs))
	for i, s := range specs {
		js[i] = jsSpec{Sel: s.spec.Selector, Attr: s.spec.Attr}
	}
	res, err := p.Eval(jsExtract, docKey, rowsSel, js, firstOnly)
	if err != nil {
		return nil, err
	}
	var got *[][]*string
	if err := res.Value.Unmarshal(&got); err != nil {
		return nil, fmt.Errorf("decode extracted values: %w", err)
	}
	if got == nil {
		return nil, errors.New("the fetched page is gone")
	}
	raw := *got
	out := make([]map[string]string, 0, len(raw))
	for _, row := range raw {
		rec := make(map[string]string, len(specs))
		for i, s := range specs {
			var v *string
			if i < len(row) {
				v = row[i]
			}
			val, err := fieldValue(s, v)
			if err != nil {
				return nil, err
			}
			rec[s.name] = val
		}
		out = append(out, rec)
	}
	return out, nil
}

// fieldValue normalizes whitespace and applies the spec's regex: the
// first capture group, or the whole match.
func fieldValue(s namedSpec, v *string) (string, error) {
	if v == nil {
		if s.spec.Optional {
			return "", nil
		}
		what := "element " + quote(s.spec.Selector) + " not found"
		if s.spec.Attr != "" {
			what = "element " + quote(s.spec.Selector) + " or its attribute " + quote(s.spec.Attr) + " not found"
		}
		return "", &fieldError{field: s.name, reason: what}
	}
	text := normSpace(*v)
	if s.spec.Regex == nil {
		return text, nil
	}
	m := s.spec.Regex.FindStringSubmatch(text)
	if m == nil {
		if s.spec.Optional {
			return "", nil
		}
		return "", &fieldError{field: s.name, reason: "text does not match regex " + quote(s.spec.Regex.String())}
	}
	if i := s.spec.Regex.SubexpIndex("value"); i > 0 {
		return strings.TrimSpace(m[i]), nil
	}
	if len(m) > 1 {
		return strings.TrimSpace(m[1]), nil
	}
	return strings.TrimSpace(m[0]), nil
}

func normSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

func (a *extractStep) run(x *exec) error {
	switch {
	case a.Rows != "":
		return a.runRows(x)
	case a.Fields != nil:
		return a.runRecord(x)
	}
	sel, err := x.sel(a.Sel)
	if err != nil {
		return err
	}
	if err := x.waitPresent(quote(a.Sel.raw), sel); err != nil {
		if x.st.Optional {
			// A skipped optional extract still defines its variable.
			x.r.data.Vars[a.Into] = ""
		}
		return err
	}
	self := a.Field
	self.Selector = "."
	rows, err := readRows(x.page, x.r.doc, sel, []namedSpec{{name: a.Into, spec: &self}}, true)
	if err != nil {
		return x.extractErr(err)
	}
	if len(rows) == 0 {
		return x.fail(authpilot.ErrPortalChanged, quote(a.Sel.raw)+" disappeared", errMissing)
	}
	x.r.data.Vars[a.Into] = rows[0][a.Into]
	return nil
}

// waitPresent waits for sel to exist; an optional extract reads what the
// page shows now, without waiting.
func (x *exec) waitPresent(what, sel string) error {
	if x.r.doc != "" {
		ok, err := x.docExists(sel)
		if err != nil {
			return err
		}
		if !ok {
			return x.notOnFetched(what)
		}
		return nil
	}
	if x.st.Optional {
		if _, err := x.page.Sleeper(rod.NotFoundSleeper).Element(sel); err != nil {
			if errors.Is(err, &rod.ElementNotFoundError{}) {
				return x.fail(authpilot.ErrPortalChanged, what+" is not on the page", errMissing)
			}
			return x.actErr("extract", err)
		}
		return nil
	}
	_, err := x.waitMatch(what, exists(sel))
	return err
}

func (a *extractStep) runRows(x *exec) error {
	if err := x.waitPresent(quote(a.Rows), a.Rows); err != nil {
		if x.st.Optional {
			x.r.data.Vars[a.Into] = []map[string]string{}
		}
		return err
	}
	specs := make([]namedSpec, len(a.order))
	for i, name := range a.order {
		specs[i] = namedSpec{name: name, spec: a.Fields[name]}
	}
	rows, err := readRows(x.page, x.r.doc, a.Rows, specs, false)
	if err != nil {
		return x.extractErr(err)
	}
	x.r.data.Vars[a.Into] = rows
	return nil
}

// runRecord reads several fields of the page at once, each into its own
// variable. It waits for the first required field; optional fields that
// are not on the page become empty.
func (a *extractStep) runRecord(x *exec) error {
	specs := make([]namedSpec, len(a.order))
	first := ""
	for i, name := range a.order {
		specs[i] = namedSpec{name: name, spec: a.Fields[name]}
		if first == "" && !a.Fields[name].Optional {
			first = a.Fields[name].Selector
		}
	}
	if first != "" && first != "." {
		if err := x.waitPresent(quote(first), first); err != nil {
			return err
		}
	}
	rows, err := readRows(x.page, x.r.doc, ":root", specs, true)
	if err != nil {
		return x.extractErr(err)
	}
	if len(rows) == 0 {
		return x.fail(authpilot.ErrPortalChanged, "the page has no document", nil)
	}
	for k, v := range rows[0] {
		x.r.data.Vars[k] = v
	}
	return nil
}

func (x *exec) extractErr(err error) error {
	if fe, ok := err.(*fieldError); ok {
		return x.fail(authpilot.ErrPortalChanged, fe.Error(), nil)
	}
	return x.actErr("extract", err)
}

func (a *extractStep) fetch(x *exec) error {
	// The extract forms read through readRows, which takes the document's
	// key from the runner; only the wait differs (see waitPresent).
	return a.run(x)
}
