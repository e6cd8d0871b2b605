package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/payersim"
)

// TestWatchDecidedCases runs the agent with real Chromium against the
// payer simulator on an injected clock. A denied ESI is overturned at the
// simulator: the regular polls of the week (a pended case keeps them
// visiting the portal) do not look at it, the weekly watch does, and the
// case is approved with the payer's auth number and a status_changed
// alert. A denial whose service date plus the watch tail has passed is
// not polled any more (the simulator's overturn stays unseen). An
// approval the payer modifies is seen at the watch, with a status_changed
// alert that names the peer-to-peer window. An approval valid for 5 days,
// with the service after them, expires.
func TestWatchDecidedCases(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, ny)
	sims, clock := simsOnClock(t, t0)
	must(t, sims.Payer.SetScenario(payersim.Scenario{Rules: []payersim.Rule{
		{MemberID: "SHPWATCH01", Outcome: payersim.Outcome{Fate: payersim.FateDeny}},
		{MemberID: "SHPWATCH02", Outcome: payersim.Outcome{Fate: payersim.FatePend}},
		{MemberID: "SHPWATCH03", Outcome: payersim.Outcome{Fate: payersim.FateApprove, ValidityDays: 5}},
		{MemberID: "SHPWATCH04", Outcome: payersim.Outcome{Fate: payersim.FateDeny}},
		{MemberID: "SHPWATCH05", Outcome: payersim.Outcome{Fate: payersim.FateApprove}},
	}}))
	alerts := alertHook(t, clock.Now)
	cfg := writeE2EConfig(t, t.TempDir(), sims.PayerURL, sims.RBMURL, alerts.URL)
	cn, _ := cfg.Connector("summit-portal")
	cn.Watch.Tail = config.Duration(2 * 24 * time.Hour)
	a := openAgentAt(t, cfg, clock)
	defer a.Close()
	ctx := context.Background()
	st := a.Store()
	create := func(member string, service authpilot.Date) string {
		t.Helper()
		nc := orderOf(t, member, "summit-ma", "injection", []string{"64483"}, "M54.16", "1234567893")
		nc.ServiceDate = service
		c, err := a.Intake().Create(ctx, nc, "test")
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		return c.ID
	}
	denied := create("SHPWATCH01", authpilot.NewDate(2026, 12, 28))
	pended := create("SHPWATCH02", authpilot.NewDate(2026, 12, 28))
	short := create("SHPWATCH03", authpilot.NewDate(2026, 12, 28))
	past := create("SHPWATCH04", authpilot.NewDate(2026, 12, 3))
	rescinded := create("SHPWATCH05", authpilot.NewDate(2026, 12, 28))
	for _, r := range a.SubmitNow(ctx) {
		if r.Err != nil || r.Submitted != r.Cases {
			t.Fatalf("submit %s: %d of %d: %v", r.Connector, r.Submitted, r.Cases, r.Err)
		}
	}
	// statusAlert finds the status_changed alert of a case to st.
	statusAlert := func(caseID string, st authpilot.Status) (authpilot.Alert, bool) {
		changed, _ := alertsOf(alerts, caseID, authpilot.AlertStatusChanged)
		for _, al := range changed {
			if al.Status == st {
				return al, true
			}
		}
		return authpilot.Alert{}, false
	}
	poll := func() {
		t.Helper()
		for _, r := range a.PollNow(ctx, nil) {
			if r.Err != nil {
				t.Fatalf("poll %s: %v", r.Connector, r.Err)
			}
		}
		must(t, a.FlushAlerts(ctx, 10*time.Second))
	}
	poll()
	want := map[string]authpilot.Status{denied: authpilot.StatusDenied, pended: authpilot.StatusPended,
		short: authpilot.StatusApproved, past: authpilot.StatusDenied, rescinded: authpilot.StatusApproved}
	for id, s := range want {
		if c := getCase(t, a, id); c.Status != s {
			t.Fatalf("after the first poll case %s is %s (%q), want %s", id, c.Status, c.LastError, s)
		}
	}
	for _, id := range []string{denied, past} {
		must(t, sims.Payer.Redecide(getCase(t, a, id).PayerRef, payersim.Outcome{Fate: payersim.FateApprove, AuthNumber: "SHO-" + id[:6]}))
	}

	must(t, sims.Payer.Redecide(getCase(t, a, rescinded).PayerRef, payersim.Outcome{Fate: payersim.FateModify,
		ApprovedCodes: map[string]string{"64483": "64479"}}))

	// Regular polls on the next days: the pended case is polled, the
	// denials are not watched before their week is up.
	for day := 1; day <= 6; day++ {
		clock.Set(t0.AddDate(0, 0, day))
		poll()
		if c := getCase(t, a, denied); c.Status != authpilot.StatusDenied {
			t.Fatalf("day %d: the denial was polled before its weekly watch: %s", day, c.Status)
		}
	}
	if r, _ := sims.Payer.Request(getCase(t, a, denied).PayerRef); r.Status != payersim.StatusApproved {
		t.Fatalf("the simulator did not show the overturn on its list: %s", r.Status)
	}

	// The weekly watch.
	clock.Set(t0.AddDate(0, 0, 7).Add(time.Minute))
	poll()
	c := getCase(t, a, denied)
	if c.Status != authpilot.StatusApproved || c.Determination == nil || c.Determination.AuthNumber != "SHO-"+denied[:6] {
		t.Errorf("after the weekly watch the overturned case is %s with determination %+v (%q)", c.Status, c.Determination, c.LastError)
	}
	if _, ok := statusAlert(denied, authpilot.StatusApproved); !ok {
		t.Errorf("no status_changed alert for the overturn; alerts %+v", alerts.Alerts())
	}
	if c.WatchedAt == nil {
		t.Errorf("the watch was not recorded on the case")
	}
	// Past its service date (December 3) plus the 2-day tail: not polled.
	if c := getCase(t, a, past); c.Status != authpilot.StatusDenied || c.WatchedAt != nil {
		t.Errorf("the case past its service date was watched: %s, watched at %v", c.Status, c.WatchedAt)
	}
	// Valid December 1 to 6, service on the 28th: expired.
	if c := getCase(t, a, short); c.Status != authpilot.StatusExpired {
		t.Errorf("the lapsed approval is %s, want expired", c.Status)
	}
	if _, ok := statusAlert(short, authpilot.StatusExpired); !ok {
		t.Errorf("no alert for the expired approval; alerts %+v", alerts.Alerts())
	}
	evs, err := st.Events(ctx, short)
	must(t, err)
	if last := evs[len(evs)-1]; last.Type != authpilot.EventStatusChanged || last.To != authpilot.StatusExpired {
		t.Errorf("the last event of the lapsed approval is %s → %s", last.Type, last.To)
	}
	// The approval modified by the payer: seen at the watch, with the
	// peer-to-peer window the modification opens.
	if c := getCase(t, a, rescinded); c.Status != authpilot.StatusModified {
		t.Errorf("the modified approval is %s, want modified", c.Status)
	}
	if al, ok := statusAlert(rescinded, authpilot.StatusModified); !ok {
		t.Errorf("no status_changed alert for the modification; alerts %+v", alerts.Alerts())
	} else if !strings.Contains(strings.ToLower(al.Action), "peer-to-peer window closes") {
		t.Errorf("the modification's alert does not name the peer-to-peer window: %q", al.Action)
	}
	if c := getCase(t, a, pended); c.Status != authpilot.StatusPended {
		t.Errorf("the pended case is %s", c.Status)
	}
}
