package portal

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/internal/didyoumean"
	"github.com/authpilot/authpilot/internal/yamlx"
)

// decoder decodes a portal connector's options through the shared strict
// decoder (internal/yamlx): every unknown key, wrong type and duplicate
// gets its line and path, and decoding goes on to report as many as it
// can. The helpers below add the portal's messages ("fill: selector: …").
type decoder struct {
	*yamlx.Decoder
	errs connectors.FieldErrors
	// templates are every parsed template, checked once the whole config
	// is known (secrets, extracted variable names).
	templates []*tmplRef
	// intos are the variable names extract steps and lists produce.
	intos map[string]bool
	// calls are call steps, checked against Flows at the end.
	calls []*callRef
	// totps are totp steps, checked against Secrets at the end.
	totps []*totpRef
	// warnings are findings that do not stop the daemon.
	warnings connectors.FieldErrors
}

func newDecoder() *decoder {
	d := &decoder{intos: map[string]bool{}}
	d.Decoder = yamlx.New(func(line int, path, msg string) {
		d.errs = append(d.errs, &connectors.FieldError{Line: line, Path: path, Msg: msg})
	})
	return d
}

type tmplRef struct {
	t      *tmpl
	line   int
	path   string
	prefix string
	inEach bool
}

type callRef struct {
	name, path string
	line       int
}

type totpRef struct {
	role, path string
	line       int
}

func (d *decoder) errAt(n *yaml.Node, path, format string, args ...any) {
	d.Errorf(n, path, format, args...)
}

// node resolves aliases and counts the visit. It returns nil (after an
// error) for a recursive alias or when the work budget is spent.
func (d *decoder) node(n *yaml.Node, path string) *yaml.Node {
	return d.Resolve(n, path)
}

// field is one known key of a mapping.
type field struct {
	name     string
	required bool
	fn       func(key, val *yaml.Node)
}

// mapping walks a mapping of known keys (yamlx.Decoder.Fields). prefix
// starts every message (a step kind such as "fill: ", or "").
func (d *decoder) mapping(n *yaml.Node, path, prefix string, fields []field) bool {
	fs := make([]yamlx.Field, len(fields))
	for i, f := range fields {
		fs[i] = yamlx.Field{Name: f.name, Required: f.required, Fn: f.fn}
	}
	return d.Fields(n, path, prefix, fs)
}

// pairs walks a mapping whose keys are free-form names (status_map,
// fields, expect alternatives), in document order.
func (d *decoder) pairs(n *yaml.Node, path, prefix string, fn func(key, val *yaml.Node)) bool {
	return d.Pairs(n, path, prefix, fn)
}

// sequence walks a list node.
func (d *decoder) sequence(n *yaml.Node, path, prefix string, fn func(i int, item *yaml.Node)) bool {
	return d.Items(n, path, prefix, fn)
}

// scalar returns a scalar's text.
func (d *decoder) scalar(n *yaml.Node, path, prefix, name string) (string, bool) {
	n = d.node(n, path)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.errAt(n, path, "%s%s: expected a string, got %s", prefix, name, d.Describe(n))
		return "", false
	}
	if yamlx.IsNull(n) {
		return "", true
	}
	return n.Value, true
}

// str returns a non-empty string.
func (d *decoder) str(n *yaml.Node, path, prefix, name string) string {
	s, ok := d.scalar(n, path, prefix, name)
	if ok && strings.TrimSpace(s) == "" {
		d.errAt(n, path, "%s%s: must not be empty", prefix, name)
	}
	return s
}

func (d *decoder) boolean(n *yaml.Node, path, prefix, name string) bool {
	n = d.node(n, path)
	if n == nil {
		return false
	}
	b, ok := yamlx.Bool(n)
	if !ok {
		d.errAt(n, path, "%s%s: expected true or false, got %s", prefix, name, d.Describe(n))
	}
	return b
}

func (d *decoder) integer(n *yaml.Node, path, prefix, name string, min, max int) int {
	n = d.node(n, path)
	if n == nil {
		return 0
	}
	v, ok := yamlx.Int(n)
	if !ok {
		d.errAt(n, path, "%s%s: expected a whole number, got %s", prefix, name, d.Describe(n))
		return 0
	}
	if v < int64(min) || v > int64(max) {
		d.errAt(n, path, "%s%s: must be between %d and %d, got %d", prefix, name, min, max, v)
		return 0
	}
	return int(v)
}

func (d *decoder) duration(n *yaml.Node, path, prefix, name string) time.Duration {
	s, ok := d.scalar(n, path, prefix, name)
	if !ok {
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		d.errAt(n, path, "%s%s: expected a positive duration such as 20s or 3m, got %q", prefix, name, s)
		return 0
	}
	return v
}

func (d *decoder) regex(n *yaml.Node, path, prefix, name string) *regexp.Regexp {
	s := d.str(n, path, prefix, name)
	if s == "" {
		return nil
	}
	re, err := regexp.Compile(s)
	if err != nil {
		d.errAt(n, path, "%s%s: invalid regular expression: %v", prefix, name, unwrapRegexErr(err))
		return nil
	}
	return re
}

func unwrapRegexErr(err error) string {
	s := err.Error()
	return strings.TrimPrefix(s, "error parsing regexp: ")
}

// template parses a text/template value. inEach says whether .Line and
// .Item are available.
func (d *decoder) template(n *yaml.Node, path, prefix, name string, inEach bool) *tmpl {
	s, ok := d.scalar(n, path, prefix, name)
	if !ok {
		return nil
	}
	t, err := template.New(name).Option("missingkey=error").Funcs(templateFuncs(nil)).Parse(s)
	if err != nil {
		d.errAt(n, path, "%s%s: invalid template: %s", prefix, name, templateErrMsg(err))
		return nil
	}
	tp := &tmpl{src: s, t: t}
	line := 0
	if n != nil {
		line = d.node(n, path).Line
	}
	d.templates = append(d.templates, &tmplRef{t: tp, line: line, path: path, prefix: prefix + name + ": ", inEach: inEach})
	return tp
}

// templateErrMsg drops text/template's "template: name:1:" prefix.
func templateErrMsg(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "template: ")
	if i := strings.Index(s, ": "); i >= 0 && strings.Contains(s[:i], ":") {
		s = "at " + s[strings.Index(s, ":")+1:]
	}
	return s
}

// Decode strictly decodes and validates a portal connector's options. It
// does no I/O. Errors are connectors.FieldErrors naming lines and paths.
var Decode = connectors.OptionsDecoder(decodeOptions)

func decodeOptions(node *yaml.Node) (*Options, error) {
	d := newDecoder()
	o := &Options{
		Secrets: map[string]string{},
		Flows:   map[string]*Flow{},
		Limits: Limits{Pages: DefaultPages, StepTimeout: DefaultStepTimeout, FlowTimeout: DefaultFlowTimeout,
			HandOffTimeout: DefaultHandOffTimeout},
	}
	if node == nil || yamlx.IsNull(d.node(node, "")) {
		return nil, connectors.FieldErrors{{Line: lineOf(node), Msg: "portal options are missing (base_url, login, ...)"}}
	}
	d.mapping(node, "", "", []field{
		{"base_url", true, func(k, v *yaml.Node) {
			s := d.str(v, "base_url", "", "base_url")
			if s == "" {
				return
			}
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.errAt(v, "base_url", "expected an absolute http or https URL, got %q", s)
				return
			}
			o.BaseURL = u
		}},
		{"secrets", false, func(k, v *yaml.Node) {
			d.pairs(v, "secrets", "", func(rk, rv *yaml.Node) {
				name := d.str(rv, "secrets."+rk.Value, "", "keyring item")
				o.Secrets[rk.Value] = name
			})
		}},
		{"timezone", false, func(k, v *yaml.Node) {
			name := d.str(v, "", "", "timezone")
			if strings.TrimSpace(name) == "" {
				return
			}
			loc, err := time.LoadLocation(name)
			if err != nil || name == "Local" {
				d.errAt(v, "timezone", "unknown time zone %q (use an IANA name such as America/New_York)", name)
				return
			}
			o.Timezone = loc
		}},
		{"limits", false, func(k, v *yaml.Node) { d.limits(v, &o.Limits) }},
		{"session", false, func(k, v *yaml.Node) {
			d.mapping(v, "session", "", []field{
				{"keep_cookies", false, func(k, v *yaml.Node) {
					o.Session.KeepCookies = d.boolean(v, "session", "", "keep_cookies")
				}},
			})
		}},
		{"hand_off", false, func(k, v *yaml.Node) {
			d.mapping(v, "hand_off", "", []field{
				{"unexpected_page", false, func(k, v *yaml.Node) {
					o.HandOff.UnexpectedPage = d.boolean(v, "hand_off", "", "unexpected_page")
				}},
			})
		}},
		{"status_map", false, func(k, v *yaml.Node) { o.StatusMap = d.statusMap(v) }},
		{"identity", false, func(k, v *yaml.Node) { o.Identity = d.identity(v) }},
		{"interrupts", false, func(k, v *yaml.Node) {
			d.pairs(v, "interrupts", "", func(ak, av *yaml.Node) {
				if a := d.alternative(ak, av, "interrupts."+ak.Value, "", true, false); a != nil {
					o.Interrupts = append(o.Interrupts, a)
				}
			})
		}},
		{"flows", false, func(k, v *yaml.Node) {
			d.pairs(v, "flows", "", func(fk, fv *yaml.Node) {
				if !validName(fk.Value) {
					d.errAt(fk, "flows", "flow name %q: use letters, digits, - and _", fk.Value)
					return
				}
				o.Flows[fk.Value] = d.flow(fv, "flows."+fk.Value)
			})
		}},
		{"login", false, func(k, v *yaml.Node) { o.Login = d.flow(v, "login") }},
		{"submit", false, func(k, v *yaml.Node) { o.Submit = d.submit(v, "submit") }},
		{"respond", false, func(k, v *yaml.Node) { o.Respond = d.submit(v, "respond") }},
		{"withdraw", false, func(k, v *yaml.Node) { o.Withdraw = d.submit(v, "withdraw") }},
		{"poll", false, func(k, v *yaml.Node) { o.Poll = d.poll(v) }},
		{"download", false, func(k, v *yaml.Node) { o.Download = d.download(v) }},
		{"find", false, func(k, v *yaml.Node) { o.Find = d.flow(v, "find") }},
	})
	d.validate(node, o)
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
		return nil, d.errs
	}
	d.handOffWait(o)
	o.warnings = d.warnings
	return o, nil
}

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

func validName(s string) bool { return nameRE.MatchString(s) }

func (d *decoder) limits(n *yaml.Node, l *Limits) {
	d.mapping(n, "limits", "", []field{
		{"pages", false, func(k, v *yaml.Node) { l.Pages = d.integer(v, "limits", "", "pages", 1, 16) }},
		{"step_timeout", false, func(k, v *yaml.Node) { l.StepTimeout = d.duration(v, "limits", "", "step_timeout") }},
		{"flow_timeout", false, func(k, v *yaml.Node) { l.FlowTimeout = d.duration(v, "limits", "", "flow_timeout") }},
		{"hand_off_timeout", false, func(k, v *yaml.Node) {
			l.HandOffTimeout = d.duration(v, "limits", "", "hand_off_timeout")
		}},
	})
}

// payerStatuses are the statuses a portal can report.
var payerStatuses = []authpilot.Status{
	authpilot.StatusSubmitted, authpilot.StatusPended, authpilot.StatusApproved,
	authpilot.StatusPartiallyApproved, authpilot.StatusModified, authpilot.StatusDenied,
	authpilot.StatusNotRequired, authpilot.StatusContactPayer, authpilot.StatusCancelled,
	authpilot.StatusExpired, authpilot.StatusWithdrawn,
}

func parsePayerStatus(s string) (authpilot.Status, bool) {
	for _, st := range payerStatuses {
		if string(st) == s {
			return st, true
		}
	}
	return "", false
}

func statusNames(list []authpilot.Status) string {
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func (d *decoder) statusMap(n *yaml.Node) []StatusRule {
	var rules []StatusRule
	d.pairs(n, "status_map", "", func(k, v *yaml.Node) {
		path := fmt.Sprintf("status_map[%q]", k.Value)
		re, err := regexp.Compile(k.Value)
		if err != nil {
			d.errAt(k, path, "invalid regular expression: %v", unwrapRegexErr(err))
			return
		}
		s, ok := d.scalar(v, path, "", "status")
		if !ok {
			return
		}
		st, ok := parsePayerStatus(s)
		if !ok {
			sugg := didyoumean.Suggest(s, strings.Split(statusNames(payerStatuses), ", "))
			d.errAt(v, path, "unknown status %q%s (one of %s)", s, sugg, statusNames(payerStatuses))
			return
		}
		rules = append(rules, StatusRule{Pattern: re, Status: st, Line: k.Line})
	})
	return rules
}

// identity decodes the list of identity field names.
func (d *decoder) identity(n *yaml.Node) []string {
	var out []string
	seen := map[string]bool{}
	ok := d.sequence(n, "identity", "", func(i int, item *yaml.Node) {
		path := fmt.Sprintf("identity[%d]", i)
		s, ok := d.scalar(item, path, "", "field")
		if !ok {
			return
		}
		s = strings.TrimSpace(s)
		switch {
		case !slices.Contains(authpilot.IdentityFields, s):
			d.errAt(item, path, "unknown identity field %q%s (one of %s)", s, didyoumean.Suggest(s, authpilot.IdentityFields), strings.Join(authpilot.IdentityFields, ", "))
		case seen[s]:
			d.errAt(item, path, "%q is listed twice", s)
		default:
			seen[s] = true
			out = append(out, s)
		}
	})
	if ok && len(out) == 0 && len(d.errs) == 0 {
		d.errAt(n, "identity", "list at least one field the portal shows (%s)", strings.Join(authpilot.IdentityFields, ", "))
	}
	return out
}

// flow decodes {steps: [...]} or a bare list of steps.
func (d *decoder) flow(n *yaml.Node, path string) *Flow {
	f := &Flow{Path: path}
	r := d.node(n, path)
	if r == nil {
		return f
	}
	if r.Kind == yaml.SequenceNode {
		f.Steps = d.steps(n, path+".steps", false)
		return f
	}
	d.mapping(n, path, "", []field{
		{"steps", true, func(k, v *yaml.Node) { f.Steps = d.steps(v, path+".steps", false) }},
	})
	return f
}

// submit decodes a flow shaped like submit (steps, final, result): the
// submit, respond and withdraw flows.
func (d *decoder) submit(n *yaml.Node, path string) *SubmitFlow {
	f := &SubmitFlow{Flow: Flow{Path: path}}
	d.mapping(n, path, "", []field{
		{"steps", false, func(k, v *yaml.Node) { f.Steps = d.steps(v, path+".steps", false) }},
		{"final", true, func(k, v *yaml.Node) { f.Final = d.stepOrSteps(v, path+".final") }},
		{"result", false, func(k, v *yaml.Node) { f.Result = d.steps(v, path+".result", false) }},
	})
	return f
}

// stepOrSteps accepts one step mapping or a list of steps.
func (d *decoder) stepOrSteps(n *yaml.Node, path string) []*Step {
	r := d.node(n, path)
	if r == nil {
		return nil
	}
	if r.Kind == yaml.MappingNode {
		if st := d.step(n, path, false); st != nil {
			return []*Step{st}
		}
		return nil
	}
	return d.steps(n, path, false)
}

func (d *decoder) poll(n *yaml.Node) *PollFlow {
	p := &PollFlow{}
	ok := d.mapping(n, "poll", "", []field{
		{"list", false, func(k, v *yaml.Node) { p.List = d.list(v) }},
		{"detail", false, func(k, v *yaml.Node) { p.Detail = d.flow(v, "poll.detail") }},
		{"lookup", false, func(k, v *yaml.Node) { p.Lookup = d.flow(v, "poll.lookup") }},
		{"fetch", false, func(k, v *yaml.Node) { p.Fetch = d.boolean(v, "poll", "", "fetch") }},
	})
	if ok && p.List == nil && p.Detail == nil && p.Lookup == nil {
		d.errAt(d.node(n, "poll"), "poll", "needs a list, a detail or a lookup flow")
	}
	if ok && p.Lookup != nil && (p.List != nil || p.Detail != nil) {
		d.errAt(d.node(n, "poll"), "poll", "lookup is for portals without a list: use either list and detail, or lookup")
	}
	return p
}

func (d *decoder) list(n *yaml.Node) *ListSpec {
	const path = "poll.list"
	l := &ListSpec{Path: path, Fields: map[string]*FieldSpec{}, MaxPages: DefaultMaxListPages}
	if r := d.node(n, path); r != nil {
		l.Line = r.Line
	}
	ok := d.mapping(n, path, "", []field{
		{"goto", false, func(k, v *yaml.Node) { l.Goto = d.template(v, path, "", "goto", false) }},
		{"steps", false, func(k, v *yaml.Node) { l.Steps = d.steps(v, path+".steps", false) }},
		{"rows", true, func(k, v *yaml.Node) { l.Rows = d.str(v, path, "", "rows") }},
		{"key", true, func(k, v *yaml.Node) { l.Key = d.fieldSpec(v, path+".key", "") }},
		{"fields", false, func(k, v *yaml.Node) {
			d.pairs(v, path+".fields", "", func(fk, fv *yaml.Node) {
				if !validName(fk.Value) {
					d.errAt(fk, path+".fields", "field name %q: use letters, digits, - and _", fk.Value)
					return
				}
				l.Fields[fk.Value] = d.fieldSpec(fv, path+".fields."+fk.Value, "")
				d.intos[fk.Value] = true
			})
		}},
		{"next", false, func(k, v *yaml.Node) { l.Next = d.str(v, path, "", "next") }},
		{"empty", false, func(k, v *yaml.Node) { l.Empty = d.str(v, path, "", "empty") }},
		{"max_pages", false, func(k, v *yaml.Node) { l.MaxPages = d.integer(v, path, "", "max_pages", 1, 10_000) }},
		{"page_url", false, func(k, v *yaml.Node) { l.PageURL = d.template(v, path, "", "page_url", false) }},
		{"page_count", false, func(k, v *yaml.Node) { l.PageCount = d.fieldSpec(v, path+".page_count", "") }},
	})
	if ok && (l.PageURL == nil) != (l.PageCount == nil) {
		d.errAt(d.node(n, path), path, "page_url and page_count go together: page_url opens page {{.Page}}, page_count reads how many pages the first page says there are")
	}
	if ok && l.Goto == nil && len(l.Steps) == 0 {
		d.errAt(d.node(n, path), path, "needs goto or steps to open the list page")
	}
	d.intos["payer_ref"] = true
	line := lineOf(d.node(n, path))
	if l.Goto != nil {
		l.gotoStep = &Step{Kind: "goto", Path: path + ".goto", Line: line, action: &gotoStep{URL: l.Goto}}
	}
	l.rowsStep = &Step{Kind: "wait_for", Path: path + ".rows", Line: line, action: &listRowsStep{Rows: l.Rows, Empty: l.Empty}}
	if l.Next != "" {
		l.nextStep = &Step{Kind: "click", Path: path + ".next", Line: line, action: &clickStep{Selector: sel{raw: l.Next}, Navigate: true}}
	}
	if l.PageURL != nil {
		l.pageStep = &Step{Kind: "goto", Path: path + ".page_url", Line: line, action: &gotoStep{URL: l.PageURL}}
	}
	return l
}

func (d *decoder) download(n *yaml.Node) *DownloadFlow {
	f := &DownloadFlow{Flow: Flow{Path: "download"}}
	r := d.node(n, "download")
	if r != nil && r.Kind == yaml.SequenceNode {
		f.Steps = d.steps(n, "download.steps", false)
		return f
	}
	d.mapping(n, "download", "", []field{
		{"steps", true, func(k, v *yaml.Node) { f.Steps = d.steps(v, "download.steps", false) }},
		{"when", false, func(k, v *yaml.Node) {
			d.sequence(v, "download.when", "", func(i int, item *yaml.Node) {
				s, ok := d.scalar(item, "download.when", "", "status")
				if !ok {
					return
				}
				st, ok := parsePayerStatus(s)
				if !ok {
					d.errAt(d.node(item, "download.when"), fmt.Sprintf("download.when[%d]", i), "unknown status %q (one of %s)", s, statusNames(payerStatuses))
					return
				}
				f.When = append(f.When, st)
			})
		}},
	})
	return f
}

// fieldSpec decodes a selector string or {selector, attr, regex, optional}.
func (d *decoder) fieldSpec(n *yaml.Node, path, prefix string) *FieldSpec {
	fs := &FieldSpec{}
	r := d.node(n, path)
	if r == nil {
		return fs
	}
	if r.Kind == yaml.ScalarNode {
		fs.Selector = d.str(n, path, prefix, "selector")
		return fs
	}
	d.mapping(n, path, prefix, []field{
		{"selector", true, func(k, v *yaml.Node) { fs.Selector = d.str(v, path, prefix, "selector") }},
		{"attr", false, func(k, v *yaml.Node) { fs.Attr = d.str(v, path, prefix, "attr") }},
		{"regex", false, func(k, v *yaml.Node) { fs.Regex = d.regex(v, path, prefix, "regex") }},
		{"optional", false, func(k, v *yaml.Node) { fs.Optional = d.boolean(v, path, prefix, "optional") }},
	})
	return fs
}

// alternative decodes one expect alternative or interrupt.
func (d *decoder) alternative(k, n *yaml.Node, path, prefix string, interrupt, inEach bool) *Alternative {
	a := &Alternative{Name: k.Value, Line: k.Line, Path: path}
	var outcomes []string
	fields := []field{
		{"selector", false, func(_, v *yaml.Node) { a.Selector = d.str(v, path, prefix, "selector") }},
		{"text", false, func(_, v *yaml.Node) { a.Text = d.regex(v, path, prefix, "text") }},
		{"url", false, func(_, v *yaml.Node) { a.URL = d.regex(v, path, prefix, "url") }},
		{"fail", false, func(_, v *yaml.Node) {
			outcomes = append(outcomes, "fail")
			s, ok := d.scalar(v, path, prefix, "fail")
			if !ok {
				return
			}
			c, ok := authpilot.ErrorClassNamed(s)
			if !ok {
				names := authpilot.ErrorClassNames()
				d.errAt(d.node(v, path), path, "%sunknown fail class %q%s (one of %s)", prefix, s, didyoumean.Suggest(s, names), strings.Join(names, ", "))
				return
			}
			a.Fail = c
		}},
		{"message", false, func(_, v *yaml.Node) { a.Message, _ = d.scalar(v, path, prefix, "message") }},
		{"hand_off", false, func(_, v *yaml.Node) { a.HandOff = d.handOffKind(v, path, prefix) }},
	}
	if interrupt {
		fields = append(fields, field{"relogin", false, func(_, v *yaml.Node) {
			a.Relogin = d.boolean(v, path, prefix, "relogin")
			if a.Relogin {
				outcomes = append(outcomes, "relogin")
			}
		}})
	} else {
		fields = append(fields,
			field{"then", false, func(_, v *yaml.Node) {
				outcomes = append(outcomes, "then")
				a.Then = d.steps(v, path+".then", inEach)
			}},
			field{"done", false, func(_, v *yaml.Node) {
				a.Done = d.boolean(v, path, prefix, "done")
				if a.Done {
					outcomes = append(outcomes, "done")
				}
			}})
	}
	if !d.mapping(n, path, prefix, fields) {
		return nil
	}
	line := d.node(n, path)
	if a.Selector == "" && a.Text == nil && a.URL == nil {
		d.errAt(line, path, "%sneeds at least one of selector, text or url", prefix)
		return nil
	}
	if len(outcomes) > 1 {
		d.errAt(line, path, "%s%s and %s cannot be combined", prefix, outcomes[0], outcomes[1])
		return nil
	}
	if interrupt && len(outcomes) == 0 {
		d.errAt(line, path, "%san interrupt needs fail or relogin: true", prefix)
		return nil
	}
	if a.HandOff != "" && a.Fail == nil {
		d.errAt(line, path, "%shand_off needs fail: the outcome when nobody takes the page in time", prefix)
		return nil
	}
	return a
}

// handOffKinds are the values of an alternative's hand_off.
var handOffKinds = []string{string(connectors.HandOffCaptcha), string(connectors.HandOffUnexpectedPage)}

func (d *decoder) handOffKind(v *yaml.Node, path, prefix string) connectors.HandOffKind {
	s, ok := d.scalar(v, path, prefix, "hand_off")
	if !ok {
		return ""
	}
	if !slices.Contains(handOffKinds, s) {
		d.errAt(d.node(v, path), path, "%sunknown hand_off %q%s (one of %s)", prefix, s, didyoumean.Suggest(s, handOffKinds), strings.Join(handOffKinds, ", "))
		return ""
	}
	return connectors.HandOffKind(s)
}

func init() {
	connectors.Register(connectors.Kind{
		Name:    "portal",
		Decode:  Decode,
		Section: section,
	})
}
