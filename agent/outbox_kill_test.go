package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/schedules/clocktest"
	"github.com/authpilot/authpilot/store"
)

const outboxAlerts = 20

// TestOutboxSurvivesKill9 is the deadline issue's third acceptance through
// the agent: alerts are pending because the receiver answers 503 with
// Retry-After; the agent is killed with SIGKILL; after a restart, once the
// receiver answers 200, every alert arrives exactly once per webhook-id,
// in the order raised, with a signature that verifies.
func TestOutboxSurvivesKill9(t *testing.T) {
	if os.Getenv("AUTHPILOT_OUTBOX_CHILD") != "" {
		t.Skip("child process")
	}
	// Restart later than any Retry-After the child scheduled.
	clock := clocktest.New(time.Now().Add(2 * time.Hour))
	rcv := alertHook(t, clock.Now)
	rcv.SetAnswer(notifytest.Answer{Code: http.StatusServiceUnavailable, RetryAfter: "1", Body: "try later"})

	dir := t.TempDir()
	cfg, p := idleConfig(t, "Outbox test", dir, "idle", rcv.URL, "")

	child := startChild(t, "TestOutboxChild", "AUTHPILOT_OUTBOX_CHILD", p)
	// Wait until the child has enqueued every alert and tried to deliver.
	child.waitFor(t, "ENQUEUED")
	select {
	case <-rcv.Arrived():
	case <-time.After(60 * time.Second):
		t.Fatal("the child never tried to deliver")
	}
	child.kill(t)

	rcv.SetAnswer(notifytest.Answer{})
	a := openAgentAt(t, cfg, clock)
	defer a.Close()
	must(t, a.FlushAlerts(context.Background(), 30*time.Second))
	delivered, repeats := rcv.Delivered()
	if len(delivered) != outboxAlerts {
		t.Fatalf("%d distinct alerts delivered, want %d (attempts %d)", len(delivered), outboxAlerts, len(rcv.Requests()))
	}
	if repeats != 0 {
		t.Errorf("%d deliveries of a webhook-id already delivered", repeats)
	}
	for i, r := range delivered {
		if title, want := r.Payload().Data.Title, fmt.Sprintf("alert %02d", i); title != want {
			t.Fatalf("delivery %d is %q, want %q (order raised)", i, title, want)
		}
	}
}

// TestOutboxChild is the child of TestOutboxSurvivesKill9: it raises the
// alerts and runs the daemon, which keeps trying to deliver them, until it
// is killed.
func TestOutboxChild(t *testing.T) {
	cfg := childConfig(t, "AUTHPILOT_OUTBOX_CHILD", "TestOutboxSurvivesKill9")
	a := openAgent(t, cfg)
	ctx := context.Background()
	for i := range outboxAlerts {
		if _, err := a.Store().Enqueue(ctx, authpilot.Alert{Type: authpilot.AlertStatusChanged, Severity: authpilot.SeverityInfo,
			Title: fmt.Sprintf("alert %02d", i), At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("ENQUEUED")
	// The daemon's dispatcher keeps retrying until the parent kills it.
	t.Fatalf("daemon stopped before the kill: %v", a.Run(ctx))
}

// TestDisabledSinkQueueSurvivesKill9: a webhook answers 410 and the daemon
// disables it; alerts raised afterwards are queued for it; the daemon is
// killed with SIGKILL. `notify enable` (EnableSink, from another process's
// store handle), then a restart: every alert, those raised while the sink
// was disabled included, reaches it exactly once, and the other sink got
// sink_disabled then resolved.
func TestDisabledSinkQueueSurvivesKill9(t *testing.T) {
	if os.Getenv("AUTHPILOT_OUTBOX_CHILD") != "" {
		t.Skip("child process")
	}
	ehr, ops := alertHook(t, nil), alertHook(t, nil)
	ehr.SetAnswer(notifytest.Answer{Code: http.StatusGone})

	dir := t.TempDir()
	cfg, p := idleConfig(t, "Outbox test", dir, "idle", "", fmt.Sprintf(`notify:
  sinks:
    - {name: ehr, type: webhook, url: %q, secret: hook-secret}
    - {name: ops, type: webhook, url: %q, secret: hook-secret}
  routes: [{match: {types: [status_changed]}, sinks: [ehr]}]
`, ehr.URL, ops.URL))

	child := startChild(t, "TestOutboxChild", "AUTHPILOT_OUTBOX_CHILD", p)
	select {
	case <-ehr.Arrived():
	case <-time.After(60 * time.Second):
		t.Fatal("the child never tried to deliver")
	}
	// A second process, as the API or CLI would: wait until the daemon has
	// disabled the sink, then raise more alerts while it is disabled.
	st, err := store.Open(context.Background(), cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		d, err := st.DisabledSinks(ctx)
		must(t, err)
		if _, ok := d["ehr"]; ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the daemon never disabled the sink")
		}
	}
	const later = 5
	for i := range later {
		_, err := st.Enqueue(ctx, authpilot.Alert{Type: authpilot.AlertStatusChanged, Severity: authpilot.SeverityInfo,
			Title: fmt.Sprintf("while disabled %02d", i), At: time.Now()})
		must(t, err)
	}
	child.kill(t)

	// The admin fixes the endpoint and re-enables it; then the daemon restarts.
	ehr.SetAnswer(notifytest.Answer{})
	now := time.Now()
	was, err := st.EnableSink(ctx, "ehr", now, func(p authpilot.Problem) authpilot.Alert {
		return notify.ResolvedAlert(p, "re-enabled", now)
	})
	if err != nil || !was {
		t.Fatalf("EnableSink = %v, %v", was, err)
	}
	a := openAgent(t, cfg)
	defer a.Close()
	must(t, a.FlushAlerts(ctx, 30*time.Second))
	if seen, repeats := ehr.Delivered(); len(seen) != outboxAlerts+later || repeats != 0 {
		t.Errorf("%d distinct alerts reached the re-enabled sink (%d repeats), want %d", len(seen), repeats, outboxAlerts+later)
	}
	// At least once: a kill may come between the 2xx and its record.
	delivered, _ := ops.Delivered()
	var opsTypes []authpilot.AlertType
	for _, r := range delivered {
		opsTypes = append(opsTypes, r.Payload().Type)
	}
	if got := fmt.Sprint(opsTypes); got != "[sink_disabled resolved]" {
		t.Errorf("ops got %s, want [sink_disabled resolved]", got)
	}
}
