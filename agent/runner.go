package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent/run"
	"github.com/authpilot/authpilot/connectors"
)

// Recording is one connector run's evidence.
type Recording = run.Recording

// Recordings starts recordings.
type Recordings = run.Recordings

// runner is the agent's side of one connector's runs: what a submit or a
// poll does with the cases. Everything around it (the lock, the timeout,
// logins with their retries and politeness, the pace of requests, the
// recording, metrics, the failure streak, run-level alerts) is the
// standalone run.Runner's.
type runner struct {
	*run.Runner
	id   string
	caps connectors.Capabilities
	a    *Agent
	log  *slog.Logger
}

// RunResult sums up one connector run.
type RunResult struct {
	Connector string
	Job       string
	Recording string
	Cases     int
	Changed   int
	Submitted int
	// Rejected counts requests the payer refused in this run (now in
	// status rejected). A refusal is the payer's answer, not a failure of
	// the run: it is not in Err and does not count toward connector_failing.
	Rejected int
	// Held is set when the run made no login because the connector's
	// logins are paused, held by a Retry-After or at the hourly cap.
	Held *HoldError
	Err  error
}

// poll observes every pending case of the connector in one session,
// with the decided cases whose watch is due (Agent.watchDue); approvals
// that lapsed unused are expired first.
func (r *runner) poll(ctx context.Context) RunResult {
	r.Lock()
	defer r.Unlock()
	res := RunResult{Connector: r.id, Job: "poll"}
	if err := r.a.expireLapsed(ctx, r.id); err != nil {
		r.log.Error("expiring lapsed approvals failed", "err", err)
	}
	if !r.caps.Poll {
		return res
	}
	cases, err := r.a.store.ListCases(ctx, authpilot.CaseFilter{ConnectorID: r.id,
		Statuses: []authpilot.Status{authpilot.StatusSubmitted, authpilot.StatusPended, authpilot.StatusContactPayer}})
	if err != nil {
		res.Err = fmt.Errorf("list cases: %w", err)
		return res
	}
	watched, err := r.a.watchDue(ctx, r.id)
	if err != nil {
		res.Err = err
		return res
	}
	cases = append(cases, watched...)
	res.Cases = len(cases)
	if len(cases) == 0 {
		return res
	}
	r.visit(ctx, "poll", cases, &res, func(ctx context.Context, sess connectors.Session, rec string) {
		byID := map[string]*authpilot.Case{}
		for _, c := range cases {
			byID[c.ID] = c
		}
		var applyErr error
		apply := func(o authpilot.Observation) {
			c, ok := byID[o.CaseID]
			if !ok {
				r.log.Warn("observation for a case not polled", "case", o.CaseID)
				return
			}
			if c.NoOp(o) {
				return
			}
			if refused, err := r.refuseObservation(ctx, c, o, rec); refused || err != nil {
				applyErr = errors.Join(applyErr, err)
				return
			}
			changed, err := r.a.observe(ctx, o.CaseID, o, "agent:"+r.id, rec)
			if err != nil {
				applyErr = errors.Join(applyErr, err)
				return
			}
			if changed {
				res.Changed++
			}
		}
		var err error
		if sp, ok := sess.(connectors.StreamPoller); ok {
			// Each observation is stored while the visit goes on.
			ch := make(chan authpilot.Observation, len(cases))
			applied := make(chan struct{})
			go func() {
				defer close(applied)
				for o := range ch {
					apply(o)
				}
			}()
			err = sp.PollEach(ctx, cases, func(o authpilot.Observation) { ch <- o })
			close(ch)
			<-applied
		} else {
			var obs []authpilot.Observation
			obs, err = sess.Poll(ctx, cases)
			for _, o := range obs {
				apply(o)
			}
		}
		res.Err = errors.Join(err, applyErr)
	})
	if res.Err == nil && res.Held == nil {
		if err := r.a.markWatched(ctx, watched); err != nil {
			r.log.Error("recording the watch of decided cases failed", "err", err)
		}
	}
	return res
}

// visit runs fn in one visit of the connector (run.Runner.Run: one
// recorded, time-bounded login) over cases. fn leaves the run's error in
// res.Err, which the runner counts, records and alerts on; a hold or a
// failure to log in goes to res.Held and res.Err.
func (r *runner) visit(ctx context.Context, job string, cases []*authpilot.Case, res *RunResult, fn func(ctx context.Context, sess connectors.Session, rec string)) {
	out := r.Run(ctx, job, cases, func(ctx context.Context, v run.Visit) error {
		fn(ctx, v.Session, v.Recording)
		return res.Err
	})
	res.Recording = out.Recording
	if out.Held != nil || out.Err != nil {
		res.Held, res.Err = out.Held, out.Err
	}
}

// observe stores an observation's files and applies it to the case in one
// transaction. It reports whether the status changed.
func (a *Agent) observe(ctx context.Context, caseID string, o authpilot.Observation, actor, rec string) (bool, error) {
	letters, err := a.storeFiles(ctx, caseID, o.Files)
	if err != nil {
		return false, err
	}
	changed := false
	_, err = a.store.UpdateCase(ctx, caseID, func(c *authpilot.Case) (authpilot.Changes, error) {
		old := c.Status
		ch := c.Apply(o, letters, actor, rec, a.localNow())
		changed = c.Status != old
		if changed {
			decisionWindows(ch.Alerts, a.rules.Compute(c, a.cal, a.now()), a.cfg.Location())
		}
		return ch, nil
	})
	if err != nil {
		return false, fmt.Errorf("apply observation to case %s: %w", caseID, err)
	}
	if changed {
		a.metrics.StatusChanges.WithLabelValues(string(o.Status)).Inc()
		a.log.Info("case status changed", "case", caseID, "status", o.Status, "recording", rec)
		a.kickDispatcher()
	}
	return changed, nil
}

func (a *Agent) storeFiles(ctx context.Context, caseID string, files []authpilot.File) ([]string, error) {
	var shas []string
	for _, f := range files {
		kind := f.Kind
		if kind == "" {
			kind = authpilot.DocLetter
		}
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		doc, err := a.store.PutDocument(ctx, authpilot.Document{CaseID: caseID, Kind: kind, Name: f.Name, ContentType: ct}, bytes.NewReader(f.Data))
		if err != nil {
			return nil, fmt.Errorf("store document for case %s: %w", caseID, err)
		}
		if kind == authpilot.DocLetter {
			shas = append(shas, doc.SHA256)
		}
	}
	return shas, nil
}

// submit reconciles interrupted submissions, then submits every ready case
// of the connector in one session.
func (r *runner) submit(ctx context.Context) RunResult {
	r.Lock()
	defer r.Unlock()
	res := RunResult{Connector: r.id, Job: "submit"}
	if !r.caps.Submit {
		return res
	}
	pending, err := r.a.store.ListCases(ctx, authpilot.CaseFilter{ConnectorID: r.id,
		Statuses: []authpilot.Status{authpilot.StatusSubmitting, authpilot.StatusReady}})
	if err != nil {
		res.Err = fmt.Errorf("list cases: %w", err)
		return res
	}
	var todo []*authpilot.Case
	for _, c := range pending {
		if c.Tracked {
			continue
		}
		if c.Status == authpilot.StatusSubmitting && !r.caps.Find {
			// This payer cannot be searched: once a person has been asked
			// to check the portal, another visit could only repeat the
			// question (a login and a needs_human event every cycle).
			asked, err := r.askedSinceIntent(ctx, c.ID)
			if err != nil {
				res.Err = errors.Join(res.Err, err)
				continue
			}
			if asked {
				continue
			}
		}
		todo = append(todo, c)
	}
	// A second open request for the same member, codes and service date
	// at this payer is never submitted (before any login).
	todo, res.Err = r.refuseDuplicates(ctx, todo)
	res.Cases = len(todo)
	if len(todo) == 0 {
		return res
	}
	r.visit(ctx, "submit", todo, &res, func(ctx context.Context, sess connectors.Session, rec string) {
		// Interrupted submissions first: a case left in submitting may
		// already be at the payer, so search before submitting it again.
		for _, c := range todo {
			if c.Status != authpilot.StatusSubmitting {
				continue
			}
			if err := r.reconcile(ctx, sess, c, rec); err != nil {
				res.Err = errors.Join(res.Err, err)
			}
		}
		for _, c := range todo {
			if ctx.Err() != nil {
				break
			}
			cur, err := r.a.store.GetCase(ctx, c.ID)
			if err != nil {
				res.Err = errors.Join(res.Err, err)
				continue
			}
			if cur.Status != authpilot.StatusReady {
				continue
			}
			ok, err := r.submitOne(ctx, sess, cur, rec)
			if ok {
				res.Submitted++
			}
			if errors.Is(err, errRefused) {
				res.Rejected++
				continue
			}
			if err != nil {
				res.Err = errors.Join(res.Err, err)
				if isSessionFatal(err) {
					break
				}
			}
		}
	})
	return res
}

// askedSinceIntent reports whether a person was asked (needs_human) about
// a case since its last submission intent.
func (r *runner) askedSinceIntent(ctx context.Context, caseID string) (bool, error) {
	evs, err := r.a.store.Events(ctx, caseID)
	if err != nil {
		return false, fmt.Errorf("events of case %s: %w", caseID, err)
	}
	asked := false
	for _, e := range evs {
		switch e.Type {
		case authpilot.EventSubmitIntent:
			asked = false
		case authpilot.EventNeedsHuman:
			asked = true
		}
	}
	return asked, nil
}

// isSessionFatal reports errors after which the session is unusable for
// further cases in this run.
func isSessionFatal(err error) bool {
	return errors.Is(err, authpilot.ErrAuth) || errors.Is(err, authpilot.ErrNeedsHuman) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

func (r *runner) submitOne(ctx context.Context, sess connectors.Session, c *authpilot.Case, rec string) (bool, error) {
	actor := "agent:" + r.id
	committed := false
	commit := func(ctx context.Context) error {
		_, err := r.a.store.UpdateCase(ctx, c.ID, func(cc *authpilot.Case) (authpilot.Changes, error) {
			if cc.Status != authpilot.StatusReady {
				return authpilot.Changes{}, fmt.Errorf("case %s is %s, not ready: %w", cc.ID, cc.Status, authpilot.ErrConflict)
			}
			cc.Status = authpilot.StatusSubmitting
			return authpilot.Changes{Events: []authpilot.Event{{Type: authpilot.EventSubmitIntent, Actor: actor,
				From: authpilot.StatusReady, To: authpilot.StatusSubmitting, Recording: rec, At: r.a.now().UTC()}}}, nil
		})
		if err == nil {
			committed = true
		}
		return err
	}
	sub, err := sess.Submit(ctx, c, commit)
	if err != nil && refusedByPayer(err, committed) {
		// The payer refused the request: nothing is pending there, and
		// posting it again would be refused again.
		r.log.Warn("payer rejected the request", "case", c.ID, "committed", committed, "err", err)
		if rerr := r.reject(ctx, c.ID, err, actor, rec); rerr != nil {
			return false, errors.Join(err, rerr)
		}
		return false, errRefused
	}
	if err != nil {
		// Before the intent, nothing reached the payer: the case stays
		// ready. After it, the final step may or may not have reached the
		// payer: the case stays in submitting and the next run reconciles
		// it before anything is submitted again. Either way the error is
		// kept on the case.
		r.log.Warn("submit failed", "case", c.ID, "committed", committed, "class", authpilot.ErrorClass(err), "err", err)
		return false, r.recordCaseError(ctx, c.ID, err, actor, rec)
	}
	if !committed {
		return false, fmt.Errorf("connector %s submitted case %s without recording the intent", r.id, c.ID)
	}
	return true, r.a.applySubmission(ctx, c.ID, sub, authpilot.EventSubmitted, actor, rec)
}

// refusedByPayer reports whether a submit error is the payer's refusal of
// the request: a rejected-class error the payer answered after the intent
// (the final click, the POST), or one that carries the payer's own words
// (a rejection banner on an earlier page). A rejected-class error the
// connector raised itself before sending anything (a PAS Bundle that cannot
// be built from the case) is not: the case stays ready with its error.
func refusedByPayer(err error, committed bool) bool {
	if !errors.Is(err, authpilot.ErrRejected) {
		return false
	}
	var ce *authpilot.Error
	return committed || errors.As(err, &ce) && ce.PayerText != ""
}

// errRefused marks a submission the payer refused and the case recorded
// as rejected: the run goes on and does not count it as a failure.
var errRefused = errors.New("request rejected by the payer")

// reject records a refusal by the payer: the case (ready, or submitting
// once the intent was recorded) becomes rejected, carrying the payer's own
// words in its status text, the event's raw text and the alert's reason.
// It raises one submission_rejected alert. No automatic path leaves
// rejected: the submit job lists only ready and submitting cases, so the
// request is never posted again until a person re-queues it.
func (r *runner) reject(ctx context.Context, caseID string, cause error, actor, rec string) error {
	msg := authpilot.ErrorText(cause)
	words := ""
	var ce *authpilot.Error
	if errors.As(cause, &ce) {
		words = ce.PayerText
	}
	now := r.a.now().UTC()
	_, err := r.a.store.UpdateCase(ctx, caseID, func(c *authpilot.Case) (authpilot.Changes, error) {
		if c.Status != authpilot.StatusSubmitting && c.Status != authpilot.StatusReady {
			return authpilot.Changes{}, fmt.Errorf("case %s is %s, not ready or submitting: %w", c.ID, c.Status, authpilot.ErrConflict)
		}
		old := c.Status
		c.Status = authpilot.StatusRejected
		c.StatusText = words
		c.LastError = msg
		detail, _ := json.Marshal(map[string]string{"error": msg, "class": authpilot.ErrorClass(cause)})
		alert := c.NewAlert(authpilot.AlertSubmissionRejected, authpilot.SeverityCritical,
			rejectedTitle(words), "Read the payer's reason, correct the case, then re-queue it; authpilot will not resubmit it by itself",
			now, rec, "submission_rejected:"+c.ID+":"+fmt.Sprint(c.Version))
		alert.PrevStatus = old
		alert.Reason = words
		if alert.Reason == "" {
			alert.Reason = msg
		}
		return authpilot.Changes{
			Events: []authpilot.Event{{Type: authpilot.EventSubmissionRejected, Actor: actor, From: old,
				To: authpilot.StatusRejected, RawText: words, Recording: rec, At: now, Detail: detail}},
			Alerts: []authpilot.Alert{alert},
		}, nil
	})
	if err != nil {
		return fmt.Errorf("record rejection of case %s: %w", caseID, err)
	}
	r.a.metrics.StatusChanges.WithLabelValues(string(authpilot.StatusRejected)).Inc()
	r.a.kickDispatcher()
	return nil
}

// rejectedTitle is a submission_rejected alert's title: it quotes the
// payer's own words (up to 160 characters; the Dispatcher redacts known PHI
// for a sink without include_phi), so the alert reads as the portal's
// refusal and not as a generic failure.
func rejectedTitle(words string) string {
	const title = "The payer rejected the request"
	words = strings.Join(strings.Fields(words), " ")
	if words == "" {
		return title
	}
	if r := []rune(words); len(r) > 160 {
		words = string(r[:159]) + "…"
	}
	return title + ": \u201c" + words + "\u201d"
}

// applySubmission records the payer's answer to a submit (or a find during
// reconciliation): submitting → submitted (or a decision given at once).
func (a *Agent) applySubmission(ctx context.Context, caseID string, sub *authpilot.Submission, evType authpilot.EventType, actor, rec string) error {
	letters, err := a.storeFiles(ctx, caseID, sub.Files)
	if err != nil {
		return err
	}
	now := a.now().UTC()
	updated, err := a.store.UpdateCase(ctx, caseID, func(c *authpilot.Case) (authpilot.Changes, error) {
		ch, err := c.ApplySubmission(*sub, letters, evType, actor, rec, now.In(a.cfg.Location()))
		if err == nil {
			decisionWindows(ch.Alerts, a.rules.Compute(c, a.cal, now), a.cfg.Location())
		}
		return ch, err
	})
	if err != nil {
		return fmt.Errorf("record submission of case %s: %w", caseID, err)
	}
	a.caseDeadlines(ctx, updated)
	a.metrics.StatusChanges.WithLabelValues(string(authpilot.StatusSubmitted)).Inc()
	a.log.Info("case submitted", "case", caseID, "recording", rec)
	a.kickDispatcher()
	return nil
}

// reconcile settles a case left in submitting by a crash or an error after
// the intent was recorded: found at the payer → submitted; certainly not
// there → ready again; cannot tell → needs_human, and the case stays put.
func (r *runner) reconcile(ctx context.Context, sess connectors.Session, c *authpilot.Case, rec string) error {
	actor := "agent:" + r.id
	if !r.caps.Find {
		return r.needsHuman(ctx, c, "Submission interrupted and this payer cannot be searched",
			"Check the payer's portal for this request; then mark the case submitted or ready", rec)
	}
	// Only a request made since the intent can be this case's.
	since, err := r.intentTime(ctx, c.ID)
	if err != nil {
		return err
	}
	sub, err := sess.Find(ctx, c, since)
	switch {
	case err == nil:
		if fields := c.LinkProblem(sub.Shown, true); len(fields) > 0 {
			// Another patient's or another service's request: never
			// applied, and the case is not submitted again by itself.
			return r.refuseLink(ctx, c.ID, sub.PayerRef, "find", fields, rec)
		}
		r.log.Info("interrupted submission found at the payer", "case", c.ID)
		return r.a.applySubmission(ctx, c.ID, sub, authpilot.EventReconciled, actor, rec)
	case errors.Is(err, authpilot.ErrRequestNotFound):
		r.log.Info("interrupted submission not at the payer, will submit again", "case", c.ID)
		_, err := r.a.store.UpdateCase(ctx, c.ID, func(cc *authpilot.Case) (authpilot.Changes, error) {
			if cc.Status != authpilot.StatusSubmitting {
				return authpilot.Changes{}, fmt.Errorf("case %s is %s: %w", cc.ID, cc.Status, authpilot.ErrConflict)
			}
			cc.Status = authpilot.StatusReady
			return authpilot.Changes{Events: []authpilot.Event{{Type: authpilot.EventReconciled, Actor: actor,
				From: authpilot.StatusSubmitting, To: authpilot.StatusReady, Recording: rec, At: r.a.now().UTC(),
				RawText: "no request found at the payer"}}}, nil
		})
		return err
	default:
		r.log.Warn("cannot tell whether an interrupted submission reached the payer", "case", c.ID, "err", err)
		return errors.Join(err, r.needsHuman(ctx, c, "Cannot tell whether an interrupted submission reached the payer",
			"Check the payer's portal for this request before anyone resubmits it", rec))
	}
}

func (r *runner) needsHuman(ctx context.Context, c *authpilot.Case, title, action, rec string) error {
	now := r.a.now().UTC()
	_, err := r.a.store.UpdateCase(ctx, c.ID, func(cc *authpilot.Case) (authpilot.Changes, error) {
		return authpilot.Changes{
			Events: []authpilot.Event{{Type: authpilot.EventNeedsHuman, Actor: "agent:" + r.id, RawText: title, Recording: rec, At: now}},
			Alerts: []authpilot.Alert{cc.NewAlert(authpilot.AlertNeedsHuman, authpilot.SeverityCritical, title, action, now, rec,
				"needs_human:"+title+":"+cc.ID)},
		}, nil
	})
	r.a.kickDispatcher()
	return err
}

func (r *runner) recordCaseError(ctx context.Context, caseID string, cause error, actor, rec string) error {
	msg := authpilot.ErrorText(cause)
	_, err := r.a.store.UpdateCase(ctx, caseID, func(c *authpilot.Case) (authpilot.Changes, error) {
		if c.LastError == msg {
			return authpilot.Changes{}, nil
		}
		c.LastError = msg
		detail, _ := json.Marshal(map[string]string{"error": msg, "class": authpilot.ErrorClass(cause)})
		return authpilot.Changes{Events: []authpilot.Event{{Type: authpilot.EventSubmitFailed, Actor: actor, Recording: rec, At: r.a.now().UTC(), Detail: detail}}}, nil
	})
	if err != nil {
		return errors.Join(cause, err)
	}
	return cause
}
