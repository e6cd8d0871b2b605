package notify_test

// The tests of "alerts are never lost or buried" (issue 10, item 7), each
// against real httptest receivers and the real SQLite outbox on disk, on
// a fake clock driven pass by pass (no sleeps).

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/notify/webhook"
	"github.com/authpilot/authpilot/schedules/clocktest"
	"github.com/authpilot/authpilot/store"
)

// sqlEnv is a dispatcher over the SQLite store.
type sqlEnv struct {
	clock *clocktest.Fake
	st    *store.Store
	d     *notify.Dispatcher
	logs  *notifytest.LogBuffer
}

func newSQLEnv(t *testing.T, clock *clocktest.Fake, sinkCfgs []notify.Sink, secrets notifytest.Secrets, router *notify.Router) *sqlEnv {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "data"), store.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ns, err := notify.Build(sinkCfgs, notify.Env{Secrets: secrets, Clock: clock, Location: eastern})
	if err != nil {
		t.Fatal(err)
	}
	if router.Sinks == nil {
		router.Sinks = notify.Names(sinkCfgs)
	}
	logger, logs := notifytest.NewLogger()
	d := notify.NewDispatcher(st, st, router, ns, clock, logger, notify.Options{Rand: func() float64 { return 0.5 }})
	t.Cleanup(func() {
		notifytest.AssertNoSecrets(t, logs.String(), nil, nil, hookKeyPart, hookToken, slackToken)
	})
	return &sqlEnv{clock: clock, st: st, d: d, logs: logs}
}

func (e *sqlEnv) pass(t *testing.T) int {
	t.Helper()
	n, err := e.d.DeliverOnce(t.Context())
	if err != nil {
		t.Fatalf("DeliverOnce: %v", err)
	}
	return n
}

func (e *sqlEnv) enqueue(t *testing.T, alerts ...authpilot.Alert) {
	t.Helper()
	if _, err := e.st.Enqueue(t.Context(), alerts...); err != nil {
		t.Fatal(err)
	}
}

// enqueueInfo enqueues caseAlert(i, SeverityInfo) and returns its ID.
func (e *sqlEnv) enqueueInfo(t *testing.T, i int) string {
	t.Helper()
	a := caseAlert(i, authpilot.SeverityInfo)
	e.enqueue(t, a)
	return a.ID
}

// run makes passes, advancing the clock by step after each, for d.
func (e *sqlEnv) run(t *testing.T, step, d time.Duration) {
	t.Helper()
	for end := e.clock.Now().Add(d); e.clock.Now().Before(end); e.clock.Advance(step) {
		e.pass(t)
	}
}

// caseAlert is alert i of its own case.
func caseAlert(i int, sev authpilot.Severity) authpilot.Alert {
	a := alertN(i, authpilot.AlertStatusChanged)
	a.CaseID = fmt.Sprintf("01JCASE%019d", i)
	a.Severity = sev
	a.Title = fmt.Sprintf("alert %d", i)
	return a
}

// delivered lists the webhook-ids a receiver answered 2xx, in order, and
// fails on a duplicate.
func delivered(t *testing.T, ep *notifytest.Endpoint) []string {
	t.Helper()
	var ids []string
	for _, r := range ep.Requests() {
		if r.Code/100 != 2 {
			continue
		}
		if slices.Contains(ids, r.ID()) {
			t.Errorf("webhook-id %s delivered twice", r.ID())
		}
		ids = append(ids, r.ID())
	}
	return ids
}

// failUntil answers code until the clock reaches fixed, then 200.
func failUntil(clock *clocktest.Fake, fixed time.Time, code int) func(int, notifytest.Request) notifytest.Answer {
	return func(int, notifytest.Request) notifytest.Answer {
		if clock.Now().Before(fixed) {
			return notifytest.Answer{Code: code}
		}
		return notifytest.Answer{}
	}
}

func payloads(t *testing.T, ep *notifytest.Endpoint) []webhook.Payload {
	t.Helper()
	var out []webhook.Payload
	for _, r := range ep.Requests() {
		if r.Code/100 == 2 {
			out = append(out, r.Payload())
		}
	}
	return out
}

// TestWebhook404ForAWhileLosesNothing is the report: a receiver answering
// 404 for 14 s (a redeploy) lost 6 of 10 alerts, each given up after one
// attempt. Every status a receiver may give while it is being fixed is
// retried; all 10 alerts arrive, once each.
func TestWebhook404ForAWhileLosesNothing(t *testing.T) {
	for _, code := range []int{404, 400, 401, 403, 422, 301} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			clock := clocktest.New(start)
			down := start.Add(14 * time.Second)
			ep := newEndpoint(t, clock, failUntil(clock, down, code))
			e := newSQLEnv(t, clock, []notify.Sink{hookSink("hook", "hook-url")},
				notifytest.Secrets{"hook-url": ep.URL + "/in?token=" + hookToken, "hook-key": hookSecret}, routeAll("hook"))
			var want []string
			for i := range 10 {
				// One alert every 1.5 s, while the receiver is down.
				want = append(want, e.enqueueInfo(t, i))
				e.pass(t)
				clock.Advance(1500 * time.Millisecond)
			}
			e.run(t, time.Second, 2*time.Minute)
			got := delivered(t, ep)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("delivered %d of 10 alerts: %q", len(got), got)
			}
			for _, id := range want {
				ds, err := e.st.Deliveries(t.Context(), id)
				if err != nil || len(ds) != 1 || ds[0].State != authpilot.DeliveryDelivered {
					t.Errorf("alert %s: %+v, %v", id, ds, err)
				}
			}
		})
	}
}

// TestWebhookGoneKeepsQueueUntilEnabled is the report: one 410 disabled
// the sink for good, later alerts were never queued, and nothing
// re-enabled it. Now the sink's queue keeps filling while it is disabled,
// the other sink hears of it, and `authpilot notify enable` (EnableSink on
// the store, as the CLI does beside the daemon) lets every alert through,
// the 410's own one included, with a resolved alert to the other sink.
func TestWebhookGoneKeepsQueueUntilEnabled(t *testing.T) {
	clock := clocktest.New(start)
	fixed := start.Add(72 * time.Hour)
	ep := newEndpoint(t, clock, failUntil(clock, fixed, 410))
	ops := newEndpoint(t, clock, nil)
	e := newSQLEnv(t, clock, []notify.Sink{hookSink("hook", "hook-url"), hookSink("ops", "ops-url")},
		notifytest.Secrets{"hook-url": ep.URL, "ops-url": ops.URL, "hook-key": hookSecret},
		&notify.Router{Routes: []notify.Route{{Types: []authpilot.AlertType{authpilot.AlertStatusChanged}, Sinks: []string{"hook"}}}})
	var want []string
	for i := range 3 {
		want = append(want, e.enqueueInfo(t, i))
	}
	e.run(t, time.Minute, 10*time.Minute)
	if n := len(ep.Requests()); n != 1 {
		t.Fatalf("gone endpoint got %d requests, want 1", n)
	}
	// Raised over the next three days while the sink is disabled.
	for i := 3; i < 8; i++ {
		want = append(want, e.enqueueInfo(t, i))
		e.run(t, time.Hour, 12*time.Hour)
	}
	if n := len(ep.Requests()); n != 1 {
		t.Fatalf("disabled endpoint got %d requests, want none after the 410", n)
	}
	qs, err := e.st.SinkQueues(t.Context())
	if err != nil || qs["hook"].Pending != 8 || qs["hook"].Dead != 0 {
		t.Fatalf("hook's queue while disabled = %+v, %v; want all 8 pending", qs["hook"], err)
	}

	clock.Set(fixed)
	was, err := e.st.EnableSink(t.Context(), "hook", clock.Now(), func(p authpilot.Problem) authpilot.Alert {
		return notify.ResolvedAlert(p, "re-enabled", clock.Now())
	})
	if err != nil || !was {
		t.Fatalf("EnableSink = %v, %v", was, err)
	}
	e.run(t, time.Second, time.Minute)
	if got := delivered(t, ep); !slices.Equal(got, want) {
		t.Errorf("after enable the sink got %d alerts %q\nwant %q", len(got), got, want)
	}
	var types []authpilot.AlertType
	for _, p := range payloads(t, ops) {
		types = append(types, p.Type)
		if p.Data.Sink != "hook" {
			t.Errorf("ops got %s about sink %q", p.Type, p.Data.Sink)
		}
	}
	if want := []authpilot.AlertType{authpilot.AlertSinkDisabled, authpilot.AlertResolved}; !slices.Equal(types, want) {
		t.Errorf("ops got %v, want %v", types, want)
	}
}

// TestFailingSinkAlertsOnceThroughTheOthers: a sink that fails every
// attempt for two days raises exactly one sink_failing, through the other
// sink only; it is resolved once the sink delivers again, and its queue
// (alerts still in their retry window) goes then.
func TestFailingSinkAlertsOnceThroughTheOthers(t *testing.T) {
	for _, code := range []int{500, 404} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			clock := clocktest.New(start)
			back := start.Add(48 * time.Hour)
			ep := newEndpoint(t, clock, failUntil(clock, back, code))
			ops := newEndpoint(t, clock, nil)
			e := newSQLEnv(t, clock, []notify.Sink{hookSink("hook", "hook-url"), hookSink("ops", "ops-url")},
				notifytest.Secrets{"hook-url": ep.URL, "ops-url": ops.URL, "hook-key": hookSecret},
				&notify.Router{Routes: []notify.Route{{Sinks: []string{"hook"}}}})
			for i := range 24 {
				e.enqueue(t, caseAlert(i, authpilot.SeverityWarning))
				e.run(t, 15*time.Minute, 2*time.Hour)
			}
			late := caseAlert(100, authpilot.SeverityWarning)
			e.enqueue(t, late)
			e.run(t, time.Minute, 2*time.Hour)

			ps := payloads(t, ops)
			var types []authpilot.AlertType
			for _, p := range ps {
				types = append(types, p.Type)
			}
			want := []authpilot.AlertType{authpilot.AlertSinkFailing, authpilot.AlertResolved}
			if !slices.Equal(types, want) {
				t.Fatalf("ops got %v, want %v", types, want)
			}
			if f := ps[0].Data; f.Sink != "hook" || f.Severity != authpilot.SeverityCritical || !strings.Contains(f.Reason, fmt.Sprint(code)) {
				t.Errorf("sink_failing = %+v", f)
			}
			if r := ps[1].Data; r.Resolves != authpilot.AlertSinkFailing || r.Sink != "hook" {
				t.Errorf("resolved = %+v", r)
			}
			for _, r := range ep.Requests() {
				if p := r.Payload(); p.Data.Sink == "hook" {
					t.Errorf("the failing sink was sent its own %s alert", p.Type)
				}
			}
			if got := delivered(t, ep); !slices.Contains(got, late.ID) {
				t.Errorf("the alert raised within the retry window was not delivered once the sink was back")
			}
			// Bounded: no delivery older than the window is still retried.
			qs, err := e.st.SinkQueues(t.Context())
			if err != nil || qs["hook"].Pending != 0 {
				t.Errorf("hook still has %+v pending, %v", qs["hook"], err)
			}
		})
	}
}

// TestCriticalOvertakesInfo is the report: Slack is strict FIFO at one
// message a second, so needs_human waited 33 minutes behind 3,255 info
// alerts. Now with 3,000 info alerts queued, a needs_human raised next is
// the next message. An earlier info alert of the needs_human's own case
// goes just before it (one case's alerts stay in order), and a warning of
// another case comes after the critical alerts but before the info backlog.
func TestCriticalOvertakesInfo(t *testing.T) {
	clock := clocktest.New(start)
	ep := newSlackEndpoint(t, clock)
	e := newSQLEnv(t, clock, []notify.Sink{slackSink("team", "team-url")},
		notifytest.Secrets{"team-url": ep.URL + "/services/T1/B1/" + slackToken}, routeAll("team"))
	const backlog = 3000
	var infos []authpilot.Alert
	for i := range backlog {
		infos = append(infos, caseAlert(i, authpilot.SeverityInfo))
	}
	e.enqueue(t, infos...)
	for range 5 { // five messages out, one a second
		if n := e.pass(t); n != 1 {
			t.Fatalf("pass delivered %d", n)
		}
		clock.Advance(time.Second)
	}

	warn := caseAlert(backlog+1, authpilot.SeverityWarning)
	warn.Type = authpilot.AlertMoreInfoRequested
	human := caseAlert(backlog+2, authpilot.SeverityCritical)
	human.Type, human.CaseID = authpilot.AlertNeedsHuman, infos[2000].CaseID
	e.enqueue(t, warn, human)
	for range 5 {
		e.pass(t)
		clock.Advance(time.Second)
	}

	var order []string
	for _, r := range ep.Requests() {
		m := slackMessage(t, r.Body)
		ctx := m.Blocks[len(m.Blocks)-1].Elements[0].Text
		for _, a := range append(slices.Clone(infos[:10]), infos[2000], warn, human) {
			if strings.Contains(ctx, a.ID) {
				order = append(order, a.Title)
			}
		}
	}
	want := []string{"alert 0", "alert 1", "alert 2", "alert 3", "alert 4",
		"alert 2000", "alert 3002", "alert 3001", "alert 5", "alert 6"}
	if !slices.Equal(order, want) {
		t.Errorf("Slack got %q\nwant %q (needs_human next, after its own case's earlier alert)", order, want)
	}
	for i, r := range ep.Requests()[1:] {
		if gap := r.At.Sub(ep.Requests()[i].At); gap < time.Second {
			t.Errorf("messages %d and %d %v apart", i, i+1, gap)
		}
	}
}
