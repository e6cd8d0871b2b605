// Package run drives one connector's runs apart from the rest of the
// daemon (Telegraf's RunningInput idea): Runner owns the connector's lock,
// run timeout, login retries and politeness, the pace of its requests
// (Limiter, limits.requests_per_minute), recordings, metrics, failure
// streak and run-level alerts, and is handed what it needs (store, clock,
// recorder factory, alert sink, metrics) rather than the agent. What a run
// does with the cases stays with the agent.
package run

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/schedules"
)

// Limiter spaces one connector's requests evenly: perMinute of them a
// minute, one at a time (a burst of one), so a portal sees page loads
// 60/perMinute seconds apart rather than a minute's worth at once. It
// keeps time on the injected clock, so the demo's fast clock and the
// tests' fake clock pace it too. It is safe for concurrent use (a visit
// reads several pages at once: they share the pace).
type Limiter struct {
	lim   *rate.Limiter
	clock schedules.Clock
	// Waited, if set, is told each wait (for metrics).
	Waited func(time.Duration)
}

var _ connectors.Limiter = (*Limiter)(nil)

// NewLimiter returns a limiter of perMinute requests a minute, or nil
// (unlimited) when perMinute is 0 or less.
func NewLimiter(perMinute int, clock schedules.Clock) *Limiter {
	if perMinute <= 0 {
		return nil
	}
	if clock == nil {
		clock = schedules.RealClock{}
	}
	return &Limiter{lim: rate.NewLimiter(rate.Limit(float64(perMinute)/60), 1), clock: clock}
}

// Wait blocks until one more request may be sent, or ctx ends. A wait
// that ctx cuts short gives its slot back.
func (l *Limiter) Wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := l.clock.Now()
	r := l.lim.ReserveN(now, 1)
	if !r.OK() {
		return fmt.Errorf("rate limit: a request can never be admitted")
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	if l.Waited != nil {
		l.Waited(d)
	}
	t := l.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		r.CancelAt(l.clock.Now())
		return ctx.Err()
	case <-t.C():
		return nil
	}
}
