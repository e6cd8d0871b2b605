package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/notify/webhook"
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
	var mu sync.Mutex
	up := false
	attempts := 0
	firstAttempt := make(chan struct{})
	var once sync.Once
	var titles []string
	seen := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		attempts++
		once.Do(func() { close(firstAttempt) })
		if !up {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		if err := webhook.Verify(e2eWebhook, r.Header, body, 365*24*time.Hour, time.Now()); err != nil {
			t.Errorf("signature: %v", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var m struct {
			Data struct {
				Title string `json:"title"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &m)
		id := r.Header.Get("webhook-id")
		seen[id]++
		if seen[id] == 1 {
			titles = append(titles, m.Data.Title)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer rcv.Close()

	dir := t.TempDir()
	cfg, p := loadConfigYAML(t, dir, idleYAML("Outbox test", dir, "idle", ehrWebhookYAML(rcv.URL)))

	child := startChild(t, "TestOutboxChild", "AUTHPILOT_OUTBOX_CHILD", p)
	// Wait until the child has enqueued every alert and tried to deliver.
	child.waitFor(t, "ENQUEUED")
	select {
	case <-firstAttempt:
	case <-time.After(60 * time.Second):
		t.Fatal("the child never tried to deliver")
	}
	child.kill(t)

	mu.Lock()
	up = true
	mu.Unlock()
	// Restart later than any Retry-After the child scheduled.
	clock := clocktest.New(time.Now().Add(2 * time.Hour))
	a, err := agent.New(cfg, agent.Options{Secrets: e2eSecrets(), Clock: clock, NoAPI: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	must(t, a.FlushAlerts(context.Background(), 30*time.Second))
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != outboxAlerts {
		t.Fatalf("%d distinct alerts delivered, want %d (attempts %d)", len(seen), outboxAlerts, attempts)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("webhook-id %s delivered %d times", id, n)
		}
	}
	for i, title := range titles {
		if want := fmt.Sprintf("alert %02d", i); title != want {
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
