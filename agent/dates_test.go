package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/payersim"
)

// TestPortalTimesInThePracticeZone runs the agent with real Chromium against
// the simulators, which show New York time as a portal of a New York
// practice does. The decision-due deadline exists as soon as a case is
// submitted, before any deadline sweep. Both payers decide at 11:30 PM on
// December 1 (04:30 UTC on December 2): the payer portal shows
// "12/01/2026 11:30 PM" and the stored decided-at is that instant in New
// York; the RBM shows only "2026-12-01", which stays December 1. Both
// notice dates are December 1.
func TestPortalTimesInThePracticeZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	sims, clock := simsOnClock(t, time.Date(2026, 12, 1, 10, 0, 0, 0, ny))
	must(t, sims.Payer.SetScenario(payersim.Scenario{Rules: []payersim.Rule{
		{MemberID: "SHPDATES001", Outcome: payersim.Outcome{Fate: payersim.FateDeny, AfterChecks: 1, Reason: "Not medically necessary."}},
	}}))
	must(t, sims.RBM.SetScenario(payersim.Scenario{Rules: []payersim.Rule{
		{MemberID: "SHPDATES002", Outcome: payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 1, ValidityDays: 60}},
	}}))
	dir := t.TempDir()
	cfg := writeE2EConfig(t, dir, sims.PayerURL, sims.RBMURL, alertHook(t, clock.Now).URL)
	a := openAgentAt(t, cfg, clock)
	defer a.Close()
	ctx := context.Background()
	create := func(member, payer, track, code string) string {
		t.Helper()
		nc := orderOf(t, member, payer, track, []string{code}, "M54.16", "1234567893")
		c, err := a.Intake().Create(ctx, nc, "test")
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		return c.ID
	}
	esi := create("SHPDATES001", "summit-ma", "injection", "64483")
	mri := create("SHPDATES002", "clearview-rbm", "imaging", "72148")
	for _, r := range a.SubmitNow(ctx) {
		if r.Err != nil || r.Submitted != r.Cases {
			t.Fatalf("submit %s: %d of %d: %v", r.Connector, r.Submitted, r.Cases, r.Err)
		}
	}
	st := a.Store()
	for _, id := range []string{esi, mri} {
		ds, err := st.Deadlines(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, d := range ds {
			found = found || d.Kind == authpilot.DeadlineDecisionDue
		}
		if !found {
			t.Errorf("case %s: no decision-due deadline right after submission (deadlines %v)", id, ds)
		}
	}

	decidedAt := time.Date(2026, 12, 1, 23, 30, 0, 0, ny)
	clock.Set(decidedAt)
	for cycle := 0; cycle < 5; cycle++ {
		for _, r := range a.PollNow(ctx, nil) {
			if r.Err != nil {
				t.Fatalf("poll %s: %v", r.Connector, r.Err)
			}
		}
		e, _ := st.GetCase(ctx, esi)
		m, _ := st.GetCase(ctx, mri)
		if e.Status.Decided() && m.Status.Decided() {
			break
		}
	}
	dec1 := authpilot.NewDate(2026, 12, 1)

	e, err := st.GetCase(ctx, esi)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != authpilot.StatusDenied || e.Determination == nil || e.Determination.DecidedAt == nil {
		t.Fatalf("payer case: status %s, determination %+v (last error %q)", e.Status, e.Determination, e.LastError)
	}
	var shown time.Time
	for _, r := range sims.Payer.Requests() {
		if r.MemberID == "SHPDATES001" {
			shown = r.DecidedAt
		}
	}
	if !shown.Equal(decidedAt) {
		t.Fatalf("the simulator decided at %v, want %v", shown, decidedAt)
	}
	if got := *e.Determination.DecidedAt; !got.Equal(decidedAt) {
		t.Errorf("payer portal showed %s; stored decided-at %v (%v in New York), want %v",
			decidedAt.Format("01/02/2006 03:04 PM"), got.UTC(), got.In(ny), decidedAt.UTC())
	}
	if e.Determination.NoticeDate != dec1 {
		t.Errorf("payer case: notice date %s, want %s", e.Determination.NoticeDate, dec1)
	}

	m, err := st.GetCase(ctx, mri)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != authpilot.StatusApproved || m.Determination == nil || m.Determination.DecidedAt == nil {
		t.Fatalf("rbm case: status %s, determination %+v (last error %q)", m.Status, m.Determination, m.LastError)
	}
	if got := authpilot.DateOf(m.Determination.DecidedAt.In(ny)); got != dec1 {
		t.Errorf("rbm showed the date 2026-12-01; stored decided-at %v is %s in New York", m.Determination.DecidedAt.UTC(), got)
	}
	if m.Determination.NoticeDate != dec1 || m.Determination.ValidFrom != dec1 {
		t.Errorf("rbm case: notice date %s, valid from %s; want %s", m.Determination.NoticeDate, m.Determination.ValidFrom, dec1)
	}
}
