package portal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
)

// Submit files c through the submit flow. commit is called right before
// the first action of the final step; if it fails nothing is submitted.
// An expired session before that point is renewed once and the form
// started again; after it, never (the agent reconciles with Find).
func (s *Session) Submit(ctx context.Context, c *authpilot.Case, commit func(context.Context) error) (*authpilot.Submission, error) {
	f := s.c.opts.Submit
	if f == nil {
		return nil, &authpilot.Error{Class: authpilot.ErrUnsupported, Step: "submit", Msg: "no submit flow configured"}
	}
	if commit == nil {
		return nil, errors.New("submit: no commit function")
	}
	r, err := s.send(ctx, c, sendFlow{name: "submit", flow: f,
		data:  func() *tmplData { return &tmplData{Case: c, Vars: map[string]any{}} },
		final: func(r *runner) { r.out.beforeFinal = commit },
		sent:  "the request may have been filed"})
	if err != nil {
		return nil, err
	}
	out, oerr := s.c.opts.outcomeOf(c, r.data.Vars, "submit.result")
	if out.payerRef == "" {
		return nil, &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: "submit.result",
			Msg: "no payer reference was read after the final step (the request may have been filed)"}
	}
	sub := &authpilot.Submission{PayerRef: out.payerRef, Status: authpilot.StatusSubmitted, StatusText: out.statusText, Files: r.out.files}
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

// sendFlow is a flow that sends something to the payer (submit, respond,
// withdraw): its steps, a final step and result steps.
type sendFlow struct {
	name string
	flow *SubmitFlow
	// data is each attempt's template data.
	data func() *tmplData
	// prepare, when set, readies each attempt's runner before its steps;
	// final readies it after them (the hook before the final step acts).
	prepare, final func(r *runner)
	// sent says, in an error after the final step, what the payer may have
	// received.
	sent string
}

// send runs sf for c on a page of the session and returns the runner of
// its last attempt. An expired session before the final step is renewed
// once and the flow started again; after it, never.
func (s *Session) send(ctx context.Context, c *authpilot.Case, sf sendFlow) (*runner, error) {
	slot, err := s.page(ctx)
	if err != nil {
		return nil, err
	}
	defer s.putPage(slot)

	var r *runner
	committed := false
	op := func() error {
		r = s.newRunner(slot, sf.data(), sf.name)
		if sf.prepare != nil {
			sf.prepare(r)
		}
		fctx, cancel := context.WithTimeout(ctx, s.c.opts.Limits.FlowTimeout)
		defer cancel()
		defer func() { committed = committed || r.out.committed }()
		if err := r.runSteps(fctx, sf.flow.Steps); err != nil {
			if errors.Is(err, errFlowDone) {
				return &authpilot.Error{Class: authpilot.ErrNeedsHuman, Step: sf.name, Msg: "the flow ended (done: true) before its final step"}
			}
			return err
		}
		sf.final(r)
		if err := r.runSteps(fctx, sf.flow.Final); err != nil && !errors.Is(err, errFlowDone) {
			return err
		}
		if !r.out.committed {
			return &authpilot.Error{Class: authpilot.ErrNeedsHuman, Step: sf.name + ".final", Msg: "the final step did not run (check its if:)"}
		}
		if err := r.runSteps(fctx, sf.flow.Result); err != nil && !errors.Is(err, errFlowDone) {
			return err
		}
		return nil
	}
	if err := s.withRelogin(ctx, slot, func() bool { return !committed }, op); err != nil {
		// A refusal the page showed (fail: rejected) is the payer's
		// answer: nothing was sent. Anything else after the final step
		// may have reached the payer.
		if committed && !errors.Is(err, authpilot.ErrRejected) {
			var ce *authpilot.Error
			if errors.As(err, &ce) {
				ce.Msg += " (after the final step: " + sf.sent + ")"
			}
		}
		s.log.Warn("portal "+sf.name+" failed", "case", c.ID, "committed", committed, "err", err)
		return nil, err
	}
	return r, nil
}

// Find runs the find flow: it reports a request already filed for c at or
// after since (the submission intent), or an error wrapping
// authpilot.ErrRequestNotFound (an alternative with fail: not_found, or no
// candidate left). A flow that reads a requests table gets the one row
// made after since whose identity matches c; a flow that reads one request
// reports it with what the page showed of it (Submission.Shown), for the
// agent to check.
func (s *Session) Find(ctx context.Context, c *authpilot.Case, since time.Time) (*authpilot.Submission, error) {
	f := s.c.opts.Find
	if f == nil {
		return nil, &authpilot.Error{Class: authpilot.ErrUnsupported, Step: "find", Msg: "no find flow configured"}
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
	vars := r.data.Vars
	if rows, ok := vars[VarRequests].([]map[string]string); ok {
		row, err := s.c.opts.pickRequest(c, since, rows)
		if err != nil {
			return nil, err
		}
		vars = map[string]any{}
		for k, v := range row {
			vars[k] = v
		}
	} else if madeBefore(varString(vars, VarSubmittedAt), since) {
		return nil, &authpilot.Error{Class: authpilot.ErrRequestNotFound, Step: "find",
			Msg: "the request found was made before the submission intent"}
	}
	out, oerr := s.c.opts.outcomeOf(c, vars, "find")
	if out.payerRef == "" {
		return nil, &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: "find",
			Msg: "the flow read no payer reference and no alternative said not_found"}
	}
	sub := &authpilot.Submission{PayerRef: out.payerRef, Status: authpilot.StatusSubmitted, StatusText: out.statusText,
		Shown: s.c.opts.shown(vars)}
	if oerr == nil && out.hasStatus {
		sub.Status, sub.Determination = out.status, out.det
	}
	return sub, nil
}

// pickRequest chooses among a find flow's candidate rows the one request
// made at or after since whose identity matches c. Rows made before since
// and rows of another member, code set or date are other requests; none
// left is not found, several is for a person to sort out.
func (o *Options) pickRequest(c *authpilot.Case, since time.Time, rows []map[string]string) (map[string]string, error) {
	var match []map[string]string
	older, other := 0, 0
	for _, row := range rows {
		if normRef(row[VarPayerRef]) == "" {
			continue
		}
		if madeBefore(row[VarSubmittedAt], since) {
			older++
			continue
		}
		shown := o.shownRow(row)
		if shown == nil || shown.IsZero() {
			return nil, &authpilot.Error{Class: authpilot.ErrNeedsHuman, Step: "find",
				Msg: "a request found shows none of the identity fields: it cannot be checked against the case"}
		}
		if len(c.IdentityMismatch(*shown)) > 0 {
			other++
			continue
		}
		match = append(match, row)
	}
	switch len(match) {
	case 0:
		return nil, &authpilot.Error{Class: authpilot.ErrRequestNotFound, Step: "find",
			Msg: fmt.Sprintf("no request of this case among %d found (%d made before the submission intent, %d of another member, code or date)", len(rows), older, other)}
	case 1:
		return match[0], nil
	}
	return nil, &authpilot.Error{Class: authpilot.ErrNeedsHuman, Step: "find",
		Msg: fmt.Sprintf("%d requests made since the submission intent match the case", len(match))}
}

// shown returns the declared identity fields a flow run read (nil when the
// flow declares none).
func (o *Options) shown(vars map[string]any) *authpilot.Identity {
	if len(o.Identity) == 0 {
		return nil
	}
	id := &authpilot.Identity{}
	for _, f := range o.Identity {
		switch v := vars[f].(type) {
		case string:
			id.Set(f, normSpace(v))
		case []map[string]string:
			// A table of codes: one row per line, its "code" field.
			if f == authpilot.IdentityCodes {
				var codes []string
				for _, r := range v {
					codes = append(codes, normSpace(r["code"]))
				}
				id.Set(f, strings.Join(codes, ", "))
			}
		}
	}
	return id
}

func (o *Options) shownRow(row map[string]string) *authpilot.Identity {
	vars := map[string]any{}
	for k, v := range row {
		vars[k] = v
	}
	return o.shown(vars)
}

// Allowances of madeBefore: the portal's clock may differ from ours, and a
// time printed without its zone may be in any zone from UTC-12 to UTC+14.
const (
	clockSkew   = 5 * time.Minute
	zoneUnknown = 14 * time.Hour
)

// madeBefore reports whether a request the payer shows as submitted at
// shown was certainly made before since. A time with an offset (RFC 3339)
// is exact within clockSkew; a date and time without a zone could be in any
// zone, so it is before only when it is more than 14 hours (and a minute,
// its precision) older; a bare date covers its whole day in every zone. An
// empty or unreadable value is never before: the identity check still
// applies.
func madeBefore(shown string, since time.Time) bool {
	s := normSpace(shown)
	if s == "" || since.IsZero() {
		return false
	}
	limit := since.Add(-clockSkew)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Before(limit)
	}
	if d, err := ParseDate(s); err == nil {
		return d.AddDays(1).In(time.UTC).Add(zoneUnknown).Before(limit)
	}
	if t, _, err := ParseTime(s, nil); err == nil { // read as UTC; zoneUnknown covers the zone
		return t.Add(time.Minute + zoneUnknown).Before(limit)
	}
	return false
}
