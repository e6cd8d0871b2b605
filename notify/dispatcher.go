package notify

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/schedules"
)

// Outbox is the durable queue the Dispatcher drains: authpilot.Outbox plus
// Enqueue, for the alerts the Dispatcher raises itself (sink_disabled).
// authpilot.Store satisfies it.
type Outbox interface {
	authpilot.Outbox
	Enqueue(ctx context.Context, alerts ...authpilot.Alert) (int, error)
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
	// MaxAge is how long after an alert was raised its deliveries are
	// retried before they are given up (default 24 h).
	MaxAge time.Duration
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
}

func (o *Options) defaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 24 * time.Hour
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = 5 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Hour
	}
	if o.Jitter <= 0 {
		o.Jitter = 0.2
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 30 * time.Second
	}
	if o.Rand == nil {
		o.Rand = mrand.Float64
	}
}

// Dispatcher drains the outbox: it routes new alerts to sinks and delivers
// each sink's deliveries in the order the alerts were raised, retrying
// failures with exponential backoff and jitter until MaxAge. Delivery is
// at least once: a crash between a sink's 2xx and MarkDelivered resends,
// with the same webhook-id.
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

	wakeMu sync.Mutex
	wake   time.Time // earliest time a pending delivery becomes sendable
	more   bool      // a sink filled its batch: run again at once
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
		kick: make(chan struct{}, 1),
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
// delivers each sink's due deliveries in the order their alerts were
// raised, sinks in parallel. A sink's pass stops at the first delivery that
// is not due yet, is rate-limited or fails and will be retried, so a sink
// never receives an alert before an earlier one. It returns how many
// deliveries succeeded.
func (d *Dispatcher) DeliverOnce(ctx context.Context) (int, error) {
	d.passMu.Lock()
	defer d.passMu.Unlock()
	d.wakeMu.Lock()
	d.wake, d.more = time.Time{}, false
	d.wakeMu.Unlock()

	disabled, err := d.outbox.DisabledSinks(ctx)
	if err != nil {
		return 0, fmt.Errorf("deliver: list disabled sinks: %w", err)
	}
	if _, err := d.outbox.RouteNew(ctx, func(a authpilot.Alert) []string {
		return d.router.Route(a, disabled)
	}); err != nil {
		return 0, fmt.Errorf("deliver: route new alerts: %w", err)
	}
	pending, err := d.outbox.PendingDeliveries(ctx, d.opts.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("deliver: list pending deliveries: %w", err)
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
	for _, sink := range order {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			n, err := d.deliverSink(ctx, sink, bySink[sink])
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

// deliverSink delivers one sink's deliveries in order; see DeliverOnce.
func (d *Dispatcher) deliverSink(ctx context.Context, sink string, ds []authpilot.Delivery) (int, error) {
	log := d.log.With("sink", sink)
	n := d.notifiers[sink]
	delivered := 0
	for _, del := range ds {
		if ctx.Err() != nil {
			return delivered, nil
		}
		log := log.With("alert", del.Alert.ID, "type", string(del.Alert.Type), "case", del.Alert.CaseID)
		now := d.clock.Now()
		if n == nil {
			if err := d.giveUp(ctx, log, del, "sink is not configured"); err != nil {
				return delivered, err
			}
			continue
		}
		if d.expired(del.Alert, now) {
			if err := d.giveUp(ctx, log, del, fmt.Sprintf("not delivered within %s of the alert", d.opts.MaxAge)); err != nil {
				return delivered, err
			}
			continue
		}
		if del.NextAttempt.After(now) {
			d.wakeAt(del.NextAttempt)
			return delivered, nil
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
			log.Debug("alert delivered", "attempt", del.Attempts+1)
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
		case !retry:
			if err := d.giveUp(ctx, log, del, err.Error()); err != nil {
				return delivered, err
			}
		default:
			next, ok := d.nextAttempt(del, now, retryAfter)
			if !ok {
				msg := fmt.Sprintf("giving up after %d attempts: %v", del.Attempts+1, err)
				if err := d.giveUp(ctx, log, del, msg); err != nil {
					return delivered, err
				}
				continue
			}
			if err := d.outbox.MarkRetry(ctx, del.ID, next, err.Error()); err != nil {
				return delivered, fmt.Errorf("schedule retry of delivery %d: %w", del.ID, err)
			}
			log.Warn("alert delivery failed, will retry", "attempt", del.Attempts+1, "next", next, "err", err)
			d.wakeAt(next)
			return delivered, nil
		}
	}
	if len(ds) >= d.opts.BatchSize {
		d.setMore()
	}
	return delivered, nil
}

// attempt makes one delivery attempt, reading the case first for a sink
// that includes PHI, and redacting the alert for any other.
func (d *Dispatcher) attempt(ctx context.Context, n Notifier, del authpilot.Delivery) (bool, time.Duration, error) {
	nd := Delivery{Delivery: del}
	var err error
	if nd.Alert, err = d.alertForSink(ctx, n, del.Alert); err != nil {
		return true, 0, err
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

func (d *Dispatcher) expired(a authpilot.Alert, now time.Time) bool {
	return !a.At.IsZero() && now.After(a.At.Add(d.opts.MaxAge))
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
	if !del.Alert.At.IsZero() && next.After(del.Alert.At.Add(d.opts.MaxAge)) {
		return time.Time{}, false
	}
	return next, true
}

// Backoff is the wait after a failed attempt when attempts attempts had
// already failed before it: InitialBackoff doubled per earlier attempt,
// spread by ±Jitter, capped at MaxBackoff.
func (d *Dispatcher) Backoff(attempts int) time.Duration {
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
// sink_disabled alert, which the router sends to the other sinks.
func (d *Dispatcher) disable(ctx context.Context, log *slog.Logger, sink string, cause error) error {
	now := d.clock.Now()
	reason := cause.Error()
	if err := d.outbox.DisableSink(ctx, sink, reason, now); err != nil {
		return fmt.Errorf("disable sink: %w", err)
	}
	log.Error("sink disabled", "reason", reason)
	a, err := SinkDisabledAlert(sink, reason, now)
	if err != nil {
		return err
	}
	if _, err := d.outbox.Enqueue(ctx, a); err != nil {
		return fmt.Errorf("raise sink_disabled alert: %w", err)
	}
	d.setMore() // route and deliver it on the next pass, at once
	return nil
}

// SinkDisabledAlert is the alert raised when a sink is disabled.
func SinkDisabledAlert(sink, reason string, now time.Time) (authpilot.Alert, error) {
	id, err := NewAlertID(now)
	if err != nil {
		return authpilot.Alert{}, err
	}
	return authpilot.Alert{
		ID:       id,
		Type:     authpilot.AlertSinkDisabled,
		Severity: authpilot.SeverityCritical,
		At:       now,
		DedupKey: "sink_disabled:" + sink + ":" + now.UTC().Format(time.RFC3339Nano),
		Title:    fmt.Sprintf("Alerts to %q stopped: the endpoint is gone", sink),
		Action: fmt.Sprintf("Fix or replace the endpoint of sink %q and re-enable it; "+
			"alerts routed to it are not delivered until then.", sink),
		Reason: reason,
	}, nil
}

// TestAlert is the alert of `authpilot notify test SINK`.
func TestAlert(sink string, now time.Time) (authpilot.Alert, error) {
	id, err := NewAlertID(now)
	if err != nil {
		return authpilot.Alert{}, err
	}
	return authpilot.Alert{
		ID:       id,
		Type:     authpilot.AlertTest,
		Severity: authpilot.SeverityInfo,
		At:       now,
		Title:    "Test alert from authpilot",
		Action:   fmt.Sprintf("Nothing to do: this checks that sink %q receives alerts.", sink),
	}, nil
}

// NewAlertID returns a ULID for an alert raised at now.
func NewAlertID(now time.Time) (string, error) {
	id, err := ulid.New(ulid.Timestamp(now), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("new alert id: %w", err)
	}
	return id.String(), nil
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
	a, err := TestAlert(sink, now)
	if err != nil {
		return err
	}
	_, _, err = n.Notify(ctx, Delivery{Delivery: authpilot.Delivery{
		Sink: sink, Alert: a, State: authpilot.DeliveryPending, NextAttempt: now,
	}})
	if err != nil {
		d.log.Warn("test alert failed", "sink", sink, "alert", a.ID, "err", err)
		return fmt.Errorf("send test alert to sink %q: %w", sink, err)
	}
	d.log.Info("test alert delivered", "sink", sink, "alert", a.ID)
	return nil
}
