package run

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
)

// Respond sends resp (a note and documents) to the payer's pended request
// of c in one visit of the connector, exactly as a poll visits it: under
// the connector's lock, admitted by its pause, Retry-After and hourly
// login cap, with one login, its requests paced, the visit recorded (the
// case's PHI, the note and the file names redacted) and a failure of the
// visit counted and alerted like a poll's. The session checks that the
// payer's page shows c's request before it sends anything. The returned
// observation is what the payer shows afterwards; the caller applies it.
// It returns an error wrapping connectors.ErrUnsupported when the
// connector cannot respond, and a *HoldError when logins are on hold.
func (r *Runner) Respond(ctx context.Context, c *authpilot.Case, resp connectors.Response) (authpilot.Observation, error) {
	if !r.caps.Respond {
		return authpilot.Observation{CaseID: c.ID}, unsupported(r.id, "respond")
	}
	redact := []string{resp.Note}
	for _, f := range resp.Files {
		redact = append(redact, f.Name)
	}
	return r.act(ctx, "respond", c, redact, func(ctx context.Context, sess connectors.Session) (authpilot.Observation, error) {
		s, ok := sess.(connectors.Responder)
		if !ok {
			return authpilot.Observation{}, unsupported(r.id, "respond")
		}
		return s.Respond(ctx, c, resp)
	})
}

// Withdraw withdraws c's request at the payer in one visit of the
// connector, with everything Respond has around it.
func (r *Runner) Withdraw(ctx context.Context, c *authpilot.Case, reason string) (authpilot.Observation, error) {
	if !r.caps.Withdraw {
		return authpilot.Observation{CaseID: c.ID}, unsupported(r.id, "withdraw")
	}
	return r.act(ctx, "withdraw", c, []string{reason}, func(ctx context.Context, sess connectors.Session) (authpilot.Observation, error) {
		s, ok := sess.(connectors.Withdrawer)
		if !ok {
			return authpilot.Observation{}, unsupported(r.id, "withdraw")
		}
		return s.Withdraw(ctx, c, reason)
	})
}

type recordingKey struct{}

// RecordingTo returns a context under which Respond and Withdraw store the
// ID of their visit's recording in *id (the caller's event links to it).
func RecordingTo(ctx context.Context, id *string) context.Context {
	return context.WithValue(ctx, recordingKey{}, id)
}

func unsupported(id, what string) error {
	return &authpilot.Error{Class: connectors.ErrUnsupported, Step: what,
		Msg: fmt.Sprintf("connector %s cannot %s at the payer (no %s capability)", id, what, what)}
}

// act runs fn in one visit of the connector for case c. Errors about the
// case alone (the payer's page shows another request, the payer refused
// the action, no such capability) are returned but are not a failure of
// the connector: they neither count toward connector_failing nor alert.
func (r *Runner) act(ctx context.Context, job string, c *authpilot.Case, redact []string,
	fn func(ctx context.Context, sess connectors.Session) (authpilot.Observation, error)) (authpilot.Observation, error) {
	r.Lock()
	defer r.Unlock()
	var obs authpilot.Observation
	var actErr error
	out := r.Run(ctx, job, []*authpilot.Case{c}, func(ctx context.Context, v Visit) error {
		if v.Recorder != nil {
			v.Recorder.Redact(nonEmpty(redact)...)
		}
		obs, actErr = fn(ctx, v.Session)
		if actErr == nil && obs.Shown != nil {
			// A session that acted on a request it did not check: what
			// it shows is not the case's, so nothing of it is applied.
			if diff := c.IdentityMismatch(*obs.Shown); len(diff) > 0 {
				actErr = connectors.NotThisCase(job, diff)
			}
		}
		if caseLevel(actErr) {
			return nil
		}
		return actErr
	})
	if p, ok := ctx.Value(recordingKey{}).(*string); ok && p != nil {
		*p = out.Recording
	}
	obs.CaseID = c.ID
	switch {
	case out.Held != nil:
		return obs, out.Held
	case out.Err != nil:
		return obs, out.Err
	case actErr != nil:
		return obs, fmt.Errorf("%s case %s through connector %s: %w", job, c.ID, r.id, actErr)
	}
	return obs, nil
}

// caseLevel reports an action error that is about the case, not the
// connector.
func caseLevel(err error) bool {
	return errors.Is(err, connectors.ErrNotThisCase) || errors.Is(err, authpilot.ErrRejected) ||
		errors.Is(err, connectors.ErrUnsupported) || errors.Is(err, authpilot.ErrRequestNotFound)
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}
