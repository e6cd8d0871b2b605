package portal

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
)

// Respond runs the respond flow for c's pended request: its steps open the
// request and read what identifies it, and before the first upload or the
// final step the identity read must match c (else nothing is sent and the
// error wraps connectors.ErrNotThisCase). The response's files are written
// under their own names in the visit's private directory for the upload
// step (files: response, or .Response.Files). The observation is what the
// result steps read (status), else in review (submitted).
func (s *Session) Respond(ctx context.Context, c *authpilot.Case, resp connectors.Response) (authpilot.Observation, error) {
	f := s.c.opts.Respond
	if f == nil {
		return authpilot.Observation{CaseID: c.ID}, &authpilot.Error{Class: authpilot.ErrUnsupported, Step: "respond", Msg: "no respond flow configured"}
	}
	s.rec.Redact(resp.Note)
	files, err := s.responseFiles(resp.Files)
	if err != nil {
		return authpilot.Observation{CaseID: c.ID}, &authpilot.Error{Class: authpilot.ErrNeedsHuman, Step: "respond", Msg: "prepare the files to upload", Err: err}
	}
	data := func() *tmplData {
		return &tmplData{Case: c, Vars: map[string]any{}, Response: &ResponseData{Note: resp.Note, Files: files}}
	}
	return s.act(ctx, "respond", f, c, data, authpilot.StatusSubmitted)
}

// Withdraw runs the withdraw flow for c's request, with Respond's identity
// check before its final step. The observation is what the result steps
// read, else withdrawn.
func (s *Session) Withdraw(ctx context.Context, c *authpilot.Case, reason string) (authpilot.Observation, error) {
	f := s.c.opts.Withdraw
	if f == nil {
		return authpilot.Observation{CaseID: c.ID}, &authpilot.Error{Class: authpilot.ErrUnsupported, Step: "withdraw", Msg: "no withdraw flow configured"}
	}
	s.rec.Redact(reason)
	data := func() *tmplData { return &tmplData{Case: c, Vars: map[string]any{}, Reason: reason} }
	return s.act(ctx, "withdraw", f, c, data, authpilot.StatusWithdrawn)
}

// act runs an action flow (steps, final, result) for c, as submit runs
// its flow (send), with checkShown as its guard.
func (s *Session) act(ctx context.Context, name string, f *SubmitFlow, c *authpilot.Case, data func() *tmplData, done authpilot.Status) (authpilot.Observation, error) {
	obs := authpilot.Observation{CaseID: c.ID}
	if normRef(c.PayerRef) == "" {
		return obs, &authpilot.Error{Class: authpilot.ErrRequestNotFound, Step: name, Msg: "the case has no payer reference"}
	}
	r, err := s.send(ctx, c, sendFlow{name: name, flow: f, data: data,
		prepare: func(r *runner) { r.out.guard = func() error { return s.c.opts.checkShown(c, r.data.Vars, name) } },
		final: func(r *runner) {
			r.out.beforeFinal = func(context.Context) error { return r.checkGuard() }
			r.out.hookWhat = "check that the page shows the case's request"
		},
		sent: "the payer may have received it"})
	if err != nil {
		return obs, err
	}
	out, oerr := s.c.opts.outcomeOf(c, r.data.Vars, name+".result")
	obs.Status, obs.StatusText, obs.Shown = done, out.statusText, s.c.opts.shown(r.data.Vars)
	if oerr != nil {
		// It was sent; the wording is checked again on the next poll.
		s.log.Warn("portal "+name+" result not understood", "case", c.ID, "err", oerr)
	} else if out.hasStatus {
		obs.Status, obs.Determination = out.status, out.det
	}
	s.log.Info("portal "+name+" done", "case", c.ID, "status", obs.Status)
	return obs, nil
}

// checkShown is an action flow's guard: the page must have shown the
// case's request (its payer reference if read, and the declared identity
// fields) before anything is sent.
func (o *Options) checkShown(c *authpilot.Case, vars map[string]any, step string) error {
	if ref := varString(vars, VarPayerRef); ref != "" && normRef(ref) != normRef(c.PayerRef) {
		return connectors.NotThisCase(step, []string{VarPayerRef})
	}
	shown := o.shown(vars)
	if shown == nil || shown.IsZero() {
		return &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: step,
			Msg: "nothing sent: no identity field was read before the first upload or the final step, so the request cannot be checked against the case"}
	}
	if diff := c.IdentityMismatch(*shown); len(diff) > 0 {
		return connectors.NotThisCase(step, diff)
	}
	return nil
}

// responseFiles writes a response's files under their own names (made
// safe) in the visit's private directory.
func (s *Session) responseFiles(files []authpilot.File) ([]ResponseFile, error) {
	if len(files) == 0 {
		return nil, nil
	}
	work, err := s.workDir()
	if err != nil {
		return nil, err
	}
	out := make([]ResponseFile, 0, len(files))
	for i, f := range files {
		s.rec.Redact(f.Name)
		dir := filepath.Join(work, fmt.Sprintf("response-%d-%d", time.Now().UnixNano(), i))
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create upload directory: %w", err)
		}
		p := filepath.Join(dir, uploadName(authpilot.Attachment{Name: f.Name, ContentType: f.ContentType}, i))
		if err := os.WriteFile(p, f.Data, 0o600); err != nil {
			return nil, fmt.Errorf("write file %d to upload: %w", i+1, err)
		}
		out = append(out, ResponseFile{Name: filepath.Base(p), ContentType: f.ContentType, Path: p})
	}
	return out, nil
}
