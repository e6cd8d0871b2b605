package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/ids"
	"github.com/authpilot/authpilot/schedules"
)

// Outbox is the durable queue the Dispatcher drains: authpilot.Outbox plus
// Enqueue and problems, for the alerts the Dispatcher raises itself
// (sink_disabled, sink_failing and their resolved alerts).
// authpilot.Store satisfies it.
type Outbox interface {
	authpilot.Outbox
	Enqueue(ctx context.Context, alerts ...authpilot.Alert) (int, error)
	RaiseProblem(ctx context.Context, key string, a authpilot.Alert) (bool, error)
	ResolveProblems(ctx context.Context, prefix string, resolved func(authpilot.Problem) authpilot.Alert) (int, error)
	OpenProblems(ctx context.Context) ([]authpilot.Problem, error)
}

// CaseReader reads a case; the Dispatcher uses it only for sinks that
// include PHI. authpilot.Store satisfies it.
type CaseReader interface {
	GetCase(ctx context.Context, id string) (*authpilot.Case, error)
}

// Options tune the Dispatcher. Zero fields take the defaults below.
type Options struct {
	// BatchSize is how many pending deliveries per sink one pass reads
	// (default 100).
	BatchSize int
	// Concurrency is how many sinks are delivered to at once (default 4).
	Concurrency int
	// MaxAge is how long a delivery is retried, from when it was queued
	// (or its sink re-enabled), before it is given up (default 24 h). A
	// delivery is always tried at least once.
	MaxAge time.Duration
	// FailingAfter is how long a sink may fail without a success before
	// a sink_failing alert goes to the other sinks (default 15 min). A
	// delivery given up raises it at once.
	FailingAfter time.Duration
	// InitialBackoff is the wait after the first failed attempt (default
	// 5 s); it doubles per attempt up to MaxBackoff (default 1 h). A larger
	// Retry-After from the sink wins.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// Jitter spreads each backoff by ± this fraction (default 0.2).
	Jitter float64
	// PollInterval is the longest Run sleeps between passes when nothing
	// is scheduled sooner and nobody kicks it (default 30 s).
	PollInterval time.Duration
	// Rand returns a number in [0, 1) for jitter (default math/rand/v2).
	// It is called from several goroutines.
	Rand func() float64
	// PHI redacts the PHI the store knows from every alert bound for a
	// sink without include_phi (see alertForSink); nil drops only the
	// order reference.
	PHI PHIRedactor
	// CaseLink, if set, returns the workspace page of a case: every
	// delivered alert of a case carries it (Alert.Link).
	CaseLink func(caseID string) string
}

func (o *Options) defaults() {
	positiveOr(&o.BatchSize, 100)
	positiveOr(&o.Concurrency, 4)
	positiveOr(&o.MaxAge, 24*time.Hour)
	positiveOr(&o.InitialBackoff, 5*time.Second)
	positiveOr(&o.MaxBackoff, time.Hour)
	positiveOr(&o.Jitter, 0.2)
	positiveOr(&o.FailingAfter, 15*time.Minute)
	positiveOr(&o.PollInterval, 30*time.Second)
	if o.Rand == nil {
		o.Rand = mrand.Float64
	}
}

// positiveOr sets *v to def unless *v is positive: a zero or negative
// option takes its default.
func positiveOr[T int | float64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Dispatcher drains the outbox: it routes new alerts to sinks and delivers
// each sink's deliveries by priority (critical and warning before info)
// while one case's alerts keep the order raised (see
// authpilot.Alert.OrderKey and store.PendingDeliveries), retrying failures
// with exponential backoff and jitter until MaxAge. A sink failing for
// FailingAfter, or losing a delivery, raises one sink_failing alert
// through the other sinks, resolved when it delivers again; a sink that
// answers 410 is disabled and keeps its queue until re-enabled. Delivery
// is at least once: a crash between a sink's 2xx and MarkDelivered
// resends, with the same webhook-id.
type Dispatcher struct {
	outbox    Outbox
	cases     CaseReader
	router    *Router
	notifiers map[string]Notifier
	clock     schedules.Clock
	log       *slog.Logger
	opts      Options

	kick   chan struct{}
	passMu sync.Mutex // one pass at a time
	// phiErr is the current pass's PHI refresh failure (under passMu).
	phiErr error

	wakeMu sync.Mutex
	wake   time.Time // earliest time a pending delivery becomes sendable
	more   bool      // a sink filled its batch: run again at once

	healthMu sync.Mutex
	health   map[string]*sinkHealth
}

// sinkHealth is a sink's failing streak, in memory (a restart starts it
// again; the sink_failing problem itself is in the outbox).
type sinkHealth struct {
	since  time.Time // first failure without a success since
	streak int       // failed attempts without a success
	raised bool      // sink_failing raised in this streak
	hold   time.Time // no attempt before this (the sink looks down)
}

// NewDispatcher returns a Dispatcher. notifiers maps sink names to their
// notifiers; a delivery for a sink without one is given up.
func NewDispatcher(outbox Outbox, cases CaseReader, router *Router, notifiers map[string]Notifier,
	clock schedules.Clock, logger *slog.Logger, opts Options) *Dispatcher {
	opts.defaults()
	if clock == nil {
		clock = schedules.RealClock{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if router == nil {
		router = &Router{}
	}
	return &Dispatcher{
		outbox: outbox, cases: cases, router: router, notifiers: notifiers,
		clock: clock, log: logger, opts: opts,
		kick:   make(chan struct{}, 1),
		health: map[string]*sinkHealth{},
	}
}

// Kick wakes Run for a pass now, e.g. after a change wrote alerts. It never
// blocks.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done: a pass at start, then whenever kicked,
// when the next retry or rate-limit slot is due, or every PollInterval.
// It returns nil when ctx is cancelled; a failed pass is logged and retried.
func (d *Dispatcher) Run(ctx context.Context) error {
	for {
		if _, err := d.DeliverOnce(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("delivery pass failed", "err", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		wait := d.nextWait()
		if wait <= 0 {
			continue
		}
		timer := d.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-d.kick:
			timer.Stop()
		case <-timer.C():
		}
	}
}

func (d *Dispatcher) nextWait() time.Duration {
	d.wakeMu.Lock()
	defer d.wakeMu.Unlock()
	if d.more {
		return 0
	}
	wait := d.opts.PollInterval
	if !d.wake.IsZero() {
		if w := d.wake.Sub(d.clock.Now()); w < wait {
			wait = w
		}
	}
	return wait
}

func (d *Dispatcher) wakeAt(t time.Time) {
	d.wakeMu.Lock()
	defer d.wakeMu.Unlock()
	if d.wake.IsZero() || t.Before(d.wake) {
		d.wake = t
	}
}

func (d *Dispatcher) setMore() {
	d.wakeMu.Lock()
	defer d.wakeMu.Unlock()
	d.more = true
}

// DeliverOnce makes one pass: it routes the alerts not yet routed, then
// delivers each enabled sink's due deliveries, sinks in parallel. Within a
// sink it goes by priority (store.PendingDeliveries); a delivery not due
// yet, or failed now, holds back the later alerts of its order key (its
// case) only, so one alert a receiver refuses does not bury the others.
// After two failed attempts in a row the sink looks down: its pass ends
// and the sink is left alone for a backoff. It returns how many
// deliveries succeeded.
func (d *Dispatcher) DeliverOnce(ctx context.Context) (int, error) {
	d.passMu.Lock()
	defer d.passMu.Unlock()
	d.wakeMu.Lock()
	d.wake, d.more = time.Time{}, false
	d.wakeMu.Unlock()

	// Alerts are routed to disabled sinks too: they keep their queue.
	if _, err := d.outbox.RouteNew(ctx, func(a authpilot.Alert) []string {
		return d.router.Route(a, nil)
	}); err != nil {
		return 0, fmt.Errorf("deliver: route new alerts: %w", err)
	}
	disabled, err := d.outbox.DisabledSinks(ctx)
	if err != nil {
		return 0, fmt.Errorf("deliver: list disabled sinks: %w", err)
	}
	problems, err := d.outbox.OpenProblems(ctx)
	if err != nil {
		return 0, fmt.Errorf("deliver: list open problems: %w", err)
	}
	troubled := map[string]bool{}
	for _, p := range problems {
		for sink := range d.notifiers {
			if strings.HasPrefix(p.Key, authpilot.SinkProblemKey(sink, "")) {
				troubled[sink] = true
			}
		}
	}
	pending, err := d.outbox.PendingDeliveries(ctx, d.opts.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("deliver: list pending deliveries: %w", err)
	}
	d.phiErr = nil
	if d.opts.PHI != nil && len(pending) > 0 {
		// Once per pass, after reading the pass's deliveries: the cases
		// their alerts name are committed. A failure holds back only the
		// deliveries to sinks without PHI (alertForSink).
		d.phiErr = d.opts.PHI.Refresh(ctx)
	}

	var order []string
	bySink := map[string][]authpilot.Delivery{}
	for _, del := range pending {
		if _, ok := bySink[del.Sink]; !ok {
			order = append(order, del.Sink)
		}
		bySink[del.Sink] = append(bySink[del.Sink], del)
	}

	var (
		mu        sync.Mutex
		delivered int
		errs      []error
		wg        sync.WaitGroup
		sem       = make(chan struct{}, d.opts.Concurrency)
	)
	now := d.clock.Now()
	for _, sink := range order {
		if _, off := disabled[sink]; off {
			continue // `authpilot notify enable` lets its queue go
		}
		if hold := d.heldUntil(sink); hold.After(now) {
			d.wakeAt(hold)
			continue
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			n, err := d.deliverSink(ctx, sink, bySink[sink], troubled[sink])
			mu.Lock()
			defer mu.Unlock()
			delivered += n
			if err != nil {
				errs = append(errs, fmt.Errorf("sink %q: %w", sink, err))
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return delivered, errors.Join(errs...)
}

// deliverSink delivers one sink's deliveries; see DeliverOnce. troubled
// says the sink has an open problem, which a success resolves.
func (d *Dispatcher) deliverSink(ctx context.Context, sink string, ds []authpilot.Delivery, troubled bool) (int, error) {
	log := d.log.With("sink", sink)
	n := d.notifiers[sink]
	delivered, settled := 0, 0
	failed := 0                  // failed attempts since the last success, in this pass
	blocked := map[string]bool{} // order keys held back by a delivery not sent
	for _, del := range ds {
		if ctx.Err() != nil {
			return delivered, nil
		}
		key := del.Alert.OrderKey()
		if key == "" {
			key = "alert:" + del.Alert.ID
		}
		if blocked[key] {
			continue
		}
		log := log.With("alert", del.Alert.ID, "type", string(del.Alert.Type), "case", del.Alert.CaseID)
		now := d.clock.Now()
		if n == nil {
			if err := d.giveUp(ctx, log, del, "sink is not configured"); err != nil {
				return delivered, err
			}
			settled++
			continue
		}
		if d.expired(del, now) {
			reason := fmt.Sprintf("not delivered within %s", d.opts.MaxAge)
			if err := d.giveUp(ctx, log, del, reason); err != nil {
				return delivered, err
			}
			settled++
			if err := d.sinkFailing(ctx, log, sink, "an alert was given up: "+reason, now, true); err != nil {
				return delivered, err
			}
			troubled = true
			continue
		}
		if del.NextAttempt.After(now) {
			d.wakeAt(del.NextAttempt)
			blocked[key] = true
			continue
		}
		if t, ok := n.(Throttler); ok {
			if w := t.Throttle(now); w > 0 {
				d.wakeAt(now.Add(w))
				return delivered, nil
			}
		}

		retry, retryAfter, err := d.attempt(ctx, n, del)
		now = d.clock.Now()
		if err == nil {
			// Record a success even when shutting down, to spare the
			// sink a duplicate.
			if err := d.outbox.MarkDelivered(context.WithoutCancel(ctx), del.ID, now); err != nil {
				return delivered, fmt.Errorf("mark delivery %d delivered: %w", del.ID, err)
			}
			delivered++
			settled++
			failed = 0
			d.sinkOK(sink)
			log.Debug("alert delivered", "attempt", del.Attempts+1)
			if troubled {
				troubled = false
				if err := d.resolveSink(ctx, log, sink); err != nil {
					return delivered, err
				}
			}
			continue
		}
		if ctx.Err() != nil {
			// Shutting down mid-attempt: leave the delivery due; it is
			// sent again (same webhook-id) on the next run.
			return delivered, nil
		}
		switch {
		case errors.Is(err, ErrThrottled):
			if retryAfter <= 0 {
				retryAfter = time.Second
			}
			d.wakeAt(now.Add(retryAfter))
			return delivered, nil
		case errors.Is(err, ErrGone):
			return delivered, d.disable(ctx, log, sink, err)
		}
		blocked[key] = true
		failed++
		lost := ""
		if next, ok := d.nextAttempt(del, now, retryAfter); retry && ok {
			if err := d.outbox.MarkRetry(ctx, del.ID, next, err.Error()); err != nil {
				return delivered, fmt.Errorf("schedule retry of delivery %d: %w", del.ID, err)
			}
			log.Warn("alert delivery failed, will retry", "attempt", del.Attempts+1, "next", next, "err", err)
			d.wakeAt(next)
		} else {
			lost = err.Error()
			if retry {
				lost = fmt.Sprintf("giving up after %d attempts in %s: %v", del.Attempts+1, d.opts.MaxAge, err)
			}
			if err := d.giveUp(ctx, log, del, lost); err != nil {
				return delivered, err
			}
			settled++
		}
		streak, err := d.sinkFailed(ctx, log, sink, now, err, lost)
		if err != nil {
			return delivered, err
		}
		if d.raisedFor(sink) {
			troubled = true
		}
		if failed >= 2 {
			// Two alerts in a row refused: the sink, not one alert, is
			// failing. Leave it alone for a while.
			hold := now.Add(d.Backoff(streak - 2))
			d.holdSink(sink, hold)
			d.wakeAt(hold)
			return delivered, nil
		}
	}
	if len(ds) >= d.opts.BatchSize && settled > 0 {
		d.setMore()
	}
	return delivered, nil
}

func (d *Dispatcher) healthOf(sink string) *sinkHealth {
	h := d.health[sink]
	if h == nil {
		h = &sinkHealth{}
		d.health[sink] = h
	}
	return h
}

func (d *Dispatcher) heldUntil(sink string) time.Time {
	d.healthMu.Lock()
	defer d.healthMu.Unlock()
	return d.healthOf(sink).hold
}

func (d *Dispatcher) holdSink(sink string, until time.Time) {
	d.healthMu.Lock()
	defer d.healthMu.Unlock()
	d.healthOf(sink).hold = until
}

func (d *Dispatcher) raisedFor(sink string) bool {
	d.healthMu.Lock()
	defer d.healthMu.Unlock()
	return d.healthOf(sink).raised
}

// sinkOK ends a sink's failing streak.
func (d *Dispatcher) sinkOK(sink string) {
	d.healthMu.Lock()
	defer d.healthMu.Unlock()
	*d.healthOf(sink) = sinkHealth{}
}

// sinkFailed counts a failed attempt; once the sink has failed for
// FailingAfter, or lost an alert (lost is the reason), it raises
// sink_failing. It returns the streak.
func (d *Dispatcher) sinkFailed(ctx context.Context, log *slog.Logger, sink string, now time.Time, cause error, lost string) (int, error) {
	d.healthMu.Lock()
	h := d.healthOf(sink)
	h.streak++
	if h.since.IsZero() {
		h.since = now
	}
	streak, since := h.streak, h.since
	d.healthMu.Unlock()
	switch {
	case lost != "":
		return streak, d.sinkFailing(ctx, log, sink, "an alert was given up: "+lost, now, true)
	case now.Sub(since) >= d.opts.FailingAfter:
		reason := fmt.Sprintf("failing since %s (%d attempts): %v", since.UTC().Format(time.RFC3339), streak, cause)
		return streak, d.sinkFailing(ctx, log, sink, reason, now, false)
	}
	return streak, nil
}

// sinkFailing raises the sink's sink_failing problem unless it is open
// (once per streak in memory; the outbox dedups across restarts).
func (d *Dispatcher) sinkFailing(ctx context.Context, log *slog.Logger, sink, reason string, now time.Time, force bool) error {
	d.healthMu.Lock()
	h := d.healthOf(sink)
	if h.raised && !force {
		d.healthMu.Unlock()
		return nil
	}
	h.raised = true
	d.healthMu.Unlock()
	a := SinkFailingAlert(sink, reason, d.opts.MaxAge, now)
	raised, err := d.outbox.RaiseProblem(ctx, authpilot.SinkProblemKey(sink, authpilot.SinkFailingProblem), a)
	if err != nil {
		return fmt.Errorf("raise sink_failing: %w", err)
	}
	if raised {
		log.Error("sink failing", "reason", reason)
		d.setMore() // route and deliver it on the next pass, at once
	}
	return nil
}

// resolveSink closes the sink's open problems with resolved alerts.
func (d *Dispatcher) resolveSink(ctx context.Context, log *slog.Logger, sink string) error {
	now := d.clock.Now()
	n, err := d.outbox.ResolveProblems(ctx, authpilot.SinkProblemKey(sink, ""), func(p authpilot.Problem) authpilot.Alert {
		return ResolvedAlert(p, "the sink delivers again", now)
	})
	if err != nil {
		return fmt.Errorf("resolve sink problems: %w", err)
	}
	if n > 0 {
		log.Info("sink delivers again", "resolved", n)
		d.setMore()
	}
	return nil
}

// attempt makes one delivery attempt, reading the case first for a sink
// that includes PHI, and redacting the alert for any other.
func (d *Dispatcher) attempt(ctx context.Context, n Notifier, del authpilot.Delivery) (bool, time.Duration, error) {
	nd := Delivery{Delivery: del}
	var err error
	if nd.Alert, err = d.alertForSink(n, del.Alert); err != nil {
		return true, 0, err
	}
	if d.opts.CaseLink != nil && nd.Alert.CaseID != "" {
		nd.Alert.Link = d.opts.CaseLink(nd.Alert.CaseID)
	}
	if p, ok := n.(PHIRecipient); ok && p.IncludePHI() && del.Alert.CaseID != "" && d.cases != nil {
		c, err := d.cases.GetCase(ctx, del.Alert.CaseID)
		switch {
		case err == nil:
			nd.Case = c
		case errors.Is(err, authpilot.ErrNotFound):
			// The alert outlived its case: deliver what the alert says.
		default:
			return true, 0, fmt.Errorf("read case for the PHI-enabled sink: %w", err)
		}
	}
	return n.Notify(ctx, nd)
}

// windowStart is when a delivery's retry window began: when it was queued
// or its sink re-enabled (the alert's time for a delivery without one).
func windowStart(del authpilot.Delivery) time.Time {
	if !del.Since.IsZero() {
		return del.Since
	}
	return del.Alert.At
}

// expired reports whether a delivery's retry window is over. A delivery
// never tried (held back behind an earlier alert of its case, or queued
// for a disabled or failing sink) is not expired: it gets one attempt.
func (d *Dispatcher) expired(del authpilot.Delivery, now time.Time) bool {
	start := windowStart(del)
	return del.Attempts > 0 && !start.IsZero() && now.After(start.Add(d.opts.MaxAge))
}

// nextAttempt schedules the retry after a failed attempt: exponential
// backoff with jitter, or the sink's Retry-After when larger. ok is false
// when that would fall after MaxAge.
func (d *Dispatcher) nextAttempt(del authpilot.Delivery, now time.Time, retryAfter time.Duration) (time.Time, bool) {
	wait := d.Backoff(del.Attempts)
	if retryAfter > wait {
		wait = retryAfter
	}
	next := now.Add(wait)
	if start := windowStart(del); !start.IsZero() && next.After(start.Add(d.opts.MaxAge)) {
		return time.Time{}, false
	}
	return next, true
}

// Backoff is the wait after a failed attempt when attempts attempts had
// already failed before it: InitialBackoff doubled per earlier attempt,
// spread by ±Jitter, capped at MaxBackoff.
func (d *Dispatcher) Backoff(attempts int) time.Duration {
	attempts = max(attempts, 0)
	b := d.opts.InitialBackoff
	for i := 0; i < attempts && b < d.opts.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.opts.MaxBackoff)
	f := 1 + d.opts.Jitter*(2*d.opts.Rand()-1)
	return min(time.Duration(float64(b)*f), d.opts.MaxBackoff)
}

func (d *Dispatcher) giveUp(ctx context.Context, log *slog.Logger, del authpilot.Delivery, reason string) error {
	if err := d.outbox.MarkDead(ctx, del.ID, reason); err != nil {
		return fmt.Errorf("give up delivery %d: %w", del.ID, err)
	}
	log.Error("alert delivery given up", "attempts", del.Attempts, "reason", reason)
	return nil
}

// disable turns a sink off after it said it is gone, and raises a
// sink_disabled alert, which the router sends to the other sinks. The
// sink's deliveries stay queued for `authpilot notify enable`.
func (d *Dispatcher) disable(ctx context.Context, log *slog.Logger, sink string, cause error) error {
	now := d.clock.Now()
	reason := cause.Error()
	if err := d.outbox.DisableSink(ctx, sink, reason, now); err != nil {
		return fmt.Errorf("disable sink: %w", err)
	}
	d.sinkOK(sink)
	log.Error("sink disabled", "reason", reason)
	a := SinkDisabledAlert(sink, reason, now)
	if _, err := d.outbox.RaiseProblem(ctx, authpilot.SinkProblemKey(sink, authpilot.SinkDisabledProblem), a); err != nil {
		return fmt.Errorf("raise sink_disabled alert: %w", err)
	}
	d.setMore() // route and deliver it on the next pass, at once
	return nil
}

// SinkDisabledAlert is the alert raised when a sink is disabled. It goes
// to the other sinks.
func SinkDisabledAlert(sink, reason string, now time.Time) authpilot.Alert {
	return authpilot.Alert{
		ID:       ids.New(now),
		Type:     authpilot.AlertSinkDisabled,
		Severity: authpilot.SeverityCritical,
		At:       now,
		Sink:     sink,
		Title:    fmt.Sprintf("Alerts to %q are paused: the endpoint is gone", sink),
		Action: fmt.Sprintf("Fix or replace the endpoint of sink %q, then run `authpilot notify enable %s`: "+
			"the alerts raised meanwhile are kept for it and delivered then.", sink, sink),
		Reason: reason,
	}
}

// SinkFailingAlert is the alert raised when a sink has failed for a while
// or lost an alert. It goes to the other sinks.
func SinkFailingAlert(sink, reason string, window time.Duration, now time.Time) authpilot.Alert {
	return authpilot.Alert{
		ID:       ids.New(now),
		Type:     authpilot.AlertSinkFailing,
		Severity: authpilot.SeverityCritical,
		At:       now,
		Sink:     sink,
		Title:    fmt.Sprintf("Alerts to %q are failing", sink),
		Action: fmt.Sprintf("Check the endpoint of sink %q. authpilot retries each alert for %s and says "+
			"when the sink delivers again; `authpilot notify status` shows its queue.", sink, window),
		Reason: reason,
	}
}

// ResolvedAlert closes problem p: a resolved alert with the problem's
// severity, connector, sink and case (so it reaches whoever got the
// problem, and stays in order after it), saying why.
func ResolvedAlert(p authpilot.Problem, why string, now time.Time) authpilot.Alert {
	o := p.Alert
	title := strings.TrimSpace(o.Title)
	if title == "" {
		title = string(o.Type)
	}
	return authpilot.Alert{
		ID:          ids.New(now),
		Type:        authpilot.AlertResolved,
		Resolves:    o.Type,
		Severity:    o.Severity,
		At:          now,
		CaseID:      o.CaseID,
		Payer:       o.Payer,
		ConnectorID: o.ConnectorID,
		Track:       o.Track,
		Sink:        o.Sink,
		Title:       "Resolved: " + title,
		Action:      "Nothing to do.",
		Reason:      fmt.Sprintf("%s; the problem was raised %s", why, p.Opened.UTC().Format(time.RFC3339)),
	}
}

// TestAlert is the alert of `authpilot notify test SINK`.
func TestAlert(sink string, now time.Time) authpilot.Alert {
	return authpilot.Alert{
		ID:       ids.New(now),
		Type:     authpilot.AlertTest,
		Severity: authpilot.SeverityInfo,
		At:       now,
		Title:    "Test alert from authpilot",
		Action:   fmt.Sprintf("Nothing to do: this checks that sink %q receives alerts.", sink),
	}
}

// SendTest sends a test alert straight to one sink, bypassing the outbox,
// and reports whether the sink accepted it. Disabled sinks are tried too:
// this is how an admin checks a fixed endpoint.
func (d *Dispatcher) SendTest(ctx context.Context, sink string) error {
	n := d.notifiers[sink]
	if n == nil {
		return fmt.Errorf("send test alert: unknown sink %q", sink)
	}
	now := d.clock.Now()
	a := TestAlert(sink, now)
	_, _, err := n.Notify(ctx, Delivery{Delivery: authpilot.Delivery{
		Sink: sink, Alert: a, State: authpilot.DeliveryPending, NextAttempt: now,
	}})
	if err != nil {
		d.log.Warn("test alert failed", "sink", sink, "alert", a.ID, "err", err)
		return fmt.Errorf("send test alert to sink %q: %w", sink, err)
	}
	d.log.Info("test alert delivered", "sink", sink, "alert", a.ID)
	return nil
}
