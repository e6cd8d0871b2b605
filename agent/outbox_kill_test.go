package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/schedules/clocktest"
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
	cfg, p := loadConfigYAML(t, dir, idleYAML("Outbox test", dir, "idle", ehrWebhookYAML(rcv.URL)))

	child := startChild(t, "TestOutboxChild", "AUTHPILOT_OUTBOX_CHILD", p)
	// Wait until the child has enqueued every alert and tried to deliver.
	child.waitFor(t, "ENQUEUED")
	select {
	case <-rcv.Tried():
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
