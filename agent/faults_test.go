package agent_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/payersim"
)

// TestPortalFaultsBecomeAlertsNotStatuses drives the agent against the
// payer portal's layout-variant and CAPTCHA faults: each poll fails with
// the right class, raises portal_changed (with a stored screenshot) or
// needs_human, and leaves the case's status as it was.
func TestPortalFaultsBecomeAlertsNotStatuses(t *testing.T) {
	sims := startSims(t, payersim.SetOptions{})
	a, sink := e2eAgent(t, sims)
	ctx := context.Background()
	c := trackRequest(t, a, sims, "SHPFAULT001", &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 0})

	tests := []struct {
		name   string
		faults payersim.Faults
		alert  authpilot.AlertType
	}{
		{"layout variant", payersim.Faults{LayoutVariant: true}, authpilot.AlertPortalChanged},
		{"captcha", payersim.Faults{Captcha: true}, authpilot.AlertNeedsHuman},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			must(t, sims.Payer.SetFaults(tt.faults))
			sims.Payer.ExpireSessions() // force a fresh login through the fault
			res := a.PollNow(ctx, nil, "summit-portal")
			if res[0].Err == nil {
				t.Fatal("poll succeeded against a faulty portal")
			}
			must(t, a.FlushAlerts(ctx, 10*time.Second))
			got, err := a.Store().GetCase(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != authpilot.StatusSubmitted {
				t.Fatalf("status became %s under a %s fault", got.Status, tt.name)
			}
			alerts, _ := alertsOf(sink, "", tt.alert)
			if len(alerts) == 0 {
				t.Fatalf("no %s alert delivered", tt.alert)
			}
			found := alerts[len(alerts)-1]
			if found.Recording == "" || found.ConnectorID != "summit-portal" {
				t.Fatalf("alert lacks recording/connector: %+v", found)
			}
			if tt.alert == authpilot.AlertPortalChanged {
				rc, doc, err := a.Store().OpenDocument(ctx, found.Screenshot)
				if err != nil {
					t.Fatalf("portal_changed screenshot %q not stored: %v", found.Screenshot, err)
				}
				head := make([]byte, 8)
				_, _ = io.ReadFull(rc, head)
				rc.Close()
				if string(head[1:4]) != "PNG" || doc.ContentType != "image/png" {
					t.Fatalf("screenshot is not a PNG: %q %s", head, doc.ContentType)
				}
			}
		})
	}
	// The portal recovers, but the CAPTCHA paused the connector's logins
	// until a person resumes it; then the next poll applies the decision.
	must(t, sims.Payer.SetFaults(payersim.Faults{}))
	if res := a.PollNow(ctx, nil, "summit-portal"); res[0].Held == nil || res[0].Held.Why != agent.HoldPaused {
		t.Fatalf("poll after the CAPTCHA: held %+v, err %v; want paused", res[0].Held, res[0].Err)
	}
	if _, err := a.ResumeConnector(ctx, "summit-portal", "test"); err != nil {
		t.Fatal(err)
	}
	if res := a.PollNow(ctx, nil, "summit-portal"); res[0].Err != nil {
		t.Fatalf("poll after the faults: %v", res[0].Err)
	}
	if got, _ := a.Store().GetCase(ctx, c.ID); got.Status != authpilot.StatusApproved {
		t.Fatalf("after recovery: %s, want approved", got.Status)
	}
}
