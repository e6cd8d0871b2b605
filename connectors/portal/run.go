package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/go-rod/rod"

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
	files []authpilot.File
	// beforeFinal, when set, is called once right before the next step
	// acts (the submit intent is committed before the final click).
	beforeFinal func(ctx context.Context) error
	committed   bool
	// hookWhat names what beforeFinal does, for its error.
	hookWhat string
	// guard, when set, is checked once before anything is sent to the
	// payer in a respond or withdraw flow (an upload, the final step): the
	// page must have shown the case's request.
	guard   func() error
	guarded bool
}

// checkGuard runs the flow's guard once; nil when there is none.
func (r *runner) checkGuard() error {
	out := r.out
	if out.guard == nil || out.guarded {
		return nil
	}
	if err := out.guard(); err != nil {
		return err
	}
	out.guarded = true
	return nil
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
		e := &authpilot.Error{Class: authpilot.ErrRetryable, Step: st.Path + " " + st.Kind, Msg: "flow timed out", Err: err}
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
	if a, ok := st.action.(*askStep); ok {
		// The step's own waits (the field, typing) plus a person's.
		timeout += a.wait(r.s.c.opts.Limits)
	}
	// page.Timeout bounds everything chained after it; CancelTimeout
	// releases it. Nothing derived from tp is used after this step.
	var err error
	var fx *exec // the fetched step's execution
	if r.doc != "" {
		tp := r.slot.page.Context(ctx).Timeout(timeout)
		fx = &exec{r: r, st: st, ctx: tp.GetContext(), timeout: timeout, page: tp}
		err = runFetched(fx)
		tp.CancelTimeout()
	} else {
		err = r.runAction(ctx, st, timeout)
	}
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
		r.attachFetchedDOM(fx, st)
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

// maxHandBacks bounds how often one step hands its page to a person.
const maxHandBacks = 3

// runAction runs a step's action on the page under its timeout. When the
// page needs a person (an alternative with hand_off), it hands the page
// over and runs the step again once the person hands it back: the page is
// checked against the flow again.
func (r *runner) runAction(ctx context.Context, st *Step, timeout time.Duration) error {
	for hand := 0; ; hand++ {
		// page.Timeout bounds everything chained after it; CancelTimeout
		// releases it. Nothing derived from tp is used after this.
		tp := r.slot.page.Context(ctx).Timeout(timeout)
		err := st.action.run(&exec{r: r, st: st, ctx: tp.GetContext(), timeout: timeout, page: tp})
		tp.CancelTimeout()
		var need *handOffNeeded
		if !errors.As(err, &need) {
			return err
		}
		if hand == maxHandBacks {
			need.err.Msg += fmt.Sprintf("; still there after %d hand-offs", maxHandBacks)
			return need.err
		}
		start := r.s.c.now()
		_, herr := r.handOff(ctx, st, need.kind, need.prompt, r.s.c.opts.Limits.HandOffTimeout)
		if herr != nil {
			var ce *authpilot.Error
			if errors.As(herr, &ce) && errors.Is(herr, authpilot.ErrNeedsHuman) {
				need.err.Msg += "; " + ce.Msg
				return need.err
			}
			return herr
		}
		r.s.rec.Step(stepName(st)+r.iter+" (handed back by a person: checked again)", start, nil)
	}
}

// handOffNeeded is an alternative's failure that a person may get past
// (hand_off): runAction hands the page over; err stands if nobody does.
type handOffNeeded struct {
	kind   connectors.HandOffKind
	prompt string
	err    *authpilot.Error
}

func (h *handOffNeeded) Error() string { return h.err.Error() }
func (h *handOffNeeded) Unwrap() error { return h.err }

// orHandOff returns e, or e as a hand-off when the alternative a offers
// one and a person can be asked.
func (x *exec) orHandOff(a *Alternative, e *authpilot.Error) error {
	if a.HandOff == "" {
		return e
	}
	prompt := fmt.Sprintf("The portal shows %q", a.Name)
	if a.Message != "" {
		prompt += " (" + a.Message + ")"
	}
	return x.askHandOff(a.HandOff, prompt+": get past it in the live view, then hand the page back.", e)
}

// askHandOff returns e as a hand-off of kind with prompt when a person can
// be asked (a tab's page, a broker), else e.
func (x *exec) askHandOff(kind connectors.HandOffKind, prompt string, e *authpilot.Error) error {
	if x.r.doc != "" || x.r.s.c.env.HandOffs == nil {
		return e
	}
	return &handOffNeeded{kind: kind, prompt: prompt, err: e}
}

// evidence attaches a screenshot and the DOM as the recorder wants, and
// puts the screenshot on a failure's *authpilot.Error.
func (r *runner) evidence(ctx context.Context, st *Step, failed bool, err error) {
	var ce *authpilot.Error
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
		if png, serr := maskedScreenshot(r.s.rec, p, false); serr == nil {
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
	return &authpilot.Error{Class: authpilot.ErrNeedsHuman, Step: st.Path + " " + st.Kind, Msg: err.Error()}
}

func (x *exec) fail(class error, msg string, err error) *authpilot.Error {
	return &authpilot.Error{Class: class, Step: x.st.Path + " " + x.st.Kind, Msg: msg, Err: err}
}

func (x *exec) render(t *tmpl) (string, error) {
	v, err := render(t, x.r.data, x.r.s.secret)
	if err != nil {
		var ce *authpilot.Error
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
// pace waits for the connector's rate limit (limits.requests_per_minute)
// before a request to the payer: a page load, a fetch or a download. A
// wait the step's deadline cuts short is a temporary failure.
func (x *exec) pace() error {
	lim := x.r.s.c.env.Limiter
	if lim == nil {
		return nil
	}
	if err := lim.Wait(x.ctx); err != nil {
		return x.fail(authpilot.ErrRetryable, "wait for the rate limit (limits.requests_per_minute)", err)
	}
	return nil
}

func (x *exec) beforeAct() error {
	out := x.r.out
	if out.beforeFinal == nil {
		return nil
	}
	hook := out.beforeFinal
	out.beforeFinal = nil
	if err := hook(x.ctx); err != nil {
		what := out.hookWhat
		if what == "" {
			what = "record submit intent"
		}
		return fmt.Errorf("%s %s: %s: %w", x.st.Path, x.st.Kind, what, err)
	}
	out.committed = true
	return nil
}

// ctxErr classifies a wait that ended with its context: the step deadline
// means the page did not show what the flow expects (portal changed); an
// ended flow or caller context is retryable.
func (x *exec) ctxErr(what string, err error) error {
	if x.r.flowCtx != nil && x.r.flowCtx.Err() != nil {
		return x.fail(authpilot.ErrRetryable, "flow timed out while waiting for "+what, x.r.flowCtx.Err())
	}
	if x.ctx.Err() != nil {
		return x.fail(authpilot.ErrPortalChanged, what+" did not appear within "+x.timeout.String(), errMissing)
	}
	if isConnClosed(err) {
		return x.r.s.browserErr(x.st.Path+" "+x.st.Kind, "browser connection lost", err)
	}
	return x.fail(authpilot.ErrPortalChanged, "waiting for "+what, err)
}

// actErr classifies a failed action on a found element.
func (x *exec) actErr(what string, err error) error {
	if x.ctx.Err() != nil || isConnClosed(err) {
		return x.ctxErr(what, err)
	}
	return x.fail(authpilot.ErrPortalChanged, what, err)
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
		return x.fail(authpilot.ErrRetryable, fmt.Sprintf("interrupt %q: the portal ended the session", a.Name), errSessionExpired)
	}
	msg := fmt.Sprintf("interrupt %q", a.Name)
	if a.Message != "" {
		msg += ": " + a.Message
	}
	e := x.fail(a.Fail, msg, nil)
	e.PayerText = x.payerText(a, el)
	if a.Fail == authpilot.ErrRetryable && x.r.doc == "" && x.page != nil {
		// A maintenance page: its Retry-After says when to come back.
		e.RetryAfter = x.docRetryAfter(x.navStatus())
	}
	return x.orHandOff(a, e)
}

// maxPayerText bounds the payer's words kept from a page.
const maxPayerText = 2000

// payerText is what the payer's page says where a fail alternative
// matched: the visible text of the matched element, or, for an alternative
// that matches only the page's text, the part of the text its pattern
// matched. It is the payer's own wording for a refusal; it can hold PHI and
// goes only into authpilot.Error.PayerText.
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

// element renders s and waits until match finds the element it selects
// (visible, or exists for a control the page may hide behind its styling).
func (x *exec) element(s sel, match func(string) func(*rod.Page) (*rod.Element, error)) (*rod.Element, error) {
	q, err := x.sel(s)
	if err != nil {
		return nil, err
	}
	return x.waitMatch(quote(s.raw), match(q))
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
		e := x.fail(authpilot.ErrRetryable, fmt.Sprintf("the portal answered HTTP %d", code), nil)
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
		return x.fail(authpilot.ErrRetryable, "flow timed out during navigation", err)
	}
	if x.ctx.Err() != nil {
		return x.fail(authpilot.ErrRetryable, "navigation timed out", x.ctx.Err())
	}
	if isConnClosed(err) {
		return x.r.s.browserErr(x.st.Path+" "+x.st.Kind, "browser connection lost", err)
	}
	return x.fail(authpilot.ErrRetryable, "navigation failed", err)
}
