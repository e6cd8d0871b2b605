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
// alert at a time in the order raised; a delivery to a disabled sink is
// created dead.
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
					State: authpilot.DeliveryPending, NextAttempt: o.now(),
				}
				if reason, off := o.disabled[sink]; off {
					d.State, d.LastError = authpilot.DeliveryDead, "sink disabled: "+reason
				}
				o.deliveries = append(o.deliveries, d)
			}
		}
		o.mu.Unlock()
	}
}

// PendingDeliveries implements authpilot.Outbox, not-yet-due ones
// included; limit <= 0 means no cap.
func (o *Outbox) PendingDeliveries(_ context.Context, limit int) ([]authpilot.Delivery, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	seq := o.seqs()
	var out []authpilot.Delivery
	perSink := map[string]int{}
	pending := slices.Clone(o.deliveries)
	slices.SortStableFunc(pending, func(a, b *authpilot.Delivery) int {
		return cmp.Or(cmp.Compare(a.Sink, b.Sink), cmp.Compare(seq[a.Alert.ID], seq[b.Alert.ID]))
	})
	for _, d := range pending {
		if d.State != authpilot.DeliveryPending {
			continue
		}
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
	o.mu.Lock()
	defer o.mu.Unlock()
	d, err := o.find(id)
	if err != nil {
		return err
	}
	if d.State == authpilot.DeliveryDelivered {
		return nil
	}
	d.State = authpilot.DeliveryDelivered
	d.DeliveredAt = &at
	return nil
}

// MarkRetry implements authpilot.Outbox.
func (o *Outbox) MarkRetry(_ context.Context, id int64, next time.Time, lastErr string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	d, err := o.find(id)
	if err != nil {
		return err
	}
	if d.State != authpilot.DeliveryPending {
		return fmt.Errorf("delivery %d is %s: %w", id, d.State, authpilot.ErrConflict)
	}
	d.Attempts++
	d.NextAttempt = next
	d.LastError = lastErr
	return nil
}

// MarkDead implements authpilot.Outbox: a dead delivery stays as it is, a
// delivered one is a conflict.
func (o *Outbox) MarkDead(_ context.Context, id int64, lastErr string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	d, err := o.find(id)
	if err != nil {
		return err
	}
	if d.State == authpilot.DeliveryDead {
		return nil
	}
	if d.State == authpilot.DeliveryDelivered {
		return fmt.Errorf("delivery %d is %s: %w", id, d.State, authpilot.ErrConflict)
	}
	d.State = authpilot.DeliveryDead
	d.LastError = lastErr
	return nil
}

// DisableSink implements authpilot.Outbox.
func (o *Outbox) DisableSink(_ context.Context, sink, reason string, _ time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.disabled == nil {
		o.disabled = map[string]string{}
	}
	o.disabled[sink] = reason
	for _, d := range o.deliveries {
		if d.Sink == sink && d.State == authpilot.DeliveryPending {
			d.State = authpilot.DeliveryDead
			d.LastError = reason
		}
	}
	return nil
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
