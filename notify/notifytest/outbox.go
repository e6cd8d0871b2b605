// Package notifytest holds in-memory fakes for testing code that raises
// or delivers alerts: an Outbox with the SQLite store's outbox semantics, a
// Secrets map, a CaseReader, a log buffer, and a check that no secret
// leaks into logs or errors. Use schedules/clocktest for the clock.
package notifytest

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/authpilot/authpilot"
)

// Outbox is an in-memory authpilot.Outbox plus Store.Enqueue, with the
// semantics of the SQLite store (store/outbox.go). It is safe for
// concurrent use. The zero value is ready.
type Outbox struct {
	// Now stamps new deliveries' NextAttempt and alerts without a time;
	// nil leaves NextAttempt zero (due at once).
	Now func() time.Time

	mu         sync.Mutex
	alerts     []*queued // in the order raised
	deliveries []*authpilot.Delivery
	dedup      map[string]bool
	disabled   map[string]string
	problems   []authpilot.Problem
	nextID     int64
}

type queued struct {
	seq    int
	alert  authpilot.Alert
	routed bool
}

func (o *Outbox) now() time.Time {
	if o.Now == nil {
		return time.Time{}
	}
	return o.Now()
}

// Enqueue appends alerts in order, dropping those whose DedupKey or ID was
// seen before, and reports how many were new. Alerts need an ID and a type
// (the fake does not make IDs); a zero At becomes Now.
func (o *Outbox) Enqueue(_ context.Context, alerts ...authpilot.Alert) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dedup == nil {
		o.dedup = map[string]bool{}
	}
	for i, a := range alerts {
		if a.ID == "" || a.Type == "" {
			return 0, fmt.Errorf("enqueue alerts: alert %d: id and type are required", i)
		}
	}
	n := 0
	for _, a := range alerts {
		if o.dedup["id:"+a.ID] || (a.DedupKey != "" && o.dedup["key:"+a.DedupKey]) {
			continue
		}
		o.dedup["id:"+a.ID] = true
		if a.DedupKey != "" {
			o.dedup["key:"+a.DedupKey] = true
		}
		if a.At.IsZero() {
			a.At = o.now()
		}
		o.alerts = append(o.alerts, &queued{seq: len(o.alerts), alert: a})
		n++
	}
	return n, nil
}

// RouteNew implements authpilot.Outbox: route runs outside the lock, one
// alert at a time in the order raised; a disabled sink's deliveries are
// queued too.
func (o *Outbox) RouteNew(_ context.Context, route func(authpilot.Alert) []string) (int, error) {
	n := 0
	for {
		o.mu.Lock()
		var next *queued
		for _, q := range o.alerts {
			if !q.routed {
				next = q
				break
			}
		}
		o.mu.Unlock()
		if next == nil {
			return n, nil
		}
		sinks := route(next.alert)

		o.mu.Lock()
		if !next.routed {
			next.routed = true
			n++
			seen := map[string]bool{}
			for _, sink := range sinks {
				if sink == "" || seen[sink] {
					continue
				}
				seen[sink] = true
				o.nextID++
				d := &authpilot.Delivery{
					ID: o.nextID, Sink: sink, Alert: next.alert,
					State: authpilot.DeliveryPending, NextAttempt: o.now(), Since: o.now(),
				}
				o.deliveries = append(o.deliveries, d)
			}
		}
		o.mu.Unlock()
	}
}

// PendingDeliveries implements authpilot.Outbox, not-yet-due ones
// included, in the store's priority order (store.PendingDeliveries); limit
// <= 0 means no cap.
func (o *Outbox) PendingDeliveries(_ context.Context, limit int) ([]authpilot.Delivery, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	seq := o.seqs()
	var out []authpilot.Delivery
	perSink := map[string]int{}
	var pending []*authpilot.Delivery
	for _, d := range o.deliveries {
		if d.State == authpilot.DeliveryPending {
			pending = append(pending, d)
		}
	}
	slices.SortStableFunc(pending, func(a, b *authpilot.Delivery) int {
		return cmp.Or(cmp.Compare(a.Sink, b.Sink), cmp.Compare(seq[a.Alert.ID], seq[b.Alert.ID]))
	})
	// A delivery's priority is the highest rank among it and the later
	// ones of its sink and order key.
	eff := map[int64]int{}
	best := map[string]int{}
	for i := len(pending) - 1; i >= 0; i-- {
		d := pending[i]
		k := d.Sink + "\x00" + d.Alert.OrderKey()
		if d.Alert.OrderKey() == "" {
			k = fmt.Sprint(d.ID)
		}
		best[k] = max(best[k], d.Alert.Severity.Rank())
		eff[d.ID] = best[k]
	}
	slices.SortStableFunc(pending, func(a, b *authpilot.Delivery) int {
		return cmp.Or(cmp.Compare(a.Sink, b.Sink), cmp.Compare(eff[b.ID], eff[a.ID]))
	})
	for _, d := range pending {
		if limit > 0 && perSink[d.Sink] >= limit {
			continue
		}
		perSink[d.Sink]++
		out = append(out, *d)
	}
	return out, nil
}

func (o *Outbox) seqs() map[string]int {
	m := make(map[string]int, len(o.alerts))
	for _, q := range o.alerts {
		m[q.alert.ID] = q.seq
	}
	return m
}

func (o *Outbox) find(id int64) (*authpilot.Delivery, error) {
	for _, d := range o.deliveries {
		if d.ID == id {
			return d, nil
		}
	}
	return nil, fmt.Errorf("delivery %d: %w", id, authpilot.ErrNotFound)
}

// MarkDelivered implements authpilot.Outbox. Like the store, it is
// idempotent and also applies to a delivery given up meanwhile; it does
// not count the attempt.
func (o *Outbox) MarkDelivered(_ context.Context, id int64, at time.Time) error {
	return o.update(id, func(d *authpilot.Delivery) error {
		if d.State != authpilot.DeliveryDelivered {
			d.State = authpilot.DeliveryDelivered
			d.DeliveredAt = &at
		}
		return nil
	})
}

// update runs fn on delivery id under the lock.
func (o *Outbox) update(id int64, fn func(d *authpilot.Delivery) error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	d, err := o.find(id)
	if err != nil {
		return err
	}
	return fn(d)
}

// MarkRetry implements authpilot.Outbox.
func (o *Outbox) MarkRetry(_ context.Context, id int64, next time.Time, lastErr string) error {
	return o.update(id, func(d *authpilot.Delivery) error {
		if d.State != authpilot.DeliveryPending {
			return fmt.Errorf("delivery %d is %s: %w", id, d.State, authpilot.ErrConflict)
		}
		d.Attempts++
		d.NextAttempt = next
		d.LastError = lastErr
		return nil
	})
}

// MarkDead implements authpilot.Outbox: a dead delivery stays as it is, a
// delivered one is a conflict.
func (o *Outbox) MarkDead(_ context.Context, id int64, lastErr string) error {
	return o.update(id, func(d *authpilot.Delivery) error {
		switch d.State {
		case authpilot.DeliveryDead:
			return nil
		case authpilot.DeliveryDelivered:
			return fmt.Errorf("delivery %d is %s: %w", id, d.State, authpilot.ErrConflict)
		}
		d.State = authpilot.DeliveryDead
		d.LastError = lastErr
		return nil
	})
}

// DisableSink implements authpilot.Outbox: the sink's deliveries wait.
func (o *Outbox) DisableSink(_ context.Context, sink, reason string, _ time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.disabled == nil {
		o.disabled = map[string]string{}
	}
	o.disabled[sink] = reason
	return nil
}

// EnableSink re-enables a sink like store.EnableSink: its queue is due at
// at, its retry windows start again, and its disabled problem
// ("sink:NAME:disabled") is closed with resolved's alert.
func (o *Outbox) EnableSink(ctx context.Context, sink string, at time.Time, resolved func(authpilot.Problem) authpilot.Alert) (bool, error) {
	o.mu.Lock()
	if _, ok := o.disabled[sink]; !ok {
		o.mu.Unlock()
		return false, nil
	}
	delete(o.disabled, sink)
	for _, d := range o.deliveries {
		if d.Sink == sink && d.State == authpilot.DeliveryPending {
			d.NextAttempt, d.Since, d.Attempts = at, at, 0
		}
	}
	o.mu.Unlock()
	_, err := o.resolve(ctx, authpilot.SinkProblemKey(sink, authpilot.SinkDisabledProblem), true, resolved)
	return true, err
}

// RaiseProblem implements notify.Outbox.
func (o *Outbox) RaiseProblem(ctx context.Context, key string, a authpilot.Alert) (bool, error) {
	o.mu.Lock()
	for _, p := range o.problems {
		if p.Key == key {
			o.mu.Unlock()
			return false, nil
		}
	}
	if a.At.IsZero() {
		a.At = o.now()
	}
	o.problems = append(o.problems, authpilot.Problem{Key: key, Opened: a.At, Alert: a})
	o.mu.Unlock()
	n, err := o.Enqueue(ctx, a)
	return n == 1, err
}

// ResolveProblems implements notify.Outbox.
func (o *Outbox) ResolveProblems(ctx context.Context, prefix string, resolved func(authpilot.Problem) authpilot.Alert) (int, error) {
	return o.resolve(ctx, prefix, false, resolved)
}

func (o *Outbox) resolve(ctx context.Context, key string, exact bool, resolved func(authpilot.Problem) authpilot.Alert) (int, error) {
	o.mu.Lock()
	var closed []authpilot.Problem
	o.problems = slices.DeleteFunc(o.problems, func(p authpilot.Problem) bool {
		if p.Key == key || (!exact && strings.HasPrefix(p.Key, key)) {
			closed = append(closed, p)
			return true
		}
		return false
	})
	o.mu.Unlock()
	for _, p := range closed {
		if resolved != nil {
			if _, err := o.Enqueue(ctx, resolved(p)); err != nil {
				return 0, err
			}
		}
	}
	return len(closed), nil
}

// OpenProblems implements notify.Outbox.
func (o *Outbox) OpenProblems(context.Context) ([]authpilot.Problem, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.problems), nil
}

// DisabledSinks implements authpilot.Outbox.
func (o *Outbox) DisabledSinks(context.Context) (map[string]string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.disabled), nil
}

// Deliveries implements authpilot.Outbox: an alert's deliveries by sink,
// or an error wrapping authpilot.ErrNotFound for an unknown alert.
func (o *Outbox) Deliveries(_ context.Context, alertID string) ([]authpilot.Delivery, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.dedup["id:"+alertID] {
		return nil, fmt.Errorf("deliveries of alert %s: %w", alertID, authpilot.ErrNotFound)
	}
	var out []authpilot.Delivery
	for _, d := range o.deliveries {
		if d.Alert.ID == alertID {
			out = append(out, *d)
		}
	}
	slices.SortStableFunc(out, func(a, b authpilot.Delivery) int { return cmp.Compare(a.Sink, b.Sink) })
	return out, nil
}

// All returns every delivery, in creation order (for assertions).
func (o *Outbox) All() []authpilot.Delivery {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]authpilot.Delivery, len(o.deliveries))
	for i, d := range o.deliveries {
		out[i] = *d
	}
	return out
}

// Alerts returns every enqueued alert, in the order raised.
func (o *Outbox) Alerts() []authpilot.Alert {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]authpilot.Alert, len(o.alerts))
	for i, q := range o.alerts {
		out[i] = q.alert
	}
	return out
}

var _ authpilot.Outbox = (*Outbox)(nil)
