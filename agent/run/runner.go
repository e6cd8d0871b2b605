package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/schedules"
)

// Recording is one connector run's evidence.
type Recording interface {
	connectors.Recorder
	// Finish closes the recording with the run's outcome.
	Finish(err error) error
}

// Recordings starts recordings.
type Recordings interface {
	Start(connectorID, job string) Recording
}

// Alerts is where a runner's alerts go: it writes them to the store's
// outbox (with the connector state or problem they belong to) and then
// kicks the dispatcher, which delivers them.
type Alerts interface {
	Kick()
}

// PHI is refreshed before a visit is recorded: pages show other patients,
// so a recording never starts without every patient's values to redact.
type PHI interface {
	Refresh(ctx context.Context) error
}

// Metrics are the runner's share of the daemon's Prometheus metrics.
type Metrics struct {
	Runs          *prometheus.CounterVec   // connector, job, outcome
	Duration      *prometheus.HistogramVec // connector, job
	Logins        *prometheus.CounterVec   // connector
	AlertsRaised  *prometheus.CounterVec   // type
	RateLimitWait *prometheus.HistogramVec // connector
}

// Deps are what a runner is handed: the store, the clock, the recorder
// factory, the alert sink, the PHI index, the metrics and the process
// logger.
type Deps struct {
	Store      authpilot.Store
	Clock      schedules.Clock
	Recordings Recordings
	Alerts     Alerts
	PHI        PHI
	Metrics    *Metrics
	Logger     *slog.Logger
}

// Limits are one connector's limits from authpilot.yaml.
type Limits struct {
	// Timeout bounds one run (a poll cycle, a submit batch).
	Timeout time.Duration
	// Retries are the login retries of a temporary failure.
	Retries int
	// RequestsPerMinute paces the connector's requests (0: unpaced).
	RequestsPerMinute int
	// Pages caps a portal's open pages (0: the flow's).
	Pages  int
	Polite Politeness
}

// Runner drives one connector, as Telegraf's RunningInput drives an input:
// it owns the connector's lock (one run at a time, so one login per
// cycle), its run timeout, its login retries and politeness (pause,
// Retry-After, hourly cap), the pace of its requests, the recording of
// every run, its metrics, its failure streak and the run-level alerts, and
// a logger scoped with the connector (and each run with its recording).
// What a run does with the cases (submit, poll, apply) is the caller's
// function, handed a logged-in Visit.
type Runner struct {
	id      string
	conn    connectors.Connector
	caps    connectors.Capabilities
	limits  Limits
	polite  Politeness
	limiter *Limiter

	store   authpilot.Store
	clock   schedules.Clock
	recs    Recordings
	alerts  Alerts
	phi     PHI
	metrics *Metrics
	log     *slog.Logger

	mu     sync.Mutex // held for a whole run
	failMu sync.Mutex
	// failures is the streak of failed runs as last stored
	// (ConnectorState.FailedRuns, which the health page and the API
	// read) or, when the store failed, counted.
	failures int
}

// New builds the runner of connector id: it paces the connector's
// requests (limits.requests_per_minute) and caps its pages (limits.pages)
// through the Env it builds the connector with (build is the kind's New).
func New(id string, l Limits, d Deps, build func(connectors.Env) (connectors.Connector, error), env connectors.Env) (*Runner, error) {
	r := &Runner{id: id, limits: l, polite: l.Polite, store: d.Store, clock: d.Clock, recs: d.Recordings,
		alerts: d.Alerts, phi: d.PHI, metrics: d.Metrics, log: d.Logger}
	if r.clock == nil {
		r.clock = schedules.RealClock{}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("connector", id)
	env.ID, env.Pages = id, l.Pages
	if r.limiter = NewLimiter(l.RequestsPerMinute, r.clock); r.limiter != nil {
		if d.Metrics != nil && d.Metrics.RateLimitWait != nil {
			w := d.Metrics.RateLimitWait.WithLabelValues(id)
			r.limiter.Waited = func(d time.Duration) { w.Observe(d.Seconds()) }
		}
		env.Limiter = r.limiter
	}
	conn, err := build(env)
	if err != nil {
		return nil, err
	}
	r.conn, r.caps = conn, conn.Capabilities()
	return r, nil
}

// ID is the connector's ID.
func (r *Runner) ID() string { return r.id }

// Capabilities says what the connector can do.
func (r *Runner) Capabilities() connectors.Capabilities { return r.caps }

// Logger is the connector's logger.
func (r *Runner) Logger() *slog.Logger { return r.log }

// Lock takes the connector for a whole run (a job's listing, its visit
// and what it applies): runs of one connector never overlap.
func (r *Runner) Lock() { r.mu.Lock() }

// Unlock releases the connector.
func (r *Runner) Unlock() { r.mu.Unlock() }

// Close closes the connector.
func (r *Runner) Close() error { return r.conn.Close() }

func (r *Runner) now() time.Time { return r.clock.Now() }

// wait sleeps d on the runner's clock, or until ctx ends.
func (r *Runner) wait(ctx context.Context, d time.Duration) error {
	t := r.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// Visit is one logged-in, recorded session of a run.
type Visit struct {
	Session connectors.Session
	// Recording is the run's recording ID (events link to it).
	Recording string
	// Log is the connector's logger scoped with the run.
	Log *slog.Logger
	// Recorder is the run's recording (to register more values to redact).
	Recorder connectors.Recorder
}

// Outcome is what Run reports of a visit.
type Outcome struct {
	Recording string
	// Held is set when no login was made because the connector's logins
	// are paused, held by a Retry-After or at the hourly cap.
	Held *HoldError
	// Err is a failure to start the visit (the login).
	Err error
}

// Run runs fn in one recorded, time-bounded session of the connector (one
// login) over cases, whose PHI the recording redacts. fn's error, with a
// login failure, is the run's: Run counts it, records it, keeps the
// failure streak and raises the run-level alerts (portal_changed,
// needs_human, connector_failing after three failures in a row; a login
// that needs a person pauses the connector's logins). The caller holds
// Lock.
func (r *Runner) Run(ctx context.Context, job string, cases []*authpilot.Case, fn func(ctx context.Context, v Visit) error) Outcome {
	ctx, cancel := context.WithTimeout(ctx, r.limits.Timeout)
	defer cancel()
	var out Outcome
	if h, err := r.held(ctx); err != nil || h != nil {
		out.Held, out.Err = h, err
		if h != nil {
			r.metrics.Runs.WithLabelValues(r.id, job, "held").Inc()
			r.log.Info("connector run skipped: logins on hold", "job", job, "hold", h.Why, "until", h.Until)
		}
		return out
	}
	start := time.Now()
	if err := r.phi.Refresh(ctx); err != nil {
		// Pages show other patients: never record without their values.
		out.Err = err
		return out
	}
	rec := r.recs.Start(r.id, job)
	out.Recording = rec.ID()
	log := r.log.With("run", rec.ID())
	redactCases(rec, cases)
	var runErr error
	defer func() { r.finish(ctx, log, rec, job, start, runErr) }()
	sess, err := r.open(ctx, log, rec)
	if err != nil {
		runErr = &loginError{err}
		out.Err = runErr
		return out
	}
	defer sess.Close()
	runErr = fn(ctx, Visit{Session: sess, Recording: rec.ID(), Log: log, Recorder: rec})
	return out
}

// open starts a session with retries for temporary failures; every attempt
// is a login, so retries are few and spaced, and each one is admitted
// (pause, Retry-After, hourly cap) and counted first.
func (r *Runner) open(ctx context.Context, log *slog.Logger, rec Recording) (connectors.Session, error) {
	var err error
	for attempt := 0; attempt <= r.limits.Retries; attempt++ {
		if attempt > 0 {
			log.Warn("connector session failed, retrying", "attempt", attempt, "err", err)
			if werr := r.wait(ctx, backoff(attempt)); werr != nil {
				return nil, werr
			}
		}
		at, aerr := r.admit(ctx)
		if aerr != nil {
			return nil, errors.Join(err, aerr)
		}
		var sess connectors.Session
		sess, err = r.conn.Open(ctx, rec)
		if err == nil {
			r.metrics.Logins.WithLabelValues(r.id).Inc()
			r.loggedIn(ctx, log, sess, at)
			return sess, nil
		}
		// The payer said when to come back: no retry before then.
		if !errors.Is(err, authpilot.ErrRetryable) || authpilot.RetryAfterOf(err) > 0 {
			return nil, err
		}
	}
	return nil, err
}

func backoff(attempt int) time.Duration {
	d := time.Second << (attempt - 1)
	if d > 30*time.Second {
		d = 30 * time.Second
	}
	return d
}

// redactCases registers each case's PHI with the recording.
func redactCases(rec Recording, cases []*authpilot.Case) {
	for _, c := range cases {
		p := c.Patient
		rec.Redact(p.FirstName, p.LastName, p.MemberID, p.DOB.String(),
			fmt.Sprintf("%02d/%02d/%04d", p.DOB.Month, p.DOB.Day, p.DOB.Year))
	}
}

// finish closes the run's recording, counts it, and turns a run-level
// failure into the right alert.
func (r *Runner) finish(ctx context.Context, log *slog.Logger, rec Recording, job string, start time.Time, runErr error) {
	if err := rec.Finish(runErr); err != nil {
		log.Error("recording not finished", "recording", rec.ID(), "err", err)
	}
	outcome := "ok"
	if runErr != nil {
		outcome = authpilot.ErrorClass(runErr)
	}
	if errors.Is(runErr, ErrHeld) && !errors.Is(runErr, authpilot.ErrAuth) && !needsHumanAtLogin(runErr) {
		// A retry stopped by the hourly cap (or a pause another process
		// set): what failed before is retryable; the hold says when next.
		outcome = "held"
	}
	r.metrics.Runs.WithLabelValues(r.id, job, outcome).Inc()
	r.metrics.Duration.WithLabelValues(r.id, job).Observe(time.Since(start).Seconds())
	streak := r.countRun(ctx, log, runErr == nil)
	if runErr == nil {
		r.resolveProblems(ctx, log, job)
		return
	}
	log.Error("connector run failed", "job", job, "class", outcome, "recording", rec.ID(), "err", runErr)
	r.holdForRetryAfter(ctx, log, runErr)
	if r.pauseFor(ctx, log, runErr, rec.ID()) {
		return // the pause's alert says what to do
	}
	now := r.now().UTC()
	alert := authpilot.Alert{ConnectorID: r.id, At: now, Recording: rec.ID(), Reason: authpilot.ErrorText(runErr)}
	var ce *authpilot.Error
	switch {
	case errors.Is(runErr, authpilot.ErrPortalChanged):
		alert.Type, alert.Severity = authpilot.AlertPortalChanged, authpilot.SeverityCritical
		alert.Title = "The payer's portal no longer matches its flow"
		alert.Action = "Open the recording's screenshot, then update the connector's flow config"
		if errors.As(runErr, &ce) && len(ce.Screenshot) > 0 {
			if doc, err := r.store.PutDocument(ctx, authpilot.Document{Kind: "screenshot", Name: "portal-changed.png", ContentType: "image/png"}, bytes.NewReader(ce.Screenshot)); err == nil {
				alert.Screenshot = doc.SHA256
			}
		}
	case errors.Is(runErr, authpilot.ErrNeedsHuman), errors.Is(runErr, authpilot.ErrAuth):
		alert.Type, alert.Severity = authpilot.AlertNeedsHuman, authpilot.SeverityCritical
		alert.Title = "The payer's portal needs a person (" + outcome + ")"
		alert.Action = "Log in to the portal by hand (MFA, CAPTCHA or password) and check the connector's secrets"
	default:
		if streak < 3 {
			return
		}
		alert.Type, alert.Severity = authpilot.AlertConnectorFailing, authpilot.SeverityCritical
		alert.Title = fmt.Sprintf("Connector failing: %d runs in a row", streak)
		alert.Action = "Check the payer's portal status and the connector's recording"
	}
	// One alert per problem until the connector works again (problems.go).
	if !r.raiseProblem(ctx, log, connectorProblemKey(r.id, alert.Type, outcome, alert.Reason), alert) {
		return
	}
	r.metrics.AlertsRaised.WithLabelValues(string(alert.Type)).Inc()
	r.alerts.Kick()
}

// countRun adds a run to the connector's streak of failed runs (ok ends
// it) and returns the streak. The streak is kept in the store, so that a
// restart, or a run from another process, continues it; when the store
// cannot be written the process's own count stands in.
func (r *Runner) countRun(ctx context.Context, log *slog.Logger, ok bool) int {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	st, err := r.store.UpdateConnectorState(context.WithoutCancel(ctx), r.id, func(st *authpilot.ConnectorState) ([]authpilot.Alert, error) {
		if ok {
			st.FailedRuns = 0
		} else {
			st.FailedRuns++
		}
		return nil, nil
	})
	if err != nil {
		log.Error("failed-run streak not stored", "err", err)
		if ok {
			r.failures = 0
		} else {
			r.failures++
		}
		return r.failures
	}
	r.failures = st.FailedRuns
	return r.failures
}
