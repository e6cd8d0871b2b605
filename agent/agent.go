// Package agent is the authpilot daemon: it owns the scheduler, runs
// connector jobs (submit, poll) with timeouts, retries and recordings,
// applies what connectors observe to cases, computes deadlines, raises
// alerts and serves the intake API. New/Run/Close make it embeddable, so an
// end-to-end test runs the whole agent in-process.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent/handoff"
	"github.com/authpilot/authpilot/agent/run"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/config/secrets"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/recordings"
	"github.com/authpilot/authpilot/schedules"
	"github.com/authpilot/authpilot/store"
)

// Options are the agent's collaborators; zero fields get the real thing
// built from the config.
type Options struct {
	// Store defaults to the SQLite store in cfg.DataDir.
	Store authpilot.Store
	// Secrets defaults to the keyring of cfg.Keyring.
	Secrets authpilot.Secrets
	Logger  *slog.Logger
	// Clock defaults to the real clock; tests and the demo inject one.
	Clock schedules.Clock
	// Listener for the API; nil listens on cfg.Server.Listen. NoAPI skips it.
	Listener net.Listener
	NoAPI    bool
	// HTTPClient is used by notifiers (nil: a default client).
	HTTPClient *http.Client
	// ServerTimeouts bound the API's connections; zero fields take
	// DefaultServerTimeouts'.
	ServerTimeouts ServerTimeouts
	// Workspace, if set, builds the handler of every path the API does
	// not serve (the coordinators' web workspace, package web). Run calls
	// it once, before it serves.
	Workspace func(*Agent) (http.Handler, error)
}

// Agent is the daemon.
type Agent struct {
	cfg      *config.Config
	store    authpilot.Store
	secrets  authpilot.Secrets
	log      *slog.Logger
	clock    schedules.Clock
	metrics  *Metrics
	recs     Recordings
	recStore *recordings.Store
	phi      *phiIndex // every case's PHI, for recordings and alerts
	// resources are what connector kinds provided from their sections
	// of authpilot.yaml (the portal kind's browser), by kind, closed
	// after the connectors in reverse order.
	resources map[string]io.Closer
	resOrder  []string
	runners   map[string]*runner
	order     []string
	cal       *schedules.Calendar
	rules     schedules.Rules
	intake    *Intake
	actions   *Actions
	handOffs  *handoff.Broker
	notify    *notifyPipeline
	sched     *schedules.Scheduler
	listener  net.Listener
	server    *http.Server
	token     authpilot.Secret
	opts      Options

	closeOnce sync.Once
	ownStore  bool

	// bg is the context of background sends (Actions.Send); Close
	// cancels it and waits for them.
	bg       context.Context
	bgCancel context.CancelFunc
	sends    sync.WaitGroup
}

// New builds the agent from a validated config: it opens the store and the
// keyring and builds every connector (no logins, no browser yet).
func New(cfg *config.Config, opts Options) (*Agent, error) {
	a := &Agent{cfg: cfg, opts: opts, log: opts.Logger, clock: opts.Clock, metrics: NewMetrics(),
		runners: map[string]*runner{}, resources: map[string]io.Closer{}}
	a.bg, a.bgCancel = context.WithCancel(context.Background())
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.clock == nil {
		a.clock = schedules.RealClock{}
	}
	ctx := context.Background()
	a.store = opts.Store
	if a.store == nil {
		st, err := store.Open(ctx, cfg.DataDir, store.WithClock(a.now), store.WithLogger(a.log.With("component", "store")))
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		a.store, a.ownStore = st, true
	}
	a.secrets = opts.Secrets
	if a.secrets == nil {
		ko := cfg.Keyring.Options()
		ko.Logger = a.log.With("component", "keyring")
		kr, err := secrets.Open(ko)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("open keyring: %w", err)
		}
		a.secrets = kr
	}
	a.phi = newPHIIndex(a.store)
	rs, err := recordings.Open(cfg.DataDir+"/recordings", recordings.Options{
		Capture: cfg.Recordings.Capture, Retention: cfg.Recordings.Retention.Std(), Now: a.now,
		Logger: a.log.With("component", "recordings"), Index: a.phi.idx})
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("open recordings: %w", err)
	}
	a.recStore = rs
	a.recs = recordingsAdapter{rs}
	a.cal = schedules.NewCalendar(cfg.Location(), cfg.Practice.ClosedDays)
	a.rules = rulesFromConfig(cfg)
	a.intake = &Intake{Store: a.store, Dir: directory{cfg}, Now: a.now, Log: a.log.With("component", "intake")}

	a.handOffs = handoff.New(a.now, a.log.With("component", "handoff"))
	// Each connector's runner is handed what it needs, not the agent.
	deps := run.Deps{Store: a.store, Clock: a.clock, Recordings: a.recs, Alerts: kicker{a}, PHI: a.phi,
		Logger: a.log, Metrics: &run.Metrics{Runs: a.metrics.ConnectorRuns, Duration: a.metrics.RunDuration,
			Logins: a.metrics.Logins, AlertsRaised: a.metrics.AlertsRaised, RateLimitWait: a.metrics.RateLimitWait}}
	for _, cc := range cfg.Connectors {
		res, err := a.resource(cc.Kind)
		if err != nil {
			a.Close()
			return nil, err
		}
		env := connectors.Env{Logger: a.log, Secrets: a.secrets, Now: a.now,
			Location: cfg.Location(), DataDir: cfg.DataDir, Resource: res, HandOffs: a.handOffs}
		limits := run.Limits{Timeout: cc.Limits.Timeout.Std(), Retries: cc.Limits.Retries, Pages: cc.Limits.Pages,
			RequestsPerMinute: cc.Limits.RequestsPerMinute, Polite: politenessOf(cc.Limits)}
		rr, err := run.New(cc.ID, limits, deps, cc.Options.New, env)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("connector %q: %w", cc.ID, err)
		}
		a.runners[cc.ID] = &runner{Runner: rr, id: cc.ID, caps: rr.Capabilities(), a: a, log: rr.Logger()}
		a.order = append(a.order, cc.ID)
	}
	a.actions = NewActions(cfg, a.store, a.log.With("component", "actions"), a.now)
	a.actions.Capabilities = func(id string) (connectors.Capabilities, bool) {
		r, ok := a.runners[id]
		if !ok {
			return connectors.Capabilities{}, false
		}
		return r.caps, true
	}
	a.actions.Send, a.actions.Kick = a.send, a.kickDispatcher
	np, err := newNotifyPipeline(a)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.notify = np
	// The jobs are registered here, not in Run, so that everything run
	// refuses in a configuration New refuses too (config check runs the
	// same checks; see agenttest.CheckLikeRun).
	if a.sched, err = a.schedule(); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// resource returns what the kind provides its connectors from its section
// of authpilot.yaml (connectors.Section), building it on the kind's first
// connector: the portal kind's one headless browser, which launches on
// the first visit. A kind without a section provides nothing.
func (a *Agent) resource(kind string) (io.Closer, error) {
	if r, ok := a.resources[kind]; ok {
		return r, nil
	}
	k, ok := connectors.Lookup(kind)
	if !ok || k.Section == nil {
		return nil, nil
	}
	opts := a.cfg.Sections[k.Section.Name]
	if opts == nil {
		// A config not made by the loader: the kind's defaults.
		opts = k.Section.New()
		if err := opts.Check(a.cfg.DataDir); err != nil {
			return nil, fmt.Errorf("connector kind %q: %s defaults: %w", kind, k.Section.Name, err)
		}
	}
	r, err := opts.Provide(a.log.With("component", k.Section.Name))
	if err != nil {
		return nil, fmt.Errorf("connector kind %q: %s: %w", kind, k.Section.Name, err)
	}
	a.resources[kind] = r
	a.resOrder = append(a.resOrder, kind)
	return r, nil
}

func (a *Agent) now() time.Time { return a.clock.Now() }

// kicker is the runners' alert sink: the agent's dispatcher.
type kicker struct{ a *Agent }

func (k kicker) Kick() { k.a.kickDispatcher() }

// Config returns the agent's configuration.
func (a *Agent) Config() *config.Config { return a.cfg }

// Now is the agent's clock (the injected one in tests).
func (a *Agent) Now() time.Time { return a.now() }

// Secrets returns the agent's keyring.
func (a *Agent) Secrets() authpilot.Secrets { return a.secrets }

// Logger returns the agent's logger.
func (a *Agent) Logger() *slog.Logger { return a.log }

// Store returns the agent's store.
func (a *Agent) Store() authpilot.Store { return a.store }

// HandOffs returns the visits paused for a person (the API and the
// workspace serve them).
func (a *Agent) HandOffs() *handoff.Broker { return a.handOffs }

// Intake returns the agent's intake (API, CLI and import use it).
func (a *Agent) Intake() *Intake { return a.intake }

// Actions returns the agent's staff actions (API and CLI use them).
func (a *Agent) Actions() *Actions { return a.actions }

// Metrics returns the agent's metrics.
func (a *Agent) Metrics() *Metrics { return a.metrics }

// Addr is the API's address once Run has started listening.
func (a *Agent) Addr() string {
	if a.listener == nil {
		return ""
	}
	return a.listener.Addr().String()
}

// BaseURL is where people reach the workspace: server.external_url, else
// the address the server listens on; without a trailing slash.
func (a *Agent) BaseURL() string {
	s := a.cfg.Server
	if s.ExternalURL != "" || a.listener == nil {
		return s.BaseURL()
	}
	s.Listen = a.listener.Addr().String()
	return s.BaseURL()
}

// Connectors lists the configured connector IDs in config order.
func (a *Agent) Connectors() []string { return append([]string(nil), a.order...) }

// Listen opens the API listener (Run calls it when needed); calling it
// first lets a caller learn the address before Run.
func (a *Agent) Listen() error {
	if a.opts.NoAPI || a.listener != nil {
		return nil
	}
	if a.opts.Listener != nil {
		a.listener = a.opts.Listener
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Server.Listen, err)
	}
	a.listener = ln
	return nil
}

// Run starts the API, the scheduler and the alert dispatcher and blocks
// until ctx is cancelled, then shuts down gracefully: running jobs finish
// (bounded) and whatever they could not finish is recorded as interrupted.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.Listen(); err != nil {
		return err
	}
	if a.listener != nil {
		tok, err := a.secrets.Get(a.cfg.Server.TokenSecret)
		if err != nil {
			return fmt.Errorf("api token (secret %q): %w; set it with `authpilot secrets set %s`", a.cfg.Server.TokenSecret, err, a.cfg.Server.TokenSecret)
		}
		a.token = authpilot.Secret(tok)
	}
	if err := a.recoverInterrupted(ctx); err != nil {
		return err
	}
	if err := a.resumeQueued(ctx); err != nil {
		return err
	}
	sched := a.sched
	// Deadlines are computed at start-up too, so the worklist is current
	// even before the first scheduled check.
	if _, err := a.CheckDeadlines(ctx); err != nil {
		a.log.Warn("deadline check at start-up failed", "err", err)
	}
	a.Idle() // start-up read every case: hand that memory back

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	if a.listener != nil {
		api := &API{Intake: a.intake, Store: a.store, Token: a.token, Log: a.log.With("component", "api"), Metrics: a.metrics, Now: a.now}
		api.Connectors = LimitsOf(a.cfg)
		api.Actions, api.TokenName = a.actions, a.cfg.Server.TokenSecret
		if pt, ok := a.store.(PersonTokens); ok {
			api.People = pt
		}
		api.HandOffs = a.handOffs
		h, err := a.handler(api)
		if err != nil {
			return err
		}
		a.server = NewServer(h, a.opts.ServerTimeouts, a.log)
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.log.Info("api listening", "addr", a.listener.Addr().String(), "tls", a.cfg.Server.TLS.Enabled())
			serve := func() error { return a.server.Serve(a.listener) }
			if t := a.cfg.Server.TLS; t.Enabled() {
				serve = func() error { return a.server.ServeTLS(a.listener, t.CertFile, t.KeyFile) }
			}
			if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("api: %w", err)
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := a.notify.run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("dispatcher: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := sched.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("scheduler: %w", err)
		}
	}()
	a.log.Info("agent running", "connectors", len(a.order), "practice_tz", a.cfg.Practice.Timezone)
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	a.log.Info("agent stopping")
	shutdownCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer done()
	if a.server != nil {
		_ = a.server.Shutdown(shutdownCtx)
	}
	cancel()
	if err := sched.Stop(shutdownCtx); err != nil {
		a.log.Warn("jobs still running at shutdown", "err", err)
	}
	wg.Wait()
	if err := a.recoverInterrupted(shutdownCtx); err != nil {
		runErr = errors.Join(runErr, err)
	}
	return runErr
}

// handler is what the server serves: the API, and with a workspace the
// workspace on every other path.
func (a *Agent) handler(api *API) (http.Handler, error) {
	h := api.Handler()
	if a.opts.Workspace == nil {
		return h, nil
	}
	ws, err := a.opts.Workspace(a)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/v1/", "/healthz", "/metrics"} {
		mux.Handle(p, h)
	}
	mux.Handle("/", ws)
	return idleWhenQuiet(mux, a.Idle, 2*time.Second), nil
}

// idleWhenQuiet serves h and calls idle once the requests have stopped for
// quiet: the memory a burst of pages took (a worklist reads 5,000 cases'
// deadlines) goes back to the system instead of staying resident.
func idleWhenQuiet(h http.Handler, idle func(), quiet time.Duration) http.Handler {
	var mu sync.Mutex
	var t *time.Timer
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		mu.Lock()
		defer mu.Unlock()
		if t == nil {
			t = time.AfterFunc(quiet, idle)
		} else {
			t.Reset(quiet)
		}
	})
}

// schedule registers the cron jobs: per connector submit and poll, and the
// practice-wide deadline check, digest and recording pruning.
func (a *Agent) schedule() (*schedules.Scheduler, error) {
	s := schedules.NewScheduler(a.clock, a.cfg.Location(), a.log.With("component", "scheduler"), a.store)
	for _, cc := range a.cfg.Connectors {
		r := a.runners[cc.ID]
		if spec := cc.Schedule.Submit; spec != "" && r.caps.Submit {
			if err := s.Add("submit:"+cc.ID, spec, cc.Schedule.Jitter.Std(), func(ctx context.Context) {
				a.logRun(r.submit(ctx))
				a.Idle()
			}); err != nil {
				return nil, fmt.Errorf("connector %q: submit schedule: %w", cc.ID, err)
			}
		}
		if spec := cc.Schedule.Poll; spec != "" && r.caps.Poll {
			job := "poll:" + cc.ID
			if err := s.Add(job, spec, cc.Schedule.Jitter.Std(), func(ctx context.Context) {
				a.logRun(r.poll(ctx))
				a.sendQueuedOf(ctx, cc.ID)
				a.CheckDeadlines(ctx)
				// Poll sooner than the schedule when a decision is due soon.
				if at, ok := a.NextTightPoll(ctx, cc.ID); ok {
					if err := s.Wake(job, at); err != nil {
						a.log.Warn("cannot bring the next poll forward", "connector", cc.ID, "err", err)
					}
				}
				a.Idle()
			}); err != nil {
				return nil, fmt.Errorf("connector %q: poll schedule: %w", cc.ID, err)
			}
		}
	}
	if spec := a.cfg.Schedules.Deadlines; spec != "" {
		if err := s.Add("deadlines", spec, 0, func(ctx context.Context) { a.CheckDeadlines(ctx) }); err != nil {
			return nil, fmt.Errorf("schedules.deadlines: %w", err)
		}
	}
	if spec := a.cfg.Schedules.Digest; spec != "" {
		if err := s.Add("digest", spec, 0, func(ctx context.Context) { a.Digest(ctx) }); err != nil {
			return nil, fmt.Errorf("schedules.digest: %w", err)
		}
	}
	if err := s.Add("prune-recordings", "@daily", 0, func(ctx context.Context) {
		if n, err := a.recStore.Prune(a.now()); err != nil {
			a.log.Warn("recording pruning failed", "err", err)
		} else if n > 0 {
			a.log.Info("recordings pruned", "count", n)
		}
	}); err != nil {
		return nil, err
	}
	return s, nil
}

func (a *Agent) logRun(r RunResult) {
	if r.Cases == 0 && r.Err == nil {
		return
	}
	a.log.Info("connector run finished", "connector", r.Connector, "job", r.Job, "cases", r.Cases,
		"changed", r.Changed, "submitted", r.Submitted, "rejected", r.Rejected, "recording", r.Recording, "ok", r.Err == nil)
}

// recoverInterrupted is called at start and at shutdown: a case left in
// submitting gets an interrupted event (once); the next submit run
// reconciles it with the payer before anything is submitted again.
func (a *Agent) recoverInterrupted(ctx context.Context) error {
	cases, err := a.store.ListCases(ctx, authpilot.CaseFilter{Statuses: []authpilot.Status{authpilot.StatusSubmitting}})
	if err != nil {
		return fmt.Errorf("list interrupted submissions: %w", err)
	}
	for _, c := range cases {
		_, err := a.store.UpdateCase(ctx, c.ID, func(cc *authpilot.Case) (authpilot.Changes, error) {
			if cc.Status != authpilot.StatusSubmitting || cc.LastError == "interrupted" {
				return authpilot.Changes{}, nil
			}
			cc.LastError = "interrupted"
			return authpilot.Changes{Events: []authpilot.Event{{Type: authpilot.EventInterrupted, Actor: "agent",
				At: a.now().UTC(), RawText: "submission interrupted; it will be reconciled with the payer before any resubmission"}}}, nil
		})
		if err != nil {
			return fmt.Errorf("mark case %s interrupted: %w", c.ID, err)
		}
		a.log.Warn("submission interrupted, will reconcile", "case", c.ID)
	}
	return nil
}

// SubmitNow runs the submit job of every connector (or the named ones) now.
func (a *Agent) SubmitNow(ctx context.Context, ids ...string) []RunResult {
	var out []RunResult
	for _, id := range a.pick(ids) {
		out = append(out, a.runners[id].submit(ctx))
	}
	return out
}

// PollNow runs one poll sweep of every connector (or the named ones) now,
// the connectors side by side (each portal is its own site; each keeps its
// own page limit), then sends their queued responses and withdrawals and
// checks deadlines. progress, if set, is told each
// finished run. Results are in connector order.
func (a *Agent) PollNow(ctx context.Context, progress func(RunResult), ids ...string) []RunResult {
	picked := a.pick(ids)
	out := make([]RunResult, len(picked))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, id := range picked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := a.runners[id].poll(ctx)
			out[i] = r
			if progress != nil {
				mu.Lock()
				progress(r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, id := range picked {
		a.sendQueuedOf(ctx, id)
	}
	if _, err := a.CheckDeadlines(ctx); err != nil {
		a.log.Warn("deadline check after poll failed", "err", err)
	}
	return out
}

// Idle hands the memory a finished run freed back to the system; the
// daemon calls it after every scheduled run, as it then waits minutes to
// hours for the next one.
func (a *Agent) Idle() { debug.FreeOSMemory() }

func (a *Agent) pick(ids []string) []string {
	if len(ids) == 0 {
		return a.order
	}
	var out []string
	for _, id := range ids {
		if _, ok := a.runners[id]; ok {
			out = append(out, id)
		}
	}
	return out
}

// Close releases connectors, the resources their kinds provided (the
// shared browser) and the store.
func (a *Agent) Close() error {
	var errs []error
	a.closeOnce.Do(func() {
		a.bgCancel()
		a.sends.Wait()
		ids := make([]string, 0, len(a.runners))
		for id := range a.runners {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if err := a.runners[id].Close(); err != nil {
				errs = append(errs, fmt.Errorf("close connector %s: %w", id, err))
			}
		}
		for i := len(a.resOrder) - 1; i >= 0; i-- {
			if err := a.resources[a.resOrder[i]].Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s resource: %w", a.resOrder[i], err))
			}
		}
		if a.ownStore && a.store != nil {
			if err := a.store.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	})
	return errors.Join(errs...)
}

// directory answers intake's questions from the config.
type directory struct{ cfg *config.Config }

func (d directory) Payer(id string) (string, authpilot.PlanType, bool) {
	p, ok := d.cfg.Payer(id)
	if !ok {
		return "", "", false
	}
	return p.Connector, p.PlanType, true
}

func (d directory) HasConnector(id string) bool { _, ok := d.cfg.Connector(id); return ok }

func (d directory) Location() *time.Location { return d.cfg.Location() }

type recordingsAdapter struct{ s *recordings.Store }

func (r recordingsAdapter) Start(connectorID, job string) Recording {
	return r.s.Start(connectorID, job)
}
