package portal

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/internal/didyoumean"
)

// validate checks what needs the whole configuration: template references,
// secrets, called flows, and that each flow extracts what its results need.
func (d *decoder) validate(root *yaml.Node, o *Options) {
	top := d.node(root, "")
	// With structural errors some extract steps were not decoded: skip the
	// .Vars check then, it would report names that are in fact extracted.
	var vars map[string]bool
	if len(d.errs) == 0 {
		vars = map[string]bool{}
		for k := range d.intos {
			vars[k] = true
		}
	}
	for _, ref := range d.templates {
		c := &templateChecker{secrets: o.Secrets, vars: vars, inEach: ref.inEach}
		for _, msg := range c.check(ref.t) {
			d.errs = append(d.errs, fieldErr(ref.line, ref.path, ref.prefix+msg))
		}
	}
	for _, ref := range d.totps {
		if _, ok := o.Secrets[ref.role]; !ok {
			d.errs = append(d.errs, fieldErr(ref.line, ref.path, "totp: secret: "+quote(ref.role)+" is not in the secrets section"+didyoumean.Suggest(ref.role, keys(o.Secrets))))
		}
	}
	for _, ref := range d.calls {
		if _, ok := o.Flows[ref.name]; !ok {
			d.errs = append(d.errs, fieldErr(ref.line, ref.path, "call: unknown flow "+quote(ref.name)+didyoumean.Suggest(ref.name, keys(o.Flows))))
		}
	}
	if len(d.errs) > 0 {
		return
	}
	// Bind call steps and refuse recursion.
	all := o.allFlows()
	for _, f := range all {
		walkSteps(f.Steps, func(st *Step) {
			if c, ok := st.action.(*callStep); ok {
				c.flow = o.Flows[c.Flow]
			}
		})
	}
	for _, name := range keys(o.Flows) {
		f := o.Flows[name]
		if cyc := callCycle(o, name, f, nil); cyc != "" {
			d.errs = append(d.errs, fieldErr(lineOfFlow(f), f.Path, "call cycle: "+cyc))
			return
		}
	}

	if o.Submit != nil {
		steps := append(append(append([]*Step{}, o.Submit.Steps...), o.Submit.Final...), o.Submit.Result...)
		if !extracts(o, steps, "payer_ref") {
			d.errs = append(d.errs, fieldErr(lineOfPath(top, "submit"), "submit", "no step extracts into payer_ref (the payer's reference or tracking number)"))
		}
	}
	if o.Find != nil && !extracts(o, o.Find.Steps, VarPayerRef) && !extractsRows(o, o.Find.Steps, VarRequests, VarPayerRef) {
		d.errs = append(d.errs, fieldErr(lineOfPath(top, "find"), "find", "no step extracts into payer_ref (or a requests table with a payer_ref field)"))
	}
	d.checkIdentity(top, o)
	d.checkActions(top, o)
	if o.Poll != nil {
		var steps []*Step
		for _, f := range []*Flow{o.Poll.Detail, o.Poll.Lookup} {
			if f != nil {
				steps = append(steps, f.Steps...)
			}
		}
		hasStatus := extracts(o, steps, "status")
		if o.Poll.List != nil {
			_, inList := o.Poll.List.Fields["status"]
			hasStatus = hasStatus || inList
		}
		if !hasStatus {
			d.errs = append(d.errs, fieldErr(lineOfPath(top, "poll"), "poll", "nothing extracts into status (a list field or an extract step)"))
		}
	}
	if o.Poll != nil && o.Poll.Fetch {
		d.checkFetchable(o)
	}
	if vars["status"] && len(o.StatusMap) == 0 {
		d.errs = append(d.errs, fieldErr(lineOfPath(top, "status_map"), "status_map", "status is extracted but status_map is empty: map the payer's wording to statuses"))
	}
	if o.Download != nil {
		found := false
		walkAll(o, o.Download.Steps, func(st *Step) {
			if c, ok := st.action.(*clickStep); ok && c.Download != "" {
				found = true
			}
		})
		if !found {
			d.errs = append(d.errs, fieldErr(lineOfPath(top, "download"), "download", "no click step has download: (the document kind, e.g. letter)"))
		}
	}
}

// checkIdentity requires a find flow to read what identifies the request
// it finds (the identity section, and every field it lists), the poll's
// detail or lookup flow to read the declared fields too, and warns where a
// flow reads nothing to check a payer record against its case.
func (d *decoder) checkIdentity(top *yaml.Node, o *Options) {
	line := lineOfPath(top, "identity")
	if o.Find != nil {
		switch {
		case len(o.Identity) == 0:
			d.errs = append(d.errs, fieldErr(lineOfPath(top, "find"), "find",
				"declare identity: the fields the portal shows that identify a request ("+strings.Join(authpilot.IdentityFields, ", ")+"), so a request found is checked against the case"))
		default:
			rows := extractsRows(o, o.Find.Steps, VarRequests, VarPayerRef)
			for _, f := range o.Identity {
				if !extracts(o, o.Find.Steps, f) && !extractsRows(o, o.Find.Steps, VarRequests, f) {
					d.errs = append(d.errs, fieldErr(lineOfPath(top, "find"), "find", fmt.Sprintf("identity field %q is declared but no step extracts it", f)))
				}
			}
			if !extracts(o, o.Find.Steps, VarSubmittedAt) && !(rows && extractsRows(o, o.Find.Steps, VarRequests, VarSubmittedAt)) {
				d.warnings = append(d.warnings, fieldErr(lineOfPath(top, "find"), "find",
					"nothing extracts submitted_at: a request made before the submission intent cannot be told from a new one by its date"))
			}
		}
	}
	if o.Poll == nil || (o.Poll.Detail == nil && o.Poll.Lookup == nil) {
		return
	}
	if len(o.Identity) == 0 {
		d.warnings = append(d.warnings, fieldErr(lineOfPath(top, "poll"), "poll",
			"no identity declared: detail pages are not checked against their case, and a tracked case stops with needs_human on its first poll"))
		return
	}
	var steps []*Step
	for _, f := range []*Flow{o.Poll.Detail, o.Poll.Lookup} {
		if f != nil {
			steps = append(steps, f.Steps...)
		}
	}
	for _, f := range o.Identity {
		inList := false
		if o.Poll.List != nil {
			_, inList = o.Poll.List.Fields[f]
		}
		if !extracts(o, steps, f) && !inList {
			name := "poll.detail"
			if o.Poll.Lookup != nil {
				name = "poll.lookup"
			}
			d.errs = append(d.errs, fieldErr(line, "identity", fmt.Sprintf("field %q is declared but %s extracts nothing into it", f, name)))
		}
	}
}

// checkActions requires the respond and withdraw flows to read, in their
// steps (before the final step), every declared identity field, so the
// request is checked against the case before anything is sent; and keeps
// upload files: response to the respond flow.
func (d *decoder) checkActions(top *yaml.Node, o *Options) {
	for _, f := range []*SubmitFlow{o.Respond, o.Withdraw} {
		if f == nil {
			continue
		}
		line := lineOfPath(top, f.Path)
		if len(o.Identity) == 0 {
			d.errs = append(d.errs, fieldErr(line, f.Path, "declare identity: the fields the portal shows that identify a request ("+
				strings.Join(authpilot.IdentityFields, ", ")+"), so the request is checked against the case before anything is sent"))
			continue
		}
		for _, id := range o.Identity {
			if !extracts(o, f.Steps, id) {
				d.errs = append(d.errs, fieldErr(line, f.Path+".steps", fmt.Sprintf("identity field %q is declared but no step before final extracts it: the request must be checked against the case before anything is sent", id)))
			}
		}
	}
	var others []*Step
	for _, f := range o.allFlows() {
		if !strings.HasPrefix(f.Path, "respond") && !strings.HasPrefix(f.Path, "flows.") {
			others = append(others, f.Steps...)
		}
	}
	walkAll(o, others, func(st *Step) {
		if u, ok := st.action.(*uploadStep); ok && u.Response {
			d.errs = append(d.errs, fieldErr(st.Line, st.Path, "upload: files: response is only set in the respond flow"))
		}
	})
}

// extractsRows reports whether a step extracts a table into into with a
// field named field.
func extractsRows(o *Options, steps []*Step, into, field string) bool {
	found := false
	walkAll(o, steps, func(st *Step) {
		if e, ok := st.action.(*extractStep); ok && e.Rows != "" && e.Into == into {
			if _, ok := e.Fields[field]; ok {
				found = true
			}
		}
	})
	return found
}

// checkFetchable refuses poll.fetch when a poll or download step needs a
// real tab (typing, selecting, a click that is not a link, a screenshot).
func (d *decoder) checkFetchable(o *Options) {
	var steps []*Step
	if l := o.Poll.List; l != nil {
		steps = append(steps, l.Steps...)
	}
	for _, f := range []*Flow{o.Poll.Detail, o.Poll.Lookup} {
		if f != nil {
			steps = append(steps, f.Steps...)
		}
	}
	if o.Download != nil {
		steps = append(steps, o.Download.Steps...)
	}
	seen := map[*Step]bool{}
	walkAll(o, steps, func(st *Step) {
		if seen[st] || fetchable(st) {
			return
		}
		seen[st] = true
		what := "a " + st.Kind + " step"
		if st.Kind == "click" {
			what = "a click that is not navigate: or download:"
		}
		d.errs = append(d.errs, fieldErr(st.Line, st.Path, fmt.Sprintf("poll.fetch reads pages without a browser tab and %s needs one: remove poll.fetch or this step", what)))
	})
}

func fieldErr(line int, path, msg string) *connectors.FieldError {
	return &connectors.FieldError{Line: line, Path: path, Msg: msg}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func lineOfFlow(f *Flow) int {
	if len(f.Steps) > 0 {
		return f.Steps[0].Line
	}
	return 0
}

// lineOfPath finds the line of a top-level key.
func lineOfPath(top *yaml.Node, key string) int {
	if top == nil || top.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == key {
			return top.Content[i].Line
		}
	}
	return top.Line
}

// allFlows lists every flow of the configuration.
func (o *Options) allFlows() []*Flow {
	var out []*Flow
	add := func(f *Flow) {
		if f != nil {
			out = append(out, f)
		}
	}
	add(o.Login)
	if o.Submit != nil {
		add(&o.Submit.Flow)
		add(&Flow{Path: "submit.final", Steps: o.Submit.Final})
		add(&Flow{Path: "submit.result", Steps: o.Submit.Result})
	}
	if o.Poll != nil {
		if o.Poll.List != nil {
			add(&Flow{Path: "poll.list.steps", Steps: o.Poll.List.Steps})
		}
		add(o.Poll.Detail)
		add(o.Poll.Lookup)
	}
	if o.Download != nil {
		add(&o.Download.Flow)
	}
	add(o.Find)
	for _, f := range []*SubmitFlow{o.Respond, o.Withdraw} {
		if f != nil {
			add(&f.Flow)
			add(&Flow{Path: f.Path + ".final", Steps: f.Final})
			add(&Flow{Path: f.Path + ".result", Steps: f.Result})
		}
	}
	for _, name := range keys(o.Flows) {
		add(o.Flows[name])
	}
	return out
}

// walkSteps visits steps and the steps nested in expect, each (not calls).
func walkSteps(steps []*Step, fn func(*Step)) {
	for _, st := range steps {
		fn(st)
		switch a := st.action.(type) {
		case *expectStep:
			for _, alt := range a.Alternatives {
				walkSteps(alt.Then, fn)
			}
		case *eachStep:
			walkSteps(a.Steps, fn)
		}
	}
}

// walkAll is walkSteps that also follows call steps (once per flow).
func walkAll(o *Options, steps []*Step, fn func(*Step)) {
	seen := map[string]bool{}
	var walk func([]*Step)
	walk = func(steps []*Step) {
		walkSteps(steps, func(st *Step) {
			fn(st)
			if c, ok := st.action.(*callStep); ok && !seen[c.Flow] {
				seen[c.Flow] = true
				if f := o.Flows[c.Flow]; f != nil {
					walk(f.Steps)
				}
			}
		})
	}
	walk(steps)
}

func extracts(o *Options, steps []*Step, name string) bool {
	found := false
	walkAll(o, steps, func(st *Step) {
		if e, ok := st.action.(*extractStep); ok {
			if e.Into == name {
				found = true
			}
			if _, inRecord := e.Fields[name]; inRecord && e.Rows == "" {
				found = true
			}
		}
	})
	return found
}

// callCycle returns "a -> b -> a" when flow name can reach itself.
func callCycle(o *Options, name string, f *Flow, stack []string) string {
	for _, s := range stack {
		if s == name {
			return strings.Join(append(stack, name), " -> ")
		}
	}
	stack = append(stack, name)
	var cyc string
	walkSteps(f.Steps, func(st *Step) {
		if cyc != "" {
			return
		}
		if c, ok := st.action.(*callStep); ok {
			if g := o.Flows[c.Flow]; g != nil {
				cyc = callCycle(o, c.Flow, g, stack)
			}
		}
	})
	return cyc
}

// handOffWait warns about an ask step whose wait for a person is longer
// than limits.flow_timeout, which bounds the visit it pauses: the person
// has only the flow's time to answer.
func (d *decoder) handOffWait(o *Options) {
	o.eachAsk(func(st *Step, wait time.Duration, what string) {
		if wait > o.Limits.FlowTimeout {
			d.warnings = append(d.warnings, fieldErr(st.Line, st.Path, fmt.Sprintf(
				"ask: %s %s is longer than limits.flow_timeout %s, which bounds the visit: a person has %s to answer (raise limits.flow_timeout, and the connector's limits.timeout)",
				what, wait, o.Limits.FlowTimeout, o.Limits.FlowTimeout)))
		}
	})
}

// HandOffWait implements connectors.HandOffWaiter: the longest wait of an
// ask step, cut to limits.flow_timeout, which bounds its visit.
func (o *Options) HandOffWait() time.Duration {
	var longest time.Duration
	o.eachAsk(func(_ *Step, wait time.Duration, _ string) {
		longest = max(longest, min(wait, o.Limits.FlowTimeout))
	})
	return longest
}

// eachAsk calls f with every ask step of every flow, the time it waits for
// a person and the key that sets that time (its timeout, else
// limits.hand_off_timeout).
func (o *Options) eachAsk(f func(st *Step, wait time.Duration, what string)) {
	for _, fl := range o.allFlows() {
		walkSteps(fl.Steps, func(st *Step) {
			if a, ok := st.action.(*askStep); ok {
				if a.Timeout != 0 {
					f(st, a.Timeout, "timeout")
				} else {
					f(st, o.Limits.HandOffTimeout, "limits.hand_off_timeout")
				}
			}
		})
	}
}

var _ connectors.HandOffWaiter = (*Options)(nil)
