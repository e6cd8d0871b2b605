package portal

import (
	"context"
	"errors"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
)

// Submit files c through the submit flow. commit is called right before
// the first action of the final step; if it fails nothing is submitted.
// An expired session before that point is renewed once and the form
// started again; after it, never (the agent reconciles with Find).
func (s *Session) Submit(ctx context.Context, c *authpilot.Case, commit func(context.Context) error) (*connectors.Submission, error) {
	f := s.c.opts.Submit
	if f == nil {
		return nil, &connectors.Error{Class: connectors.ErrUnsupported, Step: "submit", Msg: "no submit flow configured"}
	}
	if commit == nil {
		return nil, errors.New("submit: no commit function")
	}
	slot, err := s.page(ctx)
	if err != nil {
		return nil, err
	}
	defer s.putPage(slot)

	var r *runner
	committed := false
	op := func() error {
		r = s.newRunner(slot, &tmplData{Case: c, Vars: map[string]any{}}, "submit")
		fctx, cancel := context.WithTimeout(ctx, s.c.opts.Limits.FlowTimeout)
		defer cancel()
		defer func() { committed = committed || r.out.committed }()
		if err := r.runSteps(fctx, f.Steps); err != nil {
			if errors.Is(err, errFlowDone) {
				return &connectors.Error{Class: connectors.ErrNeedsHuman, Step: "submit", Msg: "the flow ended (done: true) before its final step"}
			}
			return err
		}
		r.out.beforeFinal = commit
		if err := r.runSteps(fctx, f.Final); err != nil && !errors.Is(err, errFlowDone) {
			return err
		}
		if !r.out.committed {
			return &connectors.Error{Class: connectors.ErrNeedsHuman, Step: "submit.final", Msg: "the final step did not run (check its if:)"}
		}
		if err := r.runSteps(fctx, f.Result); err != nil && !errors.Is(err, errFlowDone) {
			return err
		}
		return nil
	}
	err = s.withRelogin(ctx, slot, func() bool { return !committed }, op)
	if err != nil {
		// A refusal the page showed (fail: rejected) is the payer's
		// answer: nothing was filed. Anything else after the final step
		// may have reached the payer.
		if committed && !errors.Is(err, connectors.ErrRejected) {
			var ce *connectors.Error
			if errors.As(err, &ce) {
				ce.Msg += " (after the final step: the request may have been filed)"
			}
		}
		s.log.Warn("portal submit failed", "case", c.ID, "committed", committed, "err", err)
		return nil, err
	}
	out, oerr := s.c.opts.outcomeOf(c, r.data.Vars, "submit.result")
	if out.payerRef == "" {
		return nil, &connectors.Error{Class: connectors.ErrPortalChanged, Step: "submit.result",
			Msg: "no payer reference was read after the final step (the request may have been filed)"}
	}
	sub := &connectors.Submission{PayerRef: out.payerRef, Status: authpilot.StatusSubmitted, StatusText: out.statusText, Files: r.out.files}
	if oerr != nil {
		// The request was filed and its reference read: report it as
		// submitted; the status wording is checked again on poll.
		s.log.Warn("portal submit result not understood", "case", c.ID, "err", oerr)
	} else if out.hasStatus {
		sub.Status, sub.Determination = out.status, out.det
	}
	s.log.Info("portal submitted", "case", c.ID, "status", sub.Status)
	return sub, nil
}

// Find runs the find flow: it reports a request already filed for c, or an
// error wrapping connectors.ErrNotFound (an alternative with fail:
// not_found).
func (s *Session) Find(ctx context.Context, c *authpilot.Case) (*connectors.Submission, error) {
	f := s.c.opts.Find
	if f == nil {
		return nil, &connectors.Error{Class: connectors.ErrUnsupported, Step: "find", Msg: "no find flow configured"}
	}
	slot, err := s.page(ctx)
	if err != nil {
		return nil, err
	}
	defer s.putPage(slot)
	var r *runner
	err = s.withRelogin(ctx, slot, nil, func() error {
		r = s.newRunner(slot, &tmplData{Case: c, Vars: map[string]any{}}, "find")
		return r.runFlow(ctx, f.Steps)
	})
	if err != nil {
		return nil, err
	}
	out, oerr := s.c.opts.outcomeOf(c, r.data.Vars, "find")
	if out.payerRef == "" {
		return nil, &connectors.Error{Class: connectors.ErrPortalChanged, Step: "find",
			Msg: "the flow read no payer reference and no alternative said not_found"}
	}
	sub := &connectors.Submission{PayerRef: out.payerRef, Status: authpilot.StatusSubmitted, StatusText: out.statusText}
	if oerr == nil && out.hasStatus {
		sub.Status, sub.Determination = out.status, out.det
	}
	return sub, nil
}
