package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/ids"
)

// routeBatch is how many unrouted alerts RouteNew reads at a time.
const routeBatch = 100

// Enqueue writes alerts that belong to no case change, in one transaction.
// Alerts get a ULID and the current time where they have none; one whose
// DedupKey (or ID) is already stored is dropped. It reports how many
// alerts were new.
func (s *Store) Enqueue(ctx context.Context, alerts ...authpilot.Alert) (int, error) {
	if len(alerts) == 0 {
		return 0, nil
	}
	var n int
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = s.insertAlerts(ctx, tx, alerts, s.clock())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue alerts: %w", err)
	}
	return n, nil
}

// insertAlerts adds alerts to the outbox in order, skipping those whose
// dedup key or ID exists; it reports how many it inserted.
func (s *Store) insertAlerts(ctx context.Context, tx *sql.Tx, alerts []authpilot.Alert, now time.Time) (int, error) {
	n := 0
	for i, a := range alerts {
		if a.Type == "" {
			return 0, fmt.Errorf("alert %d: empty type", i)
		}
		payload, err := stampAlert(&a, now)
		if err != nil {
			return 0, fmt.Errorf("alert %d (%s): encode: %w", i, a.Type, err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO alerts (id, dedup_key, case_id, type, at, payload, priority, order_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			a.ID, nullString(a.DedupKey), a.CaseID, string(a.Type), fmtTime(a.At), string(payload),
			a.Severity.Rank(), a.OrderKey())
		if err != nil {
			return 0, fmt.Errorf("insert alert %d (%s): %w", i, a.Type, err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("insert alert %d (%s): %w", i, a.Type, err)
		}
		n += int(k)
	}
	return n, nil
}

// stampAlert gives a its time (now when unset, in UTC either way) and an ID
// when it has none, and returns it encoded for the outbox.
func stampAlert(a *authpilot.Alert, now time.Time) ([]byte, error) {
	if a.At.IsZero() {
		a.At = now
	}
	a.At = a.At.UTC()
	if a.ID == "" {
		a.ID = ids.New(now)
	}
	return json.Marshal(*a)
}

// decodeAlert decodes a stored alert; times come back in UTC.
func decodeAlert(payload string, dedupKey sql.NullString) (authpilot.Alert, error) {
	var a authpilot.Alert
	if err := json.Unmarshal([]byte(payload), &a); err != nil {
		return a, fmt.Errorf("decode alert: %w", err)
	}
	a.DedupKey = dedupKey.String
	a.At = a.At.UTC()
	if a.Deadline != nil {
		a.Deadline.Due = a.Deadline.Due.UTC()
	}
	for i := range a.Items {
		if d := a.Items[i].Deadline; d != nil {
			d.Due = d.Due.UTC()
		}
	}
	return a, nil
}

type unroutedAlert struct {
	seq   int64
	alert authpilot.Alert
}

// RouteNew fans every unrouted alert out, in the order alerts were raised,
// into one pending delivery per sink route names, a disabled sink's too
// (it keeps its queue until re-enabled). Alerts are routed and marked a
// batch per transaction, so a crash midway routes no alert twice; route
// runs outside the transaction. It reports how many alerts it routed.
func (s *Store) RouteNew(ctx context.Context, route func(authpilot.Alert) []string) (int, error) {
	routed := 0
	var after int64
	for {
		batch, err := s.unrouted(ctx, after)
		if err != nil {
			return routed, fmt.Errorf("route alerts: %w", err)
		}
		if len(batch) == 0 {
			return routed, nil
		}
		sinks := make([][]string, len(batch))
		for i, ua := range batch {
			sinks[i] = route(ua.alert)
		}
		after = batch[len(batch)-1].seq
		n, err := s.routeBatch(ctx, batch, sinks)
		routed += n
		if err != nil {
			return routed, fmt.Errorf("route alerts: %w", err)
		}
	}
}

func (s *Store) unrouted(ctx context.Context, after int64) ([]unroutedAlert, error) {
	out, err := queryAll(ctx, s.r, func(rows *sql.Rows) (unroutedAlert, error) {
		var ua unroutedAlert
		var dedup sql.NullString
		var payload string
		if err := rows.Scan(&ua.seq, &dedup, &payload); err != nil {
			return ua, fmt.Errorf("scan alert: %w", err)
		}
		var err error
		ua.alert, err = decodeAlert(payload, dedup)
		return ua, err
	}, `SELECT seq, dedup_key, payload FROM alerts WHERE routed = 0 AND seq > ? ORDER BY seq LIMIT ?`, after, routeBatch)
	if err != nil {
		return nil, fmt.Errorf("query unrouted alerts: %w", err)
	}
	return out, nil
}

// routeBatch marks alerts routed and inserts their deliveries (sinks[i]
// for batch[i]) in one transaction. An alert routed meanwhile by a
// concurrent RouteNew is skipped. It reports how many it routed.
func (s *Store) routeBatch(ctx context.Context, batch []unroutedAlert, sinks [][]string) (int, error) {
	routed := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		routed = 0
		now := fmtTime(s.clock())
		for i, ua := range batch {
			res, err := tx.ExecContext(ctx, "UPDATE alerts SET routed = 1 WHERE seq = ? AND routed = 0", ua.seq)
			if err != nil {
				return fmt.Errorf("alert %s: mark routed: %w", ua.alert.ID, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("alert %s: mark routed: %w", ua.alert.ID, err)
			} else if n == 0 {
				continue
			}
			routed++
			for _, sink := range sinks[i] {
				if sink == "" {
					s.log.Warn("route named an empty sink", "alert", ua.alert.ID, "type", string(ua.alert.Type))
					continue
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (alert_seq, sink, state, next_attempt, since)
					VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (alert_seq, sink) DO NOTHING`,
					ua.seq, sink, now, now); err != nil {
					return fmt.Errorf("alert %s: insert delivery to %s: %w", ua.alert.ID, sink, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return routed, nil
}

// deliveryColumns are the columns scanDelivery reads, from deliveries d
// joined with alerts a.
const deliveryColumns = `d.id, d.sink, d.state, d.attempts, d.next_attempt, d.since, d.last_error, d.delivered_at,
	a.dedup_key, a.payload`

func scanDelivery(rows *sql.Rows) (authpilot.Delivery, error) {
	var d authpilot.Delivery
	var state, next, since, payload string
	var delivered, dedup sql.NullString
	if err := rows.Scan(&d.ID, &d.Sink, &state, &d.Attempts, &next, &since, &d.LastError, &delivered, &dedup, &payload); err != nil {
		return d, fmt.Errorf("scan delivery: %w", err)
	}
	d.State = authpilot.DeliveryState(state)
	var err error
	if d.NextAttempt, err = parseTime(next); err != nil {
		return d, err
	}
	if since != "" {
		if d.Since, err = parseTime(since); err != nil {
			return d, err
		}
	}
	if delivered.Valid {
		t, err := parseTime(delivered.String)
		if err != nil {
			return d, err
		}
		d.DeliveredAt = &t
	}
	if d.Alert, err = decodeAlert(payload, dedup); err != nil {
		return d, err
	}
	return d, nil
}

// PendingDeliveries returns pending deliveries ordered by sink and then by
// priority, at most limit per sink (no cap if limit <= 0). A delivery's
// priority is the highest severity rank among it and the later pending
// deliveries of the same sink and order key (authpilot.Alert.OrderKey);
// equal priorities keep the order raised. So a critical or warning alert
// overtakes info alerts of other cases, and carries the earlier alerts of
// its own case along ahead of it: one case's alerts stay in order. It
// returns deliveries whose NextAttempt is still ahead too, and those of
// disabled sinks: the dispatcher decides when to try.
func (s *Store) PendingDeliveries(ctx context.Context, limit int) ([]authpilot.Delivery, error) {
	var out []authpilot.Delivery
	err := s.read(ctx, func(tx *sql.Tx) error {
		// Rank in Go over a light index scan (sink, raised order); read
		// the chosen deliveries in full after. SQL window functions did
		// the same 5-10 times slower with 3,000 pending.
		ids, err := pendingByPriority(ctx, tx, limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		byID := make(map[int64]authpilot.Delivery, len(ids))
		for chunk := range slices.Chunk(ids, 500) {
			args := make([]any, len(chunk))
			for i, id := range chunk {
				args[i] = id
			}
			rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries d JOIN alerts a ON a.seq = d.alert_seq
				WHERE d.id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				d, err := scanDelivery(rows)
				if err != nil {
					rows.Close()
					return err
				}
				byID[d.ID] = d
			}
			if err := rows.Close(); err != nil {
				return err
			}
		}
		for _, id := range ids {
			out = append(out, byID[id])
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pending deliveries: %w", err)
	}
	return out, nil
}

// pendingByPriority returns the IDs of the pending deliveries in the order
// PendingDeliveries promises, at most limit per sink (no cap if <= 0).
func pendingByPriority(ctx context.Context, tx *sql.Tx, limit int) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT d.id, d.sink, a.priority, a.order_key
		FROM deliveries d JOIN alerts a ON a.seq = d.alert_seq
		WHERE d.state = 'pending' ORDER BY d.sink, d.alert_seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type pending struct {
		id       int64
		priority int
		key      string
	}
	var sinks [][]pending // per sink, in the order raised
	last := ""
	for rows.Next() {
		var p pending
		var sink string
		if err := rows.Scan(&p.id, &sink, &p.priority, &p.key); err != nil {
			return nil, err
		}
		if len(sinks) == 0 || sink != last {
			sinks = append(sinks, nil)
			last = sink
		}
		sinks[len(sinks)-1] = append(sinks[len(sinks)-1], p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var ids []int64
	for _, ps := range sinks {
		// A delivery's priority is the highest among it and the later
		// ones of its order key; a stable sort keeps the order raised
		// among equals.
		best := map[string]int{}
		for i := len(ps) - 1; i >= 0; i-- {
			if k := ps[i].key; k != "" {
				best[k] = max(best[k], ps[i].priority)
				ps[i].priority = best[k]
			}
		}
		slices.SortStableFunc(ps, func(a, b pending) int { return b.priority - a.priority })
		if limit > 0 && len(ps) > limit {
			ps = ps[:limit]
		}
		for _, p := range ps {
			ids = append(ids, p.id)
		}
	}
	return ids, nil
}

// deliveryState reads a delivery's state, or authpilot.ErrNotFound.
func deliveryState(ctx context.Context, tx *sql.Tx, id int64) (authpilot.DeliveryState, error) {
	var st string
	err := tx.QueryRowContext(ctx, "SELECT state FROM deliveries WHERE id = ?", id).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", authpilot.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read delivery: %w", err)
	}
	return authpilot.DeliveryState(st), nil
}

// MarkDelivered records that a delivery succeeded at at. It is idempotent,
// and it also applies to a delivery given up meanwhile (a sink disabled
// while the delivery was in flight): what was delivered was delivered.
func (s *Store) MarkDelivered(ctx context.Context, id int64, at time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		st, err := deliveryState(ctx, tx, id)
		if err != nil {
			return err
		}
		if st == authpilot.DeliveryDelivered {
			return nil
		}
		_, err = tx.ExecContext(ctx, "UPDATE deliveries SET state = 'delivered', delivered_at = ? WHERE id = ?",
			fmtTime(at), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark delivery %d delivered: %w", id, err)
	}
	return nil
}

// MarkRetry counts a failed attempt of a pending delivery and schedules
// the next one. A delivery that is no longer pending fails with an error
// wrapping authpilot.ErrConflict.
func (s *Store) MarkRetry(ctx context.Context, id int64, next time.Time, lastErr string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		st, err := deliveryState(ctx, tx, id)
		if err != nil {
			return err
		}
		if st != authpilot.DeliveryPending {
			return fmt.Errorf("delivery is %s: %w", st, authpilot.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `UPDATE deliveries SET attempts = attempts + 1, next_attempt = ?, last_error = ?
			WHERE id = ?`, fmtTime(next), lastErr, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark delivery %d for retry: %w", id, err)
	}
	return nil
}

// MarkDead gives a pending delivery up; a dead one stays as it is, and a
// delivered one fails with an error wrapping authpilot.ErrConflict.
func (s *Store) MarkDead(ctx context.Context, id int64, lastErr string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		st, err := deliveryState(ctx, tx, id)
		if err != nil {
			return err
		}
		switch st {
		case authpilot.DeliveryDead:
			return nil
		case authpilot.DeliveryDelivered:
			return fmt.Errorf("delivery is %s: %w", st, authpilot.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, "UPDATE deliveries SET state = 'dead', last_error = ? WHERE id = ?", lastErr, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark delivery %d dead: %w", id, err)
	}
	return nil
}

// DisableSink records sink as disabled for reason. Its pending deliveries
// stay pending, and alerts routed to it meanwhile are queued for it too,
// until EnableSink.
func (s *Store) DisableSink(ctx context.Context, sink, reason string, at time.Time) error {
	if sink == "" {
		return errors.New("disable sink: empty name")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO disabled_sinks (sink, reason, disabled_at) VALUES (?, ?, ?)
			ON CONFLICT (sink) DO UPDATE SET reason = excluded.reason, disabled_at = excluded.disabled_at`,
			sink, reason, fmtTime(at)); err != nil {
			return fmt.Errorf("record disabled sink: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("disable sink %s: %w", sink, err)
	}
	return nil
}

// EnableSink re-enables a disabled sink at at: its queue is due at once
// and each pending delivery's retry window starts again. Deliveries that
// an older authpilot gave up because the sink was disabled are queued
// again. The sink's disabled problem is closed with resolved(problem) as
// its alert when resolved is non-nil. It reports false, changing nothing,
// when the sink was not disabled. Safe beside a running daemon, which
// sees the change on its next pass.
func (s *Store) EnableSink(ctx context.Context, sink string, at time.Time, resolved func(authpilot.Problem) authpilot.Alert) (bool, error) {
	was := false
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM disabled_sinks WHERE sink = ?", sink)
		if err != nil {
			return fmt.Errorf("delete disabled sink: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		was = true
		now := fmtTime(at)
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET next_attempt = ?, since = ?, attempts = 0
			WHERE sink = ? AND state = 'pending'`, now, now, sink); err != nil {
			return fmt.Errorf("requeue deliveries: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = 'pending', next_attempt = ?, since = ?,
			attempts = 0, last_error = '' WHERE sink = ? AND state = 'dead' AND last_error LIKE 'sink disabled: %'`,
			now, now, sink); err != nil {
			return fmt.Errorf("requeue deliveries given up while disabled: %w", err)
		}
		_, err = s.resolveProblems(ctx, tx, authpilot.SinkProblemKey(sink, authpilot.SinkDisabledProblem), true, resolved)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("enable sink %s: %w", sink, err)
	}
	return was, nil
}

// SinkQueue sums up one sink's deliveries.
type SinkQueue struct {
	Pending int
	Dead    int
	// Oldest is when the oldest pending delivery was queued (zero if none).
	Oldest time.Time
}

// SinkQueues returns the pending and dead deliveries of every sink that
// has any.
func (s *Store) SinkQueues(ctx context.Context) (map[string]SinkQueue, error) {
	out, err := queryMap(ctx, s.r, func(rows *sql.Rows) (string, SinkQueue, error) {
		var sink, oldest string
		var q SinkQueue
		err := rows.Scan(&sink, &q.Pending, &q.Dead, &oldest)
		if err == nil && oldest != "" {
			q.Oldest, err = parseTime(oldest)
		}
		return sink, q, err
	}, `SELECT sink,
			COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'dead'), 0),
			COALESCE(MIN(CASE WHEN state = 'pending' THEN since END), '')
		FROM deliveries WHERE state != 'delivered' GROUP BY sink`)
	if err != nil {
		return nil, fmt.Errorf("sink queues: %w", err)
	}
	return out, nil
}

// RaiseProblem opens problem key and enqueues a in one transaction, unless
// the problem is open already; it reports whether a was raised. a gets an
// ID and time like Enqueue's alerts.
func (s *Store) RaiseProblem(ctx context.Context, key string, a authpilot.Alert) (bool, error) {
	if key == "" {
		return false, errors.New("raise problem: empty key")
	}
	raised := false
	err := s.write(ctx, func(tx *sql.Tx) error {
		now := s.clock()
		payload, err := stampAlert(&a, now)
		if err != nil {
			return fmt.Errorf("encode alert: %w", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO problems (key, opened_at, alert) VALUES (?, ?, ?)
			ON CONFLICT (key) DO NOTHING`, key, fmtTime(a.At), string(payload))
		if err != nil {
			return fmt.Errorf("insert problem: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		n, err := s.insertAlerts(ctx, tx, []authpilot.Alert{a}, now)
		raised = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("raise problem %s: %w", key, err)
	}
	return raised, nil
}

// ResolveProblems closes every open problem whose key starts with prefix,
// enqueueing resolved(p) for each in the same transaction, and reports how
// many it closed. With nothing open it only reads.
func (s *Store) ResolveProblems(ctx context.Context, prefix string, resolved func(authpilot.Problem) authpilot.Alert) (int, error) {
	open, err := s.problems(ctx, s.r, prefix, false)
	if err != nil {
		return 0, fmt.Errorf("resolve problems %s: %w", prefix, err)
	}
	if len(open) == 0 {
		return 0, nil
	}
	var n int
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = s.resolveProblems(ctx, tx, prefix, false, resolved)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("resolve problems %s: %w", prefix, err)
	}
	return n, nil
}

func (s *Store) resolveProblems(ctx context.Context, tx *sql.Tx, key string, exact bool,
	resolved func(authpilot.Problem) authpilot.Alert) (int, error) {
	ps, err := s.problems(ctx, tx, key, exact)
	if err != nil {
		return 0, err
	}
	var alerts []authpilot.Alert
	for _, p := range ps {
		if _, err := tx.ExecContext(ctx, "DELETE FROM problems WHERE key = ?", p.Key); err != nil {
			return 0, fmt.Errorf("close problem: %w", err)
		}
		if resolved != nil {
			alerts = append(alerts, resolved(p))
		}
	}
	if _, err := s.insertAlerts(ctx, tx, alerts, s.clock()); err != nil {
		return 0, err
	}
	return len(ps), nil
}

// OpenProblems lists the open problems, oldest first.
func (s *Store) OpenProblems(ctx context.Context) ([]authpilot.Problem, error) {
	ps, err := s.problems(ctx, s.r, "", false)
	if err != nil {
		return nil, fmt.Errorf("open problems: %w", err)
	}
	return ps, nil
}

// problems reads the open problems whose key is key (exact) or starts
// with it.
func (s *Store) problems(ctx context.Context, q queryer, key string, exact bool) ([]authpilot.Problem, error) {
	cond, args := "substr(key, 1, length(?)) = ?", []any{key, key}
	if exact {
		cond, args = "key = ?", []any{key}
	}
	out, err := queryAll(ctx, q, scanProblem, "SELECT key, opened_at, alert FROM problems WHERE "+cond+" ORDER BY opened_at, rowid", args...)
	if err != nil {
		return nil, fmt.Errorf("query problems: %w", err)
	}
	return out, nil
}

func scanProblem(rows *sql.Rows) (authpilot.Problem, error) {
	var p authpilot.Problem
	var opened, payload string
	if err := rows.Scan(&p.Key, &opened, &payload); err != nil {
		return p, fmt.Errorf("scan problem: %w", err)
	}
	var err error
	if p.Opened, err = parseTime(opened); err != nil {
		return p, err
	}
	p.Alert, err = decodeAlert(payload, sql.NullString{})
	return p, err
}

// DisabledSinks returns the disabled sinks and their reasons.
func (s *Store) DisabledSinks(ctx context.Context) (map[string]string, error) {
	m, err := queryMap(ctx, s.r, func(rows *sql.Rows) (sink, reason string, err error) {
		err = rows.Scan(&sink, &reason)
		return sink, reason, err
	}, "SELECT sink, reason FROM disabled_sinks")
	if err != nil {
		return nil, fmt.Errorf("disabled sinks: %w", err)
	}
	return m, nil
}

// Deliveries lists an alert's deliveries by sink, or fails with an error
// wrapping authpilot.ErrNotFound for an unknown alert.
func (s *Store) Deliveries(ctx context.Context, alertID string) ([]authpilot.Delivery, error) {
	var out []authpilot.Delivery
	err := s.read(ctx, func(tx *sql.Tx) error {
		var seq int64
		err := tx.QueryRowContext(ctx, "SELECT seq FROM alerts WHERE id = ?", alertID).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return authpilot.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("look up alert: %w", err)
		}
		out, err = queryAll(ctx, tx, scanDelivery, `SELECT `+deliveryColumns+`
			FROM deliveries d JOIN alerts a ON a.seq = d.alert_seq
			WHERE d.alert_seq = ? ORDER BY d.sink`, seq)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("deliveries of alert %s: %w", alertID, err)
	}
	return out, nil
}

// MissedDeadlines returns the deadline_missed alerts raised at or after
// since, oldest first: one for each deadline that passed unmet (the
// reports count them).
func (s *Store) MissedDeadlines(ctx context.Context, since time.Time) ([]authpilot.Alert, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT payload, dedup_key FROM alerts WHERE type = ? AND at >= ? ORDER BY seq`,
		string(authpilot.AlertDeadlineMissed), fmtTime(since))
	if err != nil {
		return nil, fmt.Errorf("list missed deadlines: %w", err)
	}
	defer rows.Close()
	var out []authpilot.Alert
	for rows.Next() {
		var payload string
		var key sql.NullString
		if err := rows.Scan(&payload, &key); err != nil {
			return nil, fmt.Errorf("list missed deadlines: %w", err)
		}
		a, err := decodeAlert(payload, key)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
