package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/ids"
)

// alertsInOrder returns the stored alerts in raise order.
func alertsInOrder(t *testing.T, s *Store) []authpilot.Alert {
	t.Helper()
	rows, err := s.r.QueryContext(context.Background(), "SELECT dedup_key, payload FROM alerts ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []authpilot.Alert
	for rows.Next() {
		ua, err := scanAlertRow(rows)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ua)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func scanAlertRow(rows interface{ Scan(...any) error }) (authpilot.Alert, error) {
	var dedup sql.NullString
	var payload string
	if err := rows.Scan(&dedup, &payload); err != nil {
		return authpilot.Alert{}, err
	}
	return decodeAlert(payload, dedup)
}

func titles(as []authpilot.Alert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Title)
	}
	return out
}

func TestEnqueue(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t)
	explicit := time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("X", 3600))
	n, err := s.Enqueue(ctx,
		authpilot.Alert{Type: authpilot.AlertConnectorFailing, Title: "one", DedupKey: "k1"},
		authpilot.Alert{Type: authpilot.AlertTest, Title: "two", At: explicit},
		authpilot.Alert{Type: authpilot.AlertConnectorFailing, Title: "one again", DedupKey: "k1"},
		authpilot.Alert{Type: authpilot.AlertDigest, Title: "three", ID: "01HXYZFIXEDIDFORTEST000000"},
	)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("Enqueue = %d new, want 3", n)
	}
	got := alertsInOrder(t, s)
	if want := []string{"one", "two", "three"}; !reflect.DeepEqual(titles(got), want) {
		t.Fatalf("alerts = %v, want %v", titles(got), want)
	}
	if _, err := ids.Time(got[0].ID); err != nil {
		t.Errorf("assigned ID %q is not a ULID: %v", got[0].ID, err)
	}
	if got[0].ID == got[1].ID {
		t.Error("two alerts got the same ID")
	}
	if got[2].ID != "01HXYZFIXEDIDFORTEST000000" {
		t.Errorf("given ID replaced by %q", got[2].ID)
	}
	if !got[0].At.Equal(clk.Now()) || got[0].DedupKey != "k1" {
		t.Errorf("alert 0 at %v dedup %q, want %v and k1", got[0].At, got[0].DedupKey, clk.Now())
	}
	if !got[1].At.Equal(explicit) || got[1].At.Location() != time.UTC {
		t.Errorf("alert 1 at %v, want %v in UTC", got[1].At, explicit)
	}

	tests := []struct {
		name   string
		alerts []authpilot.Alert
		want   int
	}{
		{"none", nil, 0},
		{"seen dedup key", []authpilot.Alert{{Type: authpilot.AlertTest, DedupKey: "k1"}}, 0},
		{"seen id", []authpilot.Alert{{Type: authpilot.AlertTest, ID: "01HXYZFIXEDIDFORTEST000000"}}, 0},
		{"new key and no key", []authpilot.Alert{{Type: authpilot.AlertTest, DedupKey: "k2"}, {Type: authpilot.AlertTest}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := count(t, s, "SELECT COUNT(*) FROM alerts")
			n, err := s.Enqueue(ctx, tt.alerts...)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.want {
				t.Errorf("Enqueue = %d, want %d", n, tt.want)
			}
			if after := count(t, s, "SELECT COUNT(*) FROM alerts"); after-before != tt.want {
				t.Errorf("alerts grew by %d, want %d", after-before, tt.want)
			}
		})
	}
	t.Run("invalid alert writes none", func(t *testing.T) {
		before := count(t, s, "SELECT COUNT(*) FROM alerts")
		if _, err := s.Enqueue(ctx, authpilot.Alert{Type: authpilot.AlertTest, DedupKey: "k9"}, authpilot.Alert{}); err == nil {
			t.Fatal("Enqueue of an alert without type succeeded")
		}
		if after := count(t, s, "SELECT COUNT(*) FROM alerts"); after != before {
			t.Errorf("alerts grew by %d after a failed Enqueue", after-before)
		}
	})
}

func TestDedupAcrossWrites(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	alert := func(title string) authpilot.Alert {
		return authpilot.Alert{Type: authpilot.AlertDeadlineApproaching, Title: title, DedupKey: "c1:decision_due:24h"}
	}
	if err := s.CreateCase(ctx, testCase("c1"), authpilot.Changes{Alerts: []authpilot.Alert{alert("from create")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateCase(ctx, "c1", func(c *authpilot.Case) (authpilot.Changes, error) {
		return authpilot.Changes{Alerts: []authpilot.Alert{alert("from update")}}, nil
	}); err != nil {
		t.Fatalf("UpdateCase with a duplicate alert: %v", err)
	}
	if n, err := s.Enqueue(ctx, alert("from enqueue")); err != nil || n != 0 {
		t.Errorf("Enqueue = %d, %v; want 0, nil", n, err)
	}
	if err := s.CreateCase(ctx, testCase("c2"), authpilot.Changes{Alerts: []authpilot.Alert{alert("from another create")}}); err != nil {
		t.Fatalf("CreateCase with a duplicate alert: %v", err)
	}
	if got := titles(alertsInOrder(t, s)); !reflect.DeepEqual(got, []string{"from create"}) {
		t.Errorf("alerts = %v, want only the first", got)
	}
}

// recordingRoute routes by alert type and records the order it saw.
type recordingRoute struct {
	mu    sync.Mutex
	seen  []string
	sinks map[authpilot.AlertType][]string
}

func (r *recordingRoute) route(a authpilot.Alert) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, a.Title)
	return r.sinks[a.Type]
}

func TestRouteNew(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t)
	var alerts []authpilot.Alert
	for i := range 250 { // more than one batch
		typ := authpilot.AlertStatusChanged
		if i%5 == 0 {
			typ = authpilot.AlertDigest
		}
		alerts = append(alerts, authpilot.Alert{Type: typ, Title: fmt.Sprintf("a%03d", i)})
	}
	if _, err := s.Enqueue(ctx, alerts...); err != nil {
		t.Fatal(err)
	}
	r := &recordingRoute{sinks: map[authpilot.AlertType][]string{
		authpilot.AlertStatusChanged: {"slack-ops", "webhook-ehr", "slack-ops"}, // a repeat is one delivery
		authpilot.AlertDigest:        nil,
	}}
	n, err := s.RouteNew(ctx, r.route)
	if err != nil {
		t.Fatal(err)
	}
	if n != 250 {
		t.Errorf("RouteNew = %d, want 250", n)
	}
	if !reflect.DeepEqual(r.seen, titles(alerts)) {
		t.Errorf("route saw alerts out of raise order: %v", r.seen)
	}
	if got := count(t, s, "SELECT COUNT(*) FROM deliveries"); got != 200*2 {
		t.Errorf("%d deliveries, want 400", got)
	}
	if got := count(t, s, "SELECT COUNT(*) FROM deliveries WHERE next_attempt = ? AND state = 'pending' AND attempts = 0", fmtTime(clk.Now())); got != 400 {
		t.Errorf("%d fresh pending deliveries due now, want 400", got)
	}

	t.Run("once only", func(t *testing.T) {
		r2 := &recordingRoute{}
		n, err := s.RouteNew(ctx, r2.route)
		if err != nil || n != 0 || len(r2.seen) != 0 {
			t.Errorf("second RouteNew = %d, %v, route called %d times; want 0, nil, 0", n, err, len(r2.seen))
		}
	})
	t.Run("new alerts after", func(t *testing.T) {
		if _, err := s.Enqueue(ctx, authpilot.Alert{Type: authpilot.AlertStatusChanged, Title: "late"}); err != nil {
			t.Fatal(err)
		}
		r3 := &recordingRoute{sinks: r.sinks}
		n, err := s.RouteNew(ctx, r3.route)
		if err != nil || n != 1 || !reflect.DeepEqual(r3.seen, []string{"late"}) {
			t.Errorf("RouteNew = %d, %v, saw %v; want 1, nil, [late]", n, err, r3.seen)
		}
	})
}

func TestRouteNewConcurrent(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	const alerts = 60
	for i := range alerts {
		if _, err := s.Enqueue(ctx, authpilot.Alert{Type: authpilot.AlertTest, Title: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	route := func(authpilot.Alert) []string { return []string{"sink"} }
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		wg.Go(func() {
			n, err := s.RouteNew(ctx, route)
			if err != nil {
				t.Errorf("RouteNew: %v", err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != alerts {
		t.Errorf("concurrent RouteNew calls routed %d alerts in all, want %d", total, alerts)
	}
	if got := count(t, s, "SELECT COUNT(*) FROM deliveries"); got != alerts {
		t.Errorf("%d deliveries, want %d", got, alerts)
	}
}

// outboxFixture enqueues alerts and routes them; it returns the alerts in
// raise order.
func outboxFixture(t *testing.T, s *Store, route map[string][]string) []authpilot.Alert {
	t.Helper()
	ctx := context.Background()
	var titles []string
	for title := range route {
		titles = append(titles, title)
	}
	sort.Strings(titles)
	for _, title := range titles {
		if _, err := s.Enqueue(ctx, authpilot.Alert{Type: authpilot.AlertTest, Title: title, DedupKey: "dk-" + title}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RouteNew(ctx, func(a authpilot.Alert) []string { return route[a.Title] }); err != nil {
		t.Fatal(err)
	}
	return alertsInOrder(t, s)
}

type deliveryKey struct{ sink, title string }

func keys(ds []authpilot.Delivery) []deliveryKey {
	var out []deliveryKey
	for _, d := range ds {
		out = append(out, deliveryKey{d.Sink, d.Alert.Title})
	}
	return out
}

func TestPendingDeliveries(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	outboxFixture(t, s, map[string][]string{
		"a1": {"webhook", "slack"},
		"a2": {"slack"},
		"a3": {"webhook", "slack"},
		"a4": {"slack", "email"},
		"a5": {"webhook"},
	})
	tests := []struct {
		name  string
		limit int
		want  []deliveryKey
	}{
		{"no cap", 0, []deliveryKey{
			{"email", "a4"},
			{"slack", "a1"}, {"slack", "a2"}, {"slack", "a3"}, {"slack", "a4"},
			{"webhook", "a1"}, {"webhook", "a3"}, {"webhook", "a5"},
		}},
		{"two per sink", 2, []deliveryKey{
			{"email", "a4"},
			{"slack", "a1"}, {"slack", "a2"},
			{"webhook", "a1"}, {"webhook", "a3"},
		}},
		{"one per sink", 1, []deliveryKey{{"email", "a4"}, {"slack", "a1"}, {"webhook", "a1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := s.PendingDeliveries(ctx, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := keys(ds); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("PendingDeliveries(%d) = %v\nwant %v", tt.limit, got, tt.want)
			}
			for _, d := range ds {
				if d.State != authpilot.DeliveryPending || d.Alert.ID == "" || d.Alert.DedupKey != "dk-"+d.Alert.Title || d.ID == 0 {
					t.Errorf("delivery %+v not fully decoded", d)
				}
			}
		})
	}

	t.Run("finished deliveries drop out", func(t *testing.T) {
		ds, err := s.PendingDeliveries(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			switch d.Sink {
			case "slack":
				err = s.MarkDelivered(ctx, d.ID, time.Now())
			case "webhook":
				err = s.MarkDead(ctx, d.ID, "410 gone")
			case "email":
				err = s.MarkRetry(ctx, d.ID, time.Now().Add(time.Hour), "timeout")
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		ds, err = s.PendingDeliveries(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		want := []deliveryKey{{"email", "a4"}, {"slack", "a2"}, {"webhook", "a3"}}
		if got := keys(ds); !reflect.DeepEqual(got, want) {
			t.Errorf("PendingDeliveries = %v, want %v", got, want)
		}
	})
}

func TestMarkDelivery(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC)
	next := at.Add(5 * time.Minute)
	type step struct {
		op      string // delivered, retry, dead
		wantErr error
	}
	tests := []struct {
		name  string
		steps []step
		want  authpilot.Delivery // State, Attempts, LastError, NextAttempt, DeliveredAt
	}{
		{"delivered", []step{{"delivered", nil}},
			authpilot.Delivery{State: authpilot.DeliveryDelivered, DeliveredAt: &at}},
		{"retry twice then delivered", []step{{"retry", nil}, {"retry", nil}, {"delivered", nil}},
			authpilot.Delivery{State: authpilot.DeliveryDelivered, Attempts: 2, LastError: "boom", NextAttempt: next, DeliveredAt: &at}},
		{"delivered twice", []step{{"delivered", nil}, {"delivered", nil}},
			authpilot.Delivery{State: authpilot.DeliveryDelivered, DeliveredAt: &at}},
		{"retry then dead", []step{{"retry", nil}, {"dead", nil}},
			authpilot.Delivery{State: authpilot.DeliveryDead, Attempts: 1, LastError: "gone", NextAttempt: next}},
		{"dead twice", []step{{"dead", nil}, {"dead", nil}},
			authpilot.Delivery{State: authpilot.DeliveryDead, LastError: "gone"}},
		{"retry after dead", []step{{"dead", nil}, {"retry", authpilot.ErrConflict}},
			authpilot.Delivery{State: authpilot.DeliveryDead, LastError: "gone"}},
		{"dead after delivered", []step{{"delivered", nil}, {"dead", authpilot.ErrConflict}},
			authpilot.Delivery{State: authpilot.DeliveryDelivered, DeliveredAt: &at}},
		{"retry after delivered", []step{{"delivered", nil}, {"retry", authpilot.ErrConflict}},
			authpilot.Delivery{State: authpilot.DeliveryDelivered, DeliveredAt: &at}},
		{"delivered after dead", []step{{"dead", nil}, {"delivered", nil}},
			authpilot.Delivery{State: authpilot.DeliveryDelivered, LastError: "gone", DeliveredAt: &at}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := openTest(t)
			alerts := outboxFixture(t, s, map[string][]string{"a": {"slack"}})
			ds, err := s.Deliveries(ctx, alerts[0].ID)
			if err != nil || len(ds) != 1 {
				t.Fatalf("Deliveries = %v, %v", ds, err)
			}
			id := ds[0].ID
			for i, st := range tt.steps {
				switch st.op {
				case "delivered":
					err = s.MarkDelivered(ctx, id, at)
				case "retry":
					err = s.MarkRetry(ctx, id, next, "boom")
				case "dead":
					err = s.MarkDead(ctx, id, "gone")
				}
				if !errors.Is(err, st.wantErr) {
					t.Fatalf("step %d (%s): err = %v, want %v", i, st.op, err, st.wantErr)
				}
			}
			ds, err = s.Deliveries(ctx, alerts[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			got := ds[0]
			want := tt.want
			want.ID, want.Sink, want.Alert = id, "slack", alerts[0]
			if want.NextAttempt.IsZero() {
				want.NextAttempt = clk.Now()
			}
			want.Since = clk.Now()
			if !reflect.DeepEqual(got, want) {
				t.Errorf("delivery = %+v\nwant %+v", got, want)
			}
		})
	}
	t.Run("unknown id", func(t *testing.T) {
		s, _ := openTest(t)
		for name, err := range map[string]error{
			"delivered": s.MarkDelivered(ctx, 42, at),
			"retry":     s.MarkRetry(ctx, 42, next, "x"),
			"dead":      s.MarkDead(ctx, 42, "x"),
		} {
			if !errors.Is(err, authpilot.ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", name, err)
			}
		}
		if _, err := s.Deliveries(ctx, "nope"); !errors.Is(err, authpilot.ErrNotFound) {
			t.Errorf("Deliveries of unknown alert: err = %v, want ErrNotFound", err)
		}
	})
}

// TestDisableSinkKeepsQueue: a disabled sink keeps its pending deliveries
// and gets new ones; EnableSink makes them due again with a fresh retry
// window and closes the disabled problem with its resolved alert.
func TestDisableSinkKeepsQueue(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	alerts := outboxFixture(t, s, map[string][]string{
		"a1": {"webhook", "slack"},
		"a2": {"webhook", "slack"},
	})
	ds, err := s.Deliveries(ctx, alerts[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	// Delivered before the sink went away: stays delivered.
	for _, d := range ds {
		if d.Sink == "webhook" {
			if err := s.MarkDelivered(ctx, d.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	at := time.Date(2025, 3, 3, 16, 0, 0, 0, time.UTC)
	if err := s.DisableSink(ctx, "webhook", "410 gone", at); err != nil {
		t.Fatal(err)
	}
	if raised, err := s.RaiseProblem(ctx, authpilot.SinkProblemKey("webhook", authpilot.SinkDisabledProblem),
		authpilot.Alert{Type: authpilot.AlertSinkDisabled, Sink: "webhook", Title: "webhook gone"}); err != nil || !raised {
		t.Fatalf("RaiseProblem = %v, %v", raised, err)
	}
	if _, err := s.Enqueue(ctx, authpilot.Alert{Type: authpilot.AlertTest, Title: "a3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RouteNew(ctx, func(authpilot.Alert) []string { return []string{"webhook", "slack"} }); err != nil {
		t.Fatal(err)
	}
	all := alertsInOrder(t, s)
	states := func() map[string]authpilot.DeliveryState {
		m := map[string]authpilot.DeliveryState{}
		for _, a := range all {
			ds, err := s.Deliveries(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				m[a.Title+"/"+d.Sink] = d.State
			}
		}
		return m
	}
	want := map[string]authpilot.DeliveryState{
		"a1/webhook": authpilot.DeliveryDelivered, "a1/slack": authpilot.DeliveryPending,
		"a2/webhook": authpilot.DeliveryPending, "a2/slack": authpilot.DeliveryPending,
		"webhook gone/webhook": authpilot.DeliveryPending, "webhook gone/slack": authpilot.DeliveryPending,
		"a3/webhook": authpilot.DeliveryPending, "a3/slack": authpilot.DeliveryPending,
	}
	if got := states(); !reflect.DeepEqual(got, want) {
		t.Errorf("states while disabled = %v\nwant %v", got, want)
	}
	got, err := s.DisabledSinks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"webhook": "410 gone"}; !reflect.DeepEqual(got, want) {
		t.Errorf("DisabledSinks = %v, want %v", got, want)
	}
	qs, err := s.SinkQueues(ctx)
	if err != nil || qs["webhook"].Pending != 3 || qs["slack"].Pending != 4 {
		t.Errorf("SinkQueues = %+v, %v", qs, err)
	}

	// A delivery an older authpilot gave up because the sink was disabled.
	legacy := alertsInOrder(t, s)[3]
	if _, err := s.w.ExecContext(ctx, `UPDATE deliveries SET state = 'dead', last_error = 'sink disabled: http 410 Gone'
		WHERE sink = 'webhook' AND alert_seq = (SELECT seq FROM alerts WHERE id = ?)`, legacy.ID); err != nil {
		t.Fatal(err)
	}

	enabledAt := at.Add(48 * time.Hour)
	was, err := s.EnableSink(ctx, "webhook", enabledAt, func(p authpilot.Problem) authpilot.Alert {
		return authpilot.Alert{Type: authpilot.AlertResolved, Resolves: p.Alert.Type, Title: "resolved: " + p.Alert.Title}
	})
	if err != nil || !was {
		t.Fatalf("EnableSink = %v, %v", was, err)
	}
	if got, _ := s.DisabledSinks(ctx); len(got) != 0 {
		t.Errorf("still disabled: %v", got)
	}
	pending, err := s.PendingDeliveries(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range pending {
		if d.Sink == "webhook" {
			n++
			if !d.NextAttempt.Equal(enabledAt) || !d.Since.Equal(enabledAt) || d.Attempts != 0 {
				t.Errorf("after enable: %+v, want due at and retried from %v", d, enabledAt)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d pending to webhook after enable, want 3", n)
	}
	if ps, _ := s.OpenProblems(ctx); len(ps) != 0 {
		t.Errorf("open problems after enable: %+v", ps)
	}
	if last := alertsInOrder(t, s); last[len(last)-1].Title != "resolved: webhook gone" {
		t.Errorf("last alert %+v, want the resolved alert", last[len(last)-1])
	}
	if was, err := s.EnableSink(ctx, "webhook", enabledAt, nil); err != nil || was {
		t.Errorf("EnableSink of an enabled sink = %v, %v", was, err)
	}
	if err := s.DisableSink(ctx, "", "x", at); err == nil {
		t.Error("DisableSink with empty name succeeded")
	}
}

// TestPendingDeliveriesPriority: per sink, critical and warning alerts
// come before info alerts, but an alert carries the earlier alerts of its
// own case (order key) ahead of it; equal priorities keep the order raised.
func TestPendingDeliveriesPriority(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	info, warn, crit := authpilot.SeverityInfo, authpilot.SeverityWarning, authpilot.SeverityCritical
	raised := []authpilot.Alert{
		{Title: "i1 case A", Severity: info, CaseID: "A"},
		{Title: "i2 case B", Severity: info, CaseID: "B"},
		{Title: "i3 no key", Severity: info},
		{Title: "i4 case C", Severity: info, CaseID: "C"},
		{Title: "w5 connector X", Severity: warn, ConnectorID: "X"},
		{Title: "c6 case B", Severity: crit, CaseID: "B"},
		{Title: "i7 case B", Severity: info, CaseID: "B"},
		{Title: "c8 no key", Severity: crit},
		{Title: "i9 case A", Severity: info, CaseID: "A"},
	}
	for i := range raised {
		raised[i].Type = authpilot.AlertStatusChanged
	}
	if _, err := s.Enqueue(ctx, raised...); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RouteNew(ctx, func(authpilot.Alert) []string { return []string{"hook"} }); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		limit int
		want  []string
	}{
		{0, []string{"i2 case B", "c6 case B", "c8 no key", "w5 connector X", "i1 case A", "i3 no key", "i4 case C", "i7 case B", "i9 case A"}},
		{3, []string{"i2 case B", "c6 case B", "c8 no key"}},
	}
	for _, tt := range tests {
		ds, err := s.PendingDeliveries(ctx, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range ds {
			got = append(got, d.Alert.Title)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("limit %d: order %q\nwant %q", tt.limit, got, tt.want)
		}
	}
}

// TestProblems: a problem raises its alert once while open; resolving it
// enqueues the resolved alert in the same write, and then it may be raised
// again. Prefixes select what to resolve.
func TestProblems(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	raise := func(key, title string) bool {
		t.Helper()
		ok, err := s.RaiseProblem(ctx, key, authpilot.Alert{Type: authpilot.AlertConnectorFailing, Severity: authpilot.SeverityCritical,
			ConnectorID: "summit", Title: title})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	resolved := func(p authpilot.Problem) authpilot.Alert {
		return authpilot.Alert{Type: authpilot.AlertResolved, Resolves: p.Alert.Type, Title: "resolved " + p.Alert.Title}
	}
	if !raise("connector:summit:timeout", "outage 1") {
		t.Fatal("first raise did not raise")
	}
	if raise("connector:summit:timeout", "outage 1 again") {
		t.Error("the same open problem raised twice")
	}
	if !raise("connector:summit:http #", "outage 2") || !raise("connector:summit-east:timeout", "other connector") {
		t.Error("a different problem did not raise")
	}
	ps, err := s.OpenProblems(ctx)
	if err != nil || len(ps) != 3 || ps[0].Alert.Title != "outage 1" || ps[0].Alert.ID == "" {
		t.Fatalf("OpenProblems = %+v, %v", ps, err)
	}
	n, err := s.ResolveProblems(ctx, "connector:summit:", resolved)
	if err != nil || n != 2 {
		t.Fatalf("ResolveProblems = %d, %v; want 2 (not the other connector's)", n, err)
	}
	if n, err := s.ResolveProblems(ctx, "connector:summit:", resolved); err != nil || n != 0 {
		t.Errorf("second ResolveProblems = %d, %v", n, err)
	}
	if !raise("connector:summit:timeout", "outage 3") {
		t.Error("a resolved problem did not raise again")
	}
	want := []string{"outage 1", "outage 2", "other connector", "resolved outage 1", "resolved outage 2", "outage 3"}
	if got := titles(alertsInOrder(t, s)); !slices.Equal(got, want) {
		t.Errorf("alerts %q\nwant %q", got, want)
	}
}
