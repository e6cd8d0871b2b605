package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

// TestDeadlineAlertsOnceAcrossRestarts is the deadline issue's second
// acceptance through the whole agent, with the real store and a real
// webhook receiver: with lead times 48 h and 24 h, a standard Medicare
// Advantage decision due 7 days after a Friday submission raises
// approaching(48h), approaching(24h) and missed exactly once each, although
// the agent is restarted between the ticks and checks every 15 minutes.
func TestDeadlineAlertsOnceAcrossRestarts(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	submitted := time.Date(2026, 11, 20, 10, 0, 0, 0, ny) // the Friday before Thanksgiving week
	due := submitted.AddDate(0, 0, 7)
	clock := clocktest.New(submitted)
	rcv := notifytest.NewEndpoint(t, notifytest.EndpointOptions{Secret: e2eWebhook, Now: clock.Now})
	dir := t.TempDir()
	cfg, _ := idleConfig(t, "Deadline test", dir, "summit-portal", rcv.URL, "deadlines: {lead_times: [48h, 24h]}\n")
	a := openAgentAt(t, cfg, clock)
	trackedSurgery(t, a, "SHPDUE0001", "SHP-2026-000001")
	// Tick every 15 minutes from 3 days before the deadline to 1 day after,
	// restarting the agent every 6 hours.
	ctx := context.Background()
	start := due.Add(-72 * time.Hour)
	clock.Set(start)
	for tick := 0; !clock.Now().After(due.Add(24 * time.Hour)); tick++ {
		if tick > 0 && tick%24 == 0 {
			must(t, a.Close())
			a = openAgentAt(t, cfg, clock)
		}
		if _, err := a.CheckDeadlines(ctx); err != nil {
			t.Fatal(err)
		}
		must(t, a.FlushAlerts(ctx, 10*time.Second))
		clock.Set(clock.Now().Add(15 * time.Minute))
	}
	must(t, a.Close())
	got := map[string]int{}
	for _, al := range rcv.Alerts() {
		if d := al.Deadline; d != nil && d.Kind == authpilot.DeadlineDecisionDue {
			got[string(al.Type)+"|"+d.Due.UTC().Format(time.RFC3339)+"|"+al.Title]++
		}
	}
	counts := map[string]int{}
	wantDue := due.UTC().Format(time.RFC3339)
	for k, n := range got {
		if n != 1 {
			t.Errorf("alert %q delivered %d times", k, n)
		}
		parts := strings.SplitN(k, "|", 3)
		counts[parts[0]]++
		if parts[1] != wantDue {
			t.Errorf("alert %q is not for the deadline due %s (submitted Friday + 7 calendar days)", k, wantDue)
		}
	}
	if len(got) != 3 || counts["deadline_approaching"] != 2 || counts["deadline_missed"] != 1 {
		t.Fatalf("decision-due alerts: %v, want two approaching (48h, 24h) and one missed", got)
	}
}

// trackedSurgery creates a fusion case of member at summit-ma, tracked
// (already submitted, as payerRef), its service in March 2027.
func trackedSurgery(t *testing.T, a *agent.Agent, member, payerRef string) {
	t.Helper()
	_, err := a.Intake().Create(context.Background(), &agent.NewCase{Case: authpilot.Case{
		Patient: authpilot.Patient{FirstName: "Ida", LastName: "Moss", DOB: authpilot.NewDate(1950, 1, 1), MemberID: member},
		Payer:   "summit-ma", Track: authpilot.TrackSurgery, OrderingProvider: authpilot.Provider{NPI: "1245319599"},
		ServiceLines: []authpilot.ServiceLine{{Code: "22612", Units: 1}}, Diagnoses: []string{"M48.062"},
		ServiceDate: authpilot.NewDate(2027, 3, 1), Tracked: true, PayerRef: payerRef,
	}}, "test")
	if err != nil {
		t.Fatal(err)
	}
}

// TestPollTightensNearDecisionDue: a connector's polling is brought
// forward only when one of its pending cases has a decision due within
// 48 h, to a quarter of the time left (30 min to 4 h).
func TestPollTightensNearDecisionDue(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := idleConfig(t, "Tight", dir, "idle", "", "")
	submitted := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	clock := clocktest.New(submitted)
	a := openAgentAt(t, cfg, clock)
	defer a.Close()
	ctx := context.Background()
	trackedSurgery(t, a, "SHPDUE0002", "SHP-2026-000002")
	due := submitted.AddDate(0, 0, 7) // standard MA decision
	tests := []struct {
		name string
		at   time.Time
		want time.Duration // 0: not tightened
	}{
		{"five days ahead", due.Add(-5 * 24 * time.Hour), 0},
		{"40 hours ahead", due.Add(-40 * time.Hour), 4 * time.Hour},
		{"8 hours ahead", due.Add(-8 * time.Hour), 2 * time.Hour},
		{"1 hour ahead", due.Add(-time.Hour), 30 * time.Minute},
		{"past due", due.Add(time.Hour), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Set(tt.at)
			if _, err := a.CheckDeadlines(ctx); err != nil {
				t.Fatal(err)
			}
			at, ok := a.NextTightPoll(ctx, "idle")
			if (tt.want != 0) != ok {
				t.Fatalf("tightened = %v, want %v", ok, tt.want != 0)
			}
			if ok && at.Sub(tt.at) != tt.want {
				t.Fatalf("next poll in %v, want %v", at.Sub(tt.at), tt.want)
			}
		})
	}
}
