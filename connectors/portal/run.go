package portal

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/recordings"
)

var (
	// errFlowDone ends a flow early and successfully (an expect
	// alternative with done: true).
	errFlowDone = errors.New("flow done")
	// errSessionExpired marks an interrupt with relogin: true.
	errSessionExpired = errors.New("session expired")
	// errMissing marks an element that never appeared (optional steps
	// skip on it).
	errMissing = errors.New("element missing")
)

// optionalWait is how long an optional step waits for its element unless
// the step sets its own timeout.
const optionalWait = 2 * time.Second

// evidenceTimeout bounds taking a screenshot or DOM snapshot.
const evidenceTimeout = 5 * time.Second

// runner runs steps on one page for one flow run.
type runner struct {
	s       *Session
	slot    *pageSlot
	data    *tmplData
	flow    string
	inLogin bool
	flowCtx context.Context
	out     *runOutput
	// iter names the current each iteration in step names ("line 2").
	iter string
	// doc, when set, runs the steps on a fetched document of that key
	// (fetch mode, see fetch.go); docURL is its address.
	doc, docURL string
}

// runOutput collects what a flow run produced besides variables.
type runOutput struct {
	files []connectors.File
	// beforeFinal, when set, is called once right before the next step
	// acts (the submit intent is committed before the final click).
	beforeFinal func(ctx context.Context) error
	committed   bool
}

func (s *Session) newRunner(slot *pageSlot, data *tmplData, flow string) *runner {
	if data.Vars == nil {
		data.Vars = map[string]any{}
	}
	return &runner{s: s, slot: slot, data: data, flow: flow, out: &runOutput{}}
}

// runFlow runs steps under the flow timeout; done: true ends it early.
func (r *runner) runFlow(ctx context.Context, steps []*Step) error {
	ctx, cancel := context.WithTimeout(ctx, r.s.c.opts.Limits.FlowTimeout)
	defer cancel()
	err := r.runSteps(ctx, steps)
	if errors.Is(err, errFlowDone) {
		return nil
	}
	return err
}

func (r *runner) runSteps(ctx context.Context, steps []*Step) error {
	prev := r.flowCtx
	r.flowCtx = ctx
	defer func() { r.flowCtx = prev }()
	for _, st := range steps {
		if err := r.runStep(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

func stepName(st *Step) string {
	n := st.Path + " " + st.Kind
	if st.Name != "" {
		n += " (" + st.Name + ")"
	}
	return n
}

// exec is one step's execution: its deadline and its page.
type exec struct {
	r       *runner
	st      *Step
	ctx     context.Context
	timeout time.Duration
	page    *rod.Page
}

func (r *runner) runStep(ctx context.Context, st *Step) error {
	name := stepName(st) + r.iter
	start := r.s.c.now()
	if err := ctx.Err(); err != nil {
		e := &connectors.Error{Class: connectors.ErrRetryable, Step: st.Path + " " + st.Kind, Msg: "flow timed out", Err: err}
		r.s.rec.Step(name, start, e)
		return e
	}
	if st.If != nil {
		v, err := render(st.If, r.data, r.s.secret)
		if err != nil {
			e := templateFail(st, err)
			r.s.rec.Step(name, start, e)
			return e
		}
		if !truthy(v) {
			r.s.rec.Step(name+" skipped", start, nil)
			return nil
		}
	}
	timeout := r.s.c.opts.Limits.StepTimeout
	if st.Optional {
		timeout = min(timeout, optionalWait)
	}
	if st.Timeout > 0 {
		timeout = st.Timeout
	}
	// page.Timeout bounds everything chained after it; CancelTimeout
	// releases it. Nothing derived from tp is used after this step.
	tp := r.slot.page.Context(ctx).Timeout(timeout)
	x := &exec{r: r, st: st, ctx: tp.GetContext(), timeout: timeout, page: tp}
	var err error
	if r.doc != "" {
		err = runFetched(x)
	} else {
		err = st.action.run(x)
	}
	tp.CancelTimeout()
	if err != nil && st.Optional && errors.Is(err, errMissing) {
		r.s.rec.Step(name+" skipped (optional, not on the page)", start, nil)
		return nil
	}
	failed := err != nil && !errors.Is(err, errFlowDone)
	if r.doc != "" {
		// A fetched step that fails is read again in a tab, which takes
		// the evidence; the recording notes the miss without an error.
		if failed {
			r.s.rec.Step(name+" (fetched: "+fetchMiss(err)+"; read again in a tab)", start, nil)
			return err
		}
		r.attachFetchedDOM(x, st)
		r.s.rec.Step(name+" (fetched)", start, nil)
		return err
	}
	if failed {
		r.evidence(ctx, st, true, err)
	} else if _, composite := st.action.(*screenshotStep); !composite {
		r.evidence(ctx, st, false, nil)
	}
	recErr := err
	if !failed {
		recErr = nil
	}
	r.s.rec.Step(name, start, recErr)
	return err
}

// evidence attaches a screenshot and the DOM as the recorder wants, and
// puts the screenshot on a failure's *connectors.Error.
func (r *runner) evidence(ctx context.Context, st *Step, failed bool, err error) {
	var ce *connectors.Error
	hasErr := errors.As(err, &ce) && ce.Screenshot == nil
	wantShot := r.s.rec.Wants("screenshot", failed)
	wantDOM := r.s.rec.Wants("dom", failed)
	if !wantShot && !wantDOM && !hasErr {
		return
	}
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), evidenceTimeout)
	defer cancel()
	p := r.slot.page.Context(ectx)
	if failed {
		// A page still loading (a navigation that timed out) would hold
		// the screenshot until the evidence timeout.
		_ = p.StopLoading()
	}
	base := strings.NewReplacer("[", "-", "]", "", ".", "-").Replace(st.Path)
	if wantShot || hasErr {
		_, restore := maskPage(r.s.rec, p)
		png, serr := p.Screenshot(false, nil)
		restore()
		if serr == nil {
			if wantShot {
				r.s.rec.Attach("screenshot", base+".png", "image/png", png)
			}
			if hasErr {
				ce.Screenshot = png
			}
		}
	}
	if wantDOM {
		attachDOM(r.s.rec, p, base)
	}
}

// attachDOM attaches the page's DOM marked with its URL (replay serves
// snapshots at the URL they were taken at).
func attachDOM(rec *lockedRecorder, p *rod.Page, name string) {
	html, err := p.HTML()
	if err != nil {
		return
	}
	pageURL := ""
	if info, err := p.Info(); err == nil {
		pageURL = info.URL
	}
	rec.Attach("dom", name+".html", "text/html; charset=utf-8", recordings.DOMSnapshot(pageURL, []byte(html)))
}

func templateFail(st *Step, err error) error {
	// A template that cannot render is the config's fault: a human fixes it.
	return &connectors.Error{Class: connectors.ErrNeedsHuman, Step: st.Path + " " + st.Kind, Msg: err.Error()}
}

func (x *exec) fail(class error, msg string, err error) *connectors.Error {
	return &connectors.Error{Class: class, Step: x.st.Path + " " + x.st.Kind, Msg: msg, Err: err}
}

func (x *exec) render(t *tmpl) (string, error) {
	v, err := render(t, x.r.data, x.r.s.secret)
	if err != nil {
		var ce *connectors.Error
		if errors.As(err, &ce) {
			ce.Step = x.st.Path + " " + x.st.Kind
			return "", ce
		}
		return "", templateFail(x.st, err)
	}
	return v, nil
}

// sel renders a selector.
func (x *exec) sel(s sel) (string, error) {
	if s.t == nil {
		return s.raw, nil
	}
	return x.render(s.t)
}

// beforeAct runs the pending commit hook right before an irreversible
// action.
func (x *exec) beforeAct() error {
	out := x.r.out
	if out.beforeFinal == nil {
		return nil
	}
	hook := out.beforeFinal
	out.beforeFinal = nil
	if err := hook(x.ctx); err != nil {
		return fmt.Errorf("%s %s: record submit intent: %w", x.st.Path, x.st.Kind, err)
	}
	out.committed = true
	return nil
}

// ctxErr classifies a wait that ended with its context: the step deadline
// means the page did not show what the flow expects (portal changed); an
// ended flow or caller context is retryable.
func (x *exec) ctxErr(what string, err error) error {
	if x.r.flowCtx != nil && x.r.flowCtx.Err() != nil {
		return x.fail(connectors.ErrRetryable, "flow timed out while waiting for "+what, x.r.flowCtx.Err())
	}
	if x.ctx.Err() != nil {
		return x.fail(connectors.ErrPortalChanged, what+" did not appear within "+x.timeout.String(), errMissing)
	}
	if isConnClosed(err) {
		return x.r.s.browserErr(x.st.Path+" "+x.st.Kind, "browser connection lost", err)
	}
	return x.fail(connectors.ErrPortalChanged, "waiting for "+what, err)
}

// actErr classifies a failed action on a found element.
func (x *exec) actErr(what string, err error) error {
	if x.ctx.Err() != nil || isConnClosed(err) {
		return x.ctxErr(what, err)
	}
	return x.fail(connectors.ErrPortalChanged, what, err)
}

// interrupts returns the interrupts active in this run: relogin ones are
// off while logging in.
func (r *runner) interrupts() []*Alternative {
	if !r.inLogin {
		return r.s.c.opts.Interrupts
	}
	var out []*Alternative
	for _, a := range r.s.c.opts.Interrupts {
		if !a.Relogin {
			out = append(out, a)
		}
	}
	return out
}

func (x *exec) interruptErr(a *Alternative, el *rod.Element) error {
	if a.Relogin {
		return x.fail(connectors.ErrRetryable, fmt.Sprintf("interrupt %q: the portal ended the session", a.Name), errSessionExpired)
	}
	msg := fmt.Sprintf("interrupt %q", a.Name)
	if a.Message != "" {
		msg += ": " + a.Message
	}
	e := x.fail(a.Fail, msg, nil)
	e.PayerText = x.payerText(a, el)
	if a.Fail == connectors.ErrRetryable && x.r.doc == "" && x.page != nil {
		// A maintenance page: its Retry-After says when to come back.
		e.RetryAfter = x.docRetryAfter(x.navStatus())
	}
	return e
}

// maxPayerText bounds the payer's words kept from a page.
const maxPayerText = 2000

// payerText is what the payer's page says where a fail alternative
// matched: the visible text of the matched element, or, for an alternative
// that matches only the page's text, the part of the text its pattern
// matched. It is the payer's own wording for a refusal; it can hold PHI and
// goes only into connectors.Error.PayerText.
func (x *exec) payerText(a *Alternative, el *rod.Element) string {
	var s string
	switch {
	case x.r.doc != "":
		// A fetched page is not the tab's page: its words are not read.
	case a.Selector != "" && el != nil:
		if t, err := el.Text(); err == nil {
			s = t
		}
	case a.Text != nil:
		if res, err := x.page.Eval(`() => document.body ? document.body.innerText : ''`); err == nil {
			s = a.Text.FindString(normSpace(res.Value.Str()))
		}
	}
	s = normSpace(s)
	if len(s) > maxPayerText {
		s = strings.ToValidUTF8(s[:maxPayerText], "") + "…"
	}
	return s
}

// waitMatch waits until match finds an element, racing the interrupts.
func (x *exec) waitMatch(what string, match func(p *rod.Page) (*rod.Element, error)) (*rod.Element, error) {
	var found, hitEl *rod.Element
	var hit *Alternative
	rc := x.page.Race()
	rc.ElementFunc(match).Handle(func(el *rod.Element) error { found = el; return nil })
	for _, it := range x.r.interrupts() {
		rc.ElementFunc(altMatcher(it)).Handle(func(el *rod.Element) error { hit, hitEl = it, el; return nil })
	}
	_, err := rc.Do()
	if hit != nil {
		return nil, x.interruptErr(hit, hitEl)
	}
	if err != nil {
		return nil, x.ctxErr(what, err)
	}
	return found, nil
}

const jsVisible = `(sel) => {
	for (const el of document.querySelectorAll(sel)) {
		if (el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden') return el;
	}
	return null;
}`

const jsVisibleTexts = `(sel) => Array.from(document.querySelectorAll(sel)).slice(0, 1000).map(el =>
	(el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden')
		? (el.innerText || el.textContent || '').replace(/\s+/g, ' ').trim() : null)`

const jsNth = `(sel, i) => document.querySelectorAll(sel)[i] || null`

// visible matches the first visible element of sel.
func visible(sel string) func(p *rod.Page) (*rod.Element, error) {
	return func(p *rod.Page) (*rod.Element, error) {
		return p.ElementByJS(rod.Eval(jsVisible, sel))
	}
}

// visibleWithText matches the first visible element of sel whose text
// matches re.
func visibleWithText(sel string, re *regexp.Regexp) func(p *rod.Page) (*rod.Element, error) {
	if re == nil {
		return visible(sel)
	}
	return func(p *rod.Page) (*rod.Element, error) {
		res, err := p.Eval(jsVisibleTexts, sel)
		if err != nil {
			return nil, err
		}
		var texts []*string
		if err := res.Value.Unmarshal(&texts); err != nil {
			return nil, err
		}
		for i, t := range texts {
			if t != nil && re.MatchString(*t) {
				return p.ElementByJS(rod.Eval(jsNth, sel, i))
			}
		}
		return nil, &rod.ElementNotFoundError{}
	}
}

// exists matches the first element of sel, visible or not.
func exists(sel string) func(p *rod.Page) (*rod.Element, error) {
	return func(p *rod.Page) (*rod.Element, error) { return p.Element(sel) }
}

// altMatcher matches an alternative: every matcher it sets must hold.
func altMatcher(a *Alternative) func(p *rod.Page) (*rod.Element, error) {
	return func(p *rod.Page) (*rod.Element, error) {
		if a.URL != nil {
			res, err := p.Eval(`() => location.href`)
			if err != nil {
				return nil, err
			}
			if !a.URL.MatchString(res.Value.Str()) {
				return nil, &rod.ElementNotFoundError{}
			}
		}
		if a.Text != nil {
			res, err := p.Eval(`() => document.body ? document.body.innerText : ''`)
			if err != nil {
				return nil, err
			}
			if !a.Text.MatchString(res.Value.Str()) {
				return nil, &rod.ElementNotFoundError{}
			}
		}
		if a.Selector != "" {
			return p.ElementByJS(rod.Eval(jsVisible, a.Selector))
		}
		return p.ElementByJS(rod.Eval(`() => document.documentElement`))
	}
}

const jsNavStatus = `() => { const e = performance.getEntriesByType('navigation')[0]; return e && e.responseStatus ? e.responseStatus : 0 }`

// navStatus is the HTTP status of the page's document (0 if unknown).
func (x *exec) navStatus() int {
	res, err := x.page.Eval(jsNavStatus)
	if err != nil {
		return 0
	}
	return res.Value.Int()
}

// checkHTTP fails the step when the page's document answered 5xx or 429.
func (x *exec) checkHTTP() error {
	res, err := x.page.Eval(jsNavStatus)
	if err != nil {
		return nil // the status is a hint; the next wait will notice a broken page
	}
	code := res.Value.Int()
	if code >= 500 || code == http.StatusTooManyRequests {
		e := x.fail(connectors.ErrRetryable, fmt.Sprintf("the portal answered HTTP %d", code), nil)
		e.RetryAfter = x.docRetryAfter(code)
		return e
	}
	return nil
}

// docRetryAfter is the Retry-After of the page's document response (a
// maintenance page, a 503), read from the network events; it waits a
// moment for the event of a response with status code (0: any).
func (x *exec) docRetryAfter(code int) time.Duration {
	slot := x.r.slot
	if slot == nil {
		return 0
	}
	deadline := time.Now().Add(docEventWait)
	for {
		if d := slot.doc.Load(); d != nil && (code == 0 || d.status == code) {
			return slot.retryAfter(x.r.s.c.now())
		}
		if time.Now().After(deadline) || x.ctx.Err() != nil {
			return 0
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// docEventWait bounds the wait for a document response's network event,
// which rod may hand over a little after the page shows.
const docEventWait = 500 * time.Millisecond

func (x *exec) navErr(err error) error {
	if x.r.flowCtx != nil && x.r.flowCtx.Err() != nil {
		return x.fail(connectors.ErrRetryable, "flow timed out during navigation", err)
	}
	if x.ctx.Err() != nil {
		return x.fail(connectors.ErrRetryable, "navigation timed out", x.ctx.Err())
	}
	if isConnClosed(err) {
		return x.r.s.browserErr(x.st.Path+" "+x.st.Kind, "browser connection lost", err)
	}
	return x.fail(connectors.ErrRetryable, "navigation failed", err)
}

// resolveURL resolves a rendered URL against base_url.
func (c *Connector) resolveURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", errors.New("the rendered URL does not parse")
	}
	return c.opts.BaseURL.ResolveReference(u).String(), nil
}

// target renders and resolves the step's URL.
func (a *gotoStep) target(x *exec) (string, error) {
	raw, err := x.render(a.URL)
	if err != nil {
		return "", err
	}
	u, err := x.r.s.c.resolveURL(raw)
	if err != nil {
		return "", x.fail(connectors.ErrNeedsHuman, err.Error(), nil)
	}
	return u, nil
}

func (a *gotoStep) run(x *exec) error {
	u, err := a.target(x)
	if err != nil {
		return err
	}
	if err := x.beforeAct(); err != nil {
		return err
	}
	if err := x.page.Navigate(u); err != nil {
		return x.navErr(err)
	}
	if err := x.page.WaitLoad(); err != nil {
		return x.navErr(err)
	}
	return x.checkHTTP()
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
	sel, err := x.sel(a.Selector)
	if err != nil {
		return err
	}
	el, err := x.waitMatch(quote(a.Selector.raw), visible(sel))
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
	sel, err := x.sel(a.Selector)
	if err != nil {
		return err
	}
	el, err := x.waitMatch(quote(a.Selector.raw), exists(sel))
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
		return x.fail(connectors.ErrPortalChanged, fmt.Sprintf("%s: %s by %s", quote(a.Selector.raw), msg, mode), nil)
	}
	return nil
}

const jsCheck = `function(want) {
	if (this.checked !== want) this.click();
	return this.checked === want;
}`

func (a *checkStep) run(x *exec) error {
	sel, err := x.sel(a.Selector)
	if err != nil {
		return err
	}
	el, err := x.waitMatch(quote(a.Selector.raw), exists(sel))
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
		return x.fail(connectors.ErrPortalChanged, quote(a.Selector.raw)+": the box did not change", nil)
	}
	return nil
}

func (a *clickStep) run(x *exec) error {
	sel, err := x.sel(a.Selector)
	if err != nil {
		return err
	}
	what := quote(a.Selector.raw)
	if a.Text != nil {
		what += " with text " + quote(a.Text.String())
	}
	el, err := x.waitMatch(what, visibleWithText(sel, a.Text))
	if err != nil {
		return err
	}
	if err := x.beforeAct(); err != nil {
		return err
	}
	switch {
	case a.Download != "":
		return x.download(el, a.Download)
	case a.Navigate:
		wait := x.page.WaitNavigation(proto.PageLifecycleEventNameLoad)
		if err := el.Click(proto.InputMouseButtonLeft, 1); err != nil {
			return x.actErr("click "+what, err)
		}
		wait()
		if x.ctx.Err() != nil {
			return x.navErr(x.ctx.Err())
		}
		return x.checkHTTP()
	default:
		if err := el.Click(proto.InputMouseButtonLeft, 1); err != nil {
			return x.actErr("click "+what, err)
		}
		return nil
	}
}

// download clicks el and waits for the file it downloads. One download at
// a time per browser context.
func (x *exec) download(el *rod.Element, kind string) error {
	// A plain link is fetched from inside the page: the page's cookies
	// and origin, no download manager, and several pages of a visit can
	// fetch at once (the browser's download events allow one download at
	// a time per context). Anything else is clicked and the download
	// caught.
	if name, data, ok, err := x.fetchLink(el); ok {
		if err != nil {
			return err
		}
		if name == "" {
			name = kind
		}
		x.r.out.files = append(x.r.out.files, connectors.File{Name: name, ContentType: contentType(name, data), Kind: kind, Data: data})
		return nil
	}
	s := x.r.s
	dir, err := s.workDir()
	if err != nil {
		return x.fail(connectors.ErrRetryable, "download", err)
	}
	dlDir := filepath.Join(dir, "downloads")
	if err := os.MkdirAll(dlDir, 0o700); err != nil {
		return x.fail(connectors.ErrRetryable, "download", err)
	}
	s.dlMu.Lock()
	defer s.dlMu.Unlock()
	wait, err := waitDownload(x.page, s.browser, dlDir)
	if err != nil {
		return x.actErr("allow downloads", err)
	}
	if err := el.Click(proto.InputMouseButtonLeft, 1); err != nil {
		return x.actErr("click the download link", err)
	}
	info, canceled := wait()
	if canceled {
		return x.fail(connectors.ErrRetryable, "the browser canceled the download", nil)
	}
	if info == nil || x.ctx.Err() != nil {
		return x.fail(connectors.ErrRetryable, "the download did not finish within the step timeout", x.ctx.Err())
	}
	path := filepath.Join(dlDir, info.GUID)
	data, err := os.ReadFile(path)
	_ = os.Remove(path)
	if err != nil {
		return x.fail(connectors.ErrRetryable, "read the downloaded file", err)
	}
	if len(data) == 0 {
		return x.fail(connectors.ErrRetryable, "the downloaded file is empty", nil)
	}
	name := info.SuggestedFilename
	if name == "" {
		name = kind
	}
	x.r.out.files = append(x.r.out.files, connectors.File{
		Name:        name,
		ContentType: contentType(name, data),
		Kind:        kind,
		Data:        data,
	})
	return nil
}

// jsLinkHref returns an <a href>'s absolute target, or null for an element
// that is not an http(s) link.
const jsLinkHref = `function() {
	return (this instanceof HTMLAnchorElement && /^https?:/.test(this.href)) ? this.href : null;
}`

// jsFetchURL fetches a URL the way following a link would (the page's
// cookies), returning the body base64-encoded with its Content-Disposition.
const jsFetchURL = `async (url) => {
	const r = await fetch(url, {credentials: 'include'});
	const b = new Uint8Array(await r.arrayBuffer());
	let s = '';
	for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
	return {status: r.status, disposition: r.headers.get('content-disposition') || '', data: btoa(s)};
}`

// fetchLink downloads a link's target from inside the page. ok is false
// when el is not a plain link (the caller clicks instead).
func (x *exec) fetchLink(el *rod.Element) (name string, data []byte, ok bool, err error) {
	res, evalErr := el.Context(x.ctx).Eval(jsLinkHref)
	if evalErr != nil {
		return "", nil, true, x.actErr("read the download link", evalErr)
	}
	if res.Value.Nil() {
		return "", nil, false, nil
	}
	name, data, err = x.fetchURL(res.Value.Str())
	return name, data, true, err
}

// fetchURL downloads url from inside the page.
func (x *exec) fetchURL(url string) (name string, data []byte, err error) {
	res, evalErr := x.page.Eval(jsFetchURL, url)
	if evalErr != nil {
		if x.ctx.Err() != nil {
			return "", nil, x.fail(connectors.ErrRetryable, "the download did not finish within the step timeout", x.ctx.Err())
		}
		return "", nil, x.fail(connectors.ErrRetryable, "fetch the download link", evalErr)
	}
	var reply fetchedURLReply
	if err := res.Value.Unmarshal(&reply); err != nil {
		return "", nil, x.fail(connectors.ErrRetryable, "fetch the download link", err)
	}
	return x.fetchedFile(&reply)
}

// fetchedURLReply is what jsFetchURL returns.
type fetchedURLReply struct {
	Status      int    `json:"status"`
	Disposition string `json:"disposition"`
	Data        string `json:"data"`
}

// fetchedFile checks and decodes a fetched download.
func (x *exec) fetchedFile(f *fetchedURLReply) (name string, data []byte, err error) {
	if f.Status >= 400 {
		class := connectors.ErrRetryable
		if f.Status < 500 && f.Status != http.StatusTooManyRequests {
			class = connectors.ErrPortalChanged
		}
		return "", nil, x.fail(class, fmt.Sprintf("the download link answered HTTP %d", f.Status), nil)
	}
	data, decErr := base64.StdEncoding.DecodeString(f.Data)
	if decErr != nil {
		return "", nil, x.fail(connectors.ErrRetryable, "decode the downloaded file", decErr)
	}
	if len(data) == 0 {
		return "", nil, x.fail(connectors.ErrRetryable, "the downloaded file is empty", nil)
	}
	if _, params, perr := mime.ParseMediaType(f.Disposition); perr == nil {
		name = filepath.Base(params["filename"])
		if name == "." || name == "/" {
			name = ""
		}
	}
	return name, data, nil
}

// waitDownload is rod's Browser.WaitDownload scoped to one page: rod's
// listens to the download events of every context of the browser, so two
// portals downloading at once could each take the other's file. It returns
// the download that page started (nil when the page's context ends first)
// and whether the browser canceled it.
func waitDownload(p *rod.Page, b *rod.Browser, dir string) (func() (*proto.PageDownloadWillBegin, bool), error) {
	err := proto.BrowserSetDownloadBehavior{
		Behavior:         proto.BrowserSetDownloadBehaviorBehaviorAllowAndName,
		BrowserContextID: b.BrowserContextID,
		DownloadPath:     dir,
	}.Call(p)
	if err != nil {
		return nil, err
	}
	var start *proto.PageDownloadWillBegin
	var canceled bool
	wait := p.EachEvent(func(e *proto.PageDownloadWillBegin) {
		if start == nil {
			start = e
		}
	}, func(e *proto.PageDownloadProgress) bool {
		if start == nil || e.GUID != start.GUID {
			return false
		}
		canceled = e.State == proto.PageDownloadProgressStateCanceled
		return canceled || e.State == proto.PageDownloadProgressStateCompleted
	})
	return func() (*proto.PageDownloadWillBegin, bool) {
		wait()
		return start, canceled
	}, nil
}

func contentType(name string, data []byte) string {
	if strings.HasPrefix(string(data), "%PDF-") {
		return "application/pdf"
	}
	return http.DetectContentType(data)
}

func (a *uploadStep) run(x *exec) error {
	sel, err := x.sel(a.Selector)
	if err != nil {
		return err
	}
	el, err := x.waitMatch(quote(a.Selector.raw), exists(sel))
	if err != nil {
		return err
	}
	paths, err := x.uploadFiles(a)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return nil // nothing to upload for this case
	}
	if err := x.beforeAct(); err != nil {
		return err
	}
	if err := el.SetFiles(paths); err != nil {
		return x.actErr("attach files", err)
	}
	return nil
}

// uploadFiles resolves the files of an upload step to local paths.
func (x *exec) uploadFiles(a *uploadStep) ([]string, error) {
	var paths []string
	for _, t := range a.Files {
		p, err := x.render(t)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(p); err != nil {
			return nil, x.fail(connectors.ErrNeedsHuman, "a file to upload is missing", err)
		}
		paths = append(paths, p)
	}
	if !a.Attachments || x.r.data.Case == nil {
		return paths, nil
	}
	for i, att := range x.r.data.Case.Attachments {
		if len(a.Kinds) > 0 && !slices.Contains(a.Kinds, att.Kind) {
			continue
		}
		p, err := x.r.s.c.attachmentPath(att)
		if err != nil {
			return nil, x.fail(connectors.ErrNeedsHuman, fmt.Sprintf("attachment %d: %v", i+1, err), nil)
		}
		// The portal gets the file under its own name (and so the media
		// type its extension says), not the store's sha256.
		named, err := x.r.s.namedCopy(p, att, i)
		if err != nil {
			return nil, x.fail(connectors.ErrNeedsHuman, fmt.Sprintf("attachment %d: prepare upload", i+1), err)
		}
		paths = append(paths, named)
	}
	return paths, nil
}

// namedCopy places the content at p under the attachment's own file name
// in the visit's work directory (removed when the visit ends), linked or
// copied, and returns its path.
func (s *Session) namedCopy(p string, att authpilot.Attachment, i int) (string, error) {
	work, err := s.workDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(work, fmt.Sprintf("upload-%d-%d", time.Now().UnixNano(), i))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("create upload directory: %w", err)
	}
	dst := filepath.Join(dir, uploadName(att, i))
	if err := os.Link(p, dst); err == nil {
		return dst, nil
	}
	in, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", err
	}
	return dst, out.Close()
}

// uploadName is an attachment's file name made safe for a file system: its
// base name without separators or control characters, with an extension
// for its media type when it has none.
func uploadName(att authpilot.Attachment, i int) string {
	name := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' || r == ':' {
			return '_'
		}
		return r
	}, filepath.Base(strings.ReplaceAll(att.Name, "\\", "/")))
	if name == "" || name == "." || name == ".." || name == "_" {
		name = fmt.Sprintf("attachment-%d", i+1)
	}
	if len(name) > 200 {
		name = name[len(name)-200:]
	}
	if filepath.Ext(name) == "" && att.ContentType != "" {
		if exts, _ := mime.ExtensionsByType(att.ContentType); len(exts) > 0 {
			name += exts[0]
		}
	}
	return name
}

// attachmentPath finds an attachment's content: its intake path, or the
// store's content-addressed copy under the data directory.
func (c *Connector) attachmentPath(att authpilot.Attachment) (string, error) {
	if att.Path != "" {
		if _, err := os.Stat(att.Path); err == nil {
			return att.Path, nil
		}
	}
	if att.SHA256 != "" && c.env.DataDir != "" && validSHA(att.SHA256) {
		for _, p := range []string{
			filepath.Join(c.env.DataDir, "documents", att.SHA256),
			filepath.Join(c.env.DataDir, "documents", att.SHA256[:2], att.SHA256),
		} {
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", errors.New("content not found (no intake path and no stored copy)")
}

var shaRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func validSHA(s string) bool { return shaRE.MatchString(s) }

const jsGone = `(sel) => {
	for (const el of document.querySelectorAll(sel)) {
		if (el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden') return false;
	}
	return true;
}`

func (a *waitForStep) run(x *exec) error {
	sel, err := x.sel(a.Selector)
	if err != nil {
		return err
	}
	if a.Gone {
		if err := x.page.Wait(rod.Eval(jsGone, sel)); err != nil {
			return x.ctxErr(quote(a.Selector.raw)+" to disappear", err)
		}
		return nil
	}
	alt := &Alternative{Selector: sel, Text: a.Text, URL: a.URL}
	var what []string
	if a.Selector.raw != "" {
		what = append(what, quote(a.Selector.raw))
	}
	if a.Text != nil {
		what = append(what, "text "+quote(a.Text.String()))
	}
	if a.URL != nil {
		what = append(what, "URL "+quote(a.URL.String()))
	}
	_, err = x.waitMatch(strings.Join(what, " and "), altMatcher(alt))
	return err
}

func (a *screenshotStep) run(x *exec) error {
	_, restore := maskPage(x.r.s.rec, x.page)
	png, err := x.page.Screenshot(a.FullPage, nil)
	restore()
	if err != nil {
		return x.actErr("take a screenshot", err)
	}
	name := a.Name
	if name == "" {
		name = strings.NewReplacer("[", "-", "]", "", ".", "-").Replace(x.st.Path)
	}
	x.r.s.rec.Attach("screenshot", name+".png", "image/png", png)
	if x.r.s.rec.Wants("dom", false) {
		attachDOM(x.r.s.rec, x.page, name)
	}
	return nil
}

func (a *expectStep) run(x *exec) error {
	var hit, intr *Alternative
	var hitEl *rod.Element
	rc := x.page.Race()
	for _, alt := range a.Alternatives {
		rc.ElementFunc(altMatcher(alt)).Handle(func(el *rod.Element) error { hit, hitEl = alt, el; return nil })
	}
	for _, it := range x.r.interrupts() {
		rc.ElementFunc(altMatcher(it)).Handle(func(el *rod.Element) error { intr, hitEl = it, el; return nil })
	}
	_, err := rc.Do()
	if intr != nil {
		return x.interruptErr(intr, hitEl)
	}
	if err != nil {
		names := make([]string, len(a.Alternatives))
		for i, alt := range a.Alternatives {
			names[i] = alt.Name
		}
		return x.ctxErr("none of the expected alternatives ("+strings.Join(names, ", ")+")", err)
	}
	return x.follow(hit, hitEl)
}

// follow acts on the alternative an expect step found: its failure, the
// end of the flow, or its then steps. On a fetched page a failure is not
// decided: the caller reads the page again in a tab.
func (x *exec) follow(hit *Alternative, el *rod.Element) error {
	switch {
	case hit.Fail != nil && x.r.doc != "":
		return x.notOnFetched(fmt.Sprintf("a success alternative (the page shows %q)", hit.Name))
	case hit.Fail != nil:
		msg := fmt.Sprintf("the page shows %q", hit.Name)
		if hit.Message != "" {
			msg += ": " + hit.Message
		}
		e := x.fail(hit.Fail, msg, nil)
		e.PayerText = x.payerText(hit, el)
		return e
	case hit.Done:
		return errFlowDone
	case len(hit.Then) > 0:
		return x.r.runSteps(x.r.flowCtx, hit.Then)
	}
	return nil
}

func (a *callStep) run(x *exec) error {
	return x.r.runSteps(x.r.flowCtx, a.flow.Steps)
}

func (a *eachStep) run(x *exec) error {
	c := x.r.data.Case
	if c == nil {
		return nil
	}
	var items []any
	switch a.Over {
	case "service_lines":
		for i := range c.ServiceLines {
			items = append(items, &c.ServiceLines[i])
		}
	case "attachments":
		for i := range c.Attachments {
			items = append(items, &c.Attachments[i])
		}
	case "diagnoses":
		for _, d := range c.Diagnoses {
			items = append(items, d)
		}
	}
	parent, parentIter := x.r.data, x.r.iter
	defer func() { x.r.data, x.r.iter = parent, parentIter }()
	for i, item := range items {
		x.r.iter = fmt.Sprintf(" [%s %d]", strings.TrimSuffix(a.Over, "s"), i+1)
		d := *parent
		d.Item, d.Index, d.Number = item, i, i+1
		if l, ok := item.(*authpilot.ServiceLine); ok {
			d.Line = l
		}
		x.r.data = &d
		if err := x.r.runSteps(x.r.flowCtx, a.Steps); err != nil {
			return err
		}
	}
	return nil
}

func (a *totpStep) run(x *exec) error {
	sel, err := x.sel(a.Selector)
	if err != nil {
		return err
	}
	el, err := x.waitMatch(quote(a.Selector.raw), visible(sel))
	if err != nil {
		return err
	}
	seed, err := x.r.s.secret(a.Secret)
	if err != nil {
		var ce *connectors.Error
		if errors.As(err, &ce) {
			ce.Step = x.st.Path + " " + x.st.Kind
			ce.Msg = "MFA prompt: " + ce.Msg
		}
		return err
	}
	code, err := totpCode(seed, x.r.s.c.now())
	if err != nil {
		return x.fail(connectors.ErrNeedsHuman, "MFA prompt: "+err.Error(), nil)
	}
	// The code is posted in a form field the portal names as it likes
	// ("code"): redact it by value before the exchange is recorded.
	x.r.s.rec.Redact(code)
	return x.fillElement(el, code)
}

// totpCode computes the RFC 6238 code of a base32 seed or an otpauth:// URL.
func totpCode(seed string, now time.Time) (string, error) {
	opts := totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	secret := seed
	if strings.HasPrefix(seed, "otpauth://") {
		k, err := otp.NewKeyFromURL(seed)
		if err != nil {
			return "", errors.New("the totp secret is not a valid otpauth:// URL")
		}
		secret = k.Secret()
		if p := k.Period(); p > 0 {
			opts.Period = uint(p)
		}
		opts.Digits = k.Digits()
		opts.Algorithm = k.Algorithm()
	}
	secret = strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(secret)))
	code, err := totp.GenerateCodeCustom(secret, now, opts)
	if err != nil {
		return "", errors.New("the totp secret is not a valid base32 seed")
	}
	return code, nil
}
