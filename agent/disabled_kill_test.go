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
	"github.com/authpilot/authpilot/store"
)

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
	cfg, p := loadConfigYAML(t, dir, idleYAML("Outbox test", dir, "idle", fmt.Sprintf(`notify:
  sinks:
    - {name: ehr, type: webhook, url: %q, secret: hook-secret}
    - {name: ops, type: webhook, url: %q, secret: hook-secret}
  routes: [{match: {types: [status_changed]}, sinks: [ehr]}]
`, ehr.URL, ops.URL)))

	child := startChild(t, "TestOutboxChild", "AUTHPILOT_OUTBOX_CHILD", p)
	select {
	case <-ehr.Tried():
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
