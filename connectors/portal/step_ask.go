package portal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
)

// askStep pauses the visit and asks a person for a value the agent cannot
// have (a code the payer texted or e-mailed), then types the answer into
// the field on the same page. The answer is a secret: it is redacted from
// the recording like a TOTP code and never logged.
type askStep struct {
	Selector sel
	// Question is shown to the person as written (plain text, no
	// template: it must hold no PHI).
	Question string
	// Timeout is how long to wait for an answer; 0 is
	// limits.hand_off_timeout.
	Timeout time.Duration
}

func decodeAsk(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &askStep{}
	d.mapping(n, path, "ask: ", []field{
		{"selector", true, func(k, v *yaml.Node) { a.Selector = d.sel(v, path, "ask: ", "selector", inEach) }},
		{"question", true, func(k, v *yaml.Node) { a.Question = d.str(v, path, "ask: ", "question") }},
		{"timeout", false, func(k, v *yaml.Node) { a.Timeout = d.duration(v, path, "ask: ", "timeout") }},
	})
	return a
}

// wait is how long the step waits for a person.
func (a *askStep) wait(l Limits) time.Duration {
	if a.Timeout > 0 {
		return a.Timeout
	}
	return l.HandOffTimeout
}

func (a *askStep) run(x *exec) error {
	el, err := x.element(a.Selector, visible)
	if err != nil {
		return err
	}
	wait := a.wait(x.r.s.c.opts.Limits)
	answer, err := x.r.handOff(x.ctx, x.st, connectors.HandOffCode, a.Question, wait)
	if err != nil {
		return err
	}
	// The answer is posted in a form field the portal names as it likes:
	// redact it by value before the exchange is recorded.
	x.r.s.rec.Redact(answer)
	return x.fillElement(el, answer)
}

// handOff asks a person through the connector's hand-off broker and waits
// at most wait (and never past ctx's deadline). A hand-off nobody
// answered, or no broker at all, is needs_human; ctx cancelled (the
// daemon stopping) is retryable.
func (r *runner) handOff(ctx context.Context, st *Step, kind connectors.HandOffKind, prompt string, wait time.Duration) (string, error) {
	fail := func(msg string, err error) error {
		return &authpilot.Error{Class: authpilot.ErrNeedsHuman, Step: st.Path + " " + st.Kind, Msg: msg, Err: err}
	}
	ho := r.s.c.env.HandOffs
	if ho == nil {
		return "", fail("a person is needed ("+string(kind)+") and nobody can be asked here", nil)
	}
	q := connectors.Question{Kind: kind, Connector: r.s.c.id, Run: r.flow + " " + st.Path, Prompt: prompt}
	if r.data != nil && r.data.Case != nil {
		q.Run = r.data.Case.ID + " " + q.Run
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), evidenceTimeout)
	q.Screenshot, _ = maskedScreenshot(r.s.rec, r.slot.page.Context(sctx), false)
	cancel()
	if kind.Live() {
		q.Page = &livePage{p: r.slot.page, rec: r.s.rec}
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	answer, err := ho.Ask(wctx, q)
	switch {
	case err == nil:
		return answer, nil
	case errors.Is(err, context.Canceled):
		return "", &authpilot.Error{Class: authpilot.ErrRetryable, Step: st.Path + " " + st.Kind, Msg: "the visit was stopped while a person was asked", Err: err}
	case errors.Is(err, connectors.ErrHandOffExpired), errors.Is(err, context.DeadlineExceeded):
		msg := fmt.Sprintf("nobody answered the hand-off (%s) within %s", kind, wait)
		if ctx.Err() != nil {
			msg = fmt.Sprintf("nobody answered the hand-off (%s) before the visit's time limit (limits.flow_timeout)", kind)
		}
		return "", fail(msg, connectors.ErrHandOffExpired)
	}
	return "", fail("hand-off ("+string(kind)+"): "+err.Error(), err)
}
