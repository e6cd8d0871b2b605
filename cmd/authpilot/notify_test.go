package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/agent/agenttest"
	"github.com/authpilot/authpilot/notify/notifytest"
)

// TestNotifyEnableBesideTheDaemon: a webhook answers 410 and is disabled;
// alerts raised afterwards are queued for it; `notify status` shows it
// disabled with its queue, and `notify enable`, run while the daemon holds
// the store open, lets the daemon deliver the whole queue.
func TestNotifyEnableBesideTheDaemon(t *testing.T) {
	hook := notifytest.NewEndpoint(t, notifytest.EndpointOptions{})
	hook.SetAnswer(notifytest.Answer{Code: http.StatusGone})
	other := notifytest.NewEndpoint(t, notifytest.EndpointOptions{})
	dir := t.TempDir()
	cfg, p := agenttest.WriteConfig(t, dir, fmt.Sprintf(`
practice: {name: Notify test, timezone: America/New_York}
data_dir: %s/data
schedules: {deadlines: "", digest: ""}
notify:
  sinks:
    - {name: ehr, type: webhook, url: %q, secret: hook-secret}
    - {name: ops, type: webhook, url: %q, secret: hook-secret}
  routes: [{match: {types: [status_changed]}, sinks: [ehr]}]
`, dir, hook.URL, other.URL))
	a := agenttest.New(t, cfg, agent.Options{Secrets: authpilot.StaticSecrets{"hook-secret": "whsec_dGVzdC1rZXk="}, NoAPI: true})
	ctx := context.Background()
	raise := func(n int) {
		for i := range n {
			if _, err := a.Store().Enqueue(ctx, authpilot.Alert{Type: authpilot.AlertStatusChanged,
				Severity: authpilot.SeverityInfo, Title: fmt.Sprintf("alert %d", i), At: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.FlushAlerts(ctx, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	raise(2) // the first meets the 410
	raise(3) // raised while disabled

	code, out, errs := run(t, "", "notify", "status", "--config", p)
	if code != 0 || !strings.Contains(out, "disabled (post webhook: http 410 Gone)") || !strings.Contains(out, "notify enable ehr") {
		t.Fatalf("status = %d %q %q", code, out, errs)
	}
	if line := lineOf(out, "ehr "); !strings.Contains(line, " 5 ") {
		t.Errorf("ehr's line %q does not show 5 pending", line)
	}
	if code, _, errs := run(t, "", "notify", "enable", "nope", "--config", p); code != 1 || !strings.Contains(errs, `no sink "nope" in the config (sinks: ehr, ops)`) {
		t.Errorf("enable of an unknown sink = %d %q", code, errs)
	}
	hook.SetAnswer(notifytest.Answer{})
	code, out, errs = run(t, "", "notify", "enable", "ehr", "--config", p)
	if code != 0 || !strings.Contains(out, "sink ehr enabled; 5 alert(s) queued for it will be delivered") {
		t.Fatalf("enable = %d %q %q", code, out, errs)
	}
	if err := a.FlushAlerts(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, _ := hook.Delivered(); len(got) != 5 {
		t.Errorf("the re-enabled sink got %d distinct alerts, want 5", len(got))
	}
	code, out, _ = run(t, "", "notify", "status", "--config", p)
	if line := lineOf(out, "ehr "); code != 0 || !strings.Contains(line, " ok ") || !strings.Contains(line, " 0 ") {
		t.Errorf("status after enable: %q", out)
	}
	if code, out, _ := run(t, "", "notify", "enable", "ehr", "--config", p); code != 0 || !strings.Contains(out, "not disabled") {
		t.Errorf("second enable = %d %q", code, out)
	}
}

func lineOf(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
