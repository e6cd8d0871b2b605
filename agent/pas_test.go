package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/agent/agenttest"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/payersim/pas"
)

// TestPASThroughTheAgent is the PAS issue's end-to-end acceptance: a case
// submitted on the PAS simulator comes back pended (A4), a later inquiry
// returns A1 with an authorization number and period and the case ends
// approved with both; a denial (A3) ends denied with its reason; a
// modified approval (A6) records what was actually authorized.
func TestPASThroughTheAgent(t *testing.T) {
	a, pasSim, sink := pasAgent(t,
		pas.Rule{MemberID: "KPPPEND0001", Fate: pas.Pend, Reason: "Attach the EMG report.", AfterInquiries: 2, Then: pas.Approve, ValidDays: 90},
		pas.Rule{MemberID: "KPPDENY0002", Fate: pas.Deny, Reason: "Six weeks of conservative care required."},
		pas.Rule{MemberID: "KPPMODI0003", Code: "63035", Fate: pas.Modify, ModifyUnits: 1},
	)
	ctx := context.Background()
	pended := createPASCase(t, a, "KPPPEND0001", authpilot.ServiceLine{Code: "22551", Units: 1}, authpilot.ServiceLine{Code: "22552", Units: 1})
	denied := createPASCase(t, a, "KPPDENY0002", authpilot.ServiceLine{Code: "22514", Units: 1})
	modified := createPASCase(t, a, "KPPMODI0003", authpilot.ServiceLine{Code: "63030", Units: 1}, authpilot.ServiceLine{Code: "63035", Units: 2})

	res := a.SubmitNow(ctx)
	if res[0].Err != nil || res[0].Submitted != 3 {
		t.Fatalf("submit: %+v", res[0])
	}
	if c := getCase(t, a, pended); c.Status != authpilot.StatusPended || c.PayerRef == "" {
		t.Fatalf("after submit: %s ref %q, want pended with a reference", c.Status, c.PayerRef)
	}
	if c := getCase(t, a, denied); c.Status != authpilot.StatusDenied || c.Determination.DenialReason != "Six weeks of conservative care required." {
		t.Fatalf("denied case: %s %+v", c.Status, c.Determination)
	}
	m := getCase(t, a, modified)
	if m.Status != authpilot.StatusModified || len(m.Determination.ApprovedLines) == 0 {
		t.Fatalf("modified case: %s %+v", m.Status, m.Determination)
	}
	foundModified := false
	for _, l := range m.Determination.ApprovedLines {
		if l.Code == "63035" && l.Units == 1 {
			foundModified = true
		}
	}
	if !foundModified {
		t.Fatalf("modified approval lines %+v lack 63035 x1", m.Determination.ApprovedLines)
	}
	for cycle := 0; cycle < 3 && getCase(t, a, pended).Status == authpilot.StatusPended; cycle++ {
		if r := a.PollNow(ctx, nil); r[0].Err != nil {
			t.Fatalf("poll: %v", r[0].Err)
		}
	}
	c := getCase(t, a, pended)
	d := c.Determination
	if c.Status != authpilot.StatusApproved || d.AuthNumber == "" || d.ValidFrom.IsZero() || d.ValidTo.IsZero() || d.InfoRequested == "" {
		t.Fatalf("pended case after inquiries: %s %+v", c.Status, d)
	}
	if st := pasSim.Stats(); st.Submissions != 3 {
		t.Fatalf("PAS simulator saw %d submissions, want 3", st.Submissions)
	}
	checkDecisionWindows(t, a, sink, denied, authpilot.StatusDenied)
	checkDecisionWindows(t, a, sink, modified, authpilot.StatusModified)
}

// checkDecisionWindows checks that the determination alert of a denial or
// modification names when the peer-to-peer window closes and when the
// appeal is due (commercial plan: 7 business days, 180 days), with the
// soonest as its deadline.
func checkDecisionWindows(t *testing.T, a *agent.Agent, sink *notifytest.Endpoint, caseID string, status authpilot.Status) {
	t.Helper()
	ctx := context.Background()
	must(t, a.FlushAlerts(ctx, 10*time.Second))
	ds, err := a.Store().Deadlines(ctx, caseID)
	if err != nil {
		t.Fatal(err)
	}
	var p2p, appeal time.Time
	for _, d := range ds {
		switch d.Kind {
		case authpilot.DeadlinePeerToPeer:
			p2p = d.Due
		case authpilot.DeadlineAppeal:
			appeal = d.Due
		}
	}
	if p2p.IsZero() || appeal.IsZero() {
		t.Fatalf("%s case: deadlines %v lack a peer-to-peer or appeal window", status, ds)
	}
	als, _ := alertsOf(sink, caseID, authpilot.AlertDeterminationReceived)
	if len(als) != 1 {
		t.Fatalf("%s case: %d determination alerts, want 1", status, len(als))
	}
	al := als[0]
	ny, _ := time.LoadLocation("America/New_York")
	for _, want := range []string{
		"Peer-to-peer window closes " + p2p.In(ny).Format("Mon 2 Jan 2006"),
		"appeal due by " + appeal.In(ny).Format("Mon 2 Jan 2006"),
	} {
		if !strings.Contains(al.Action, want) {
			t.Errorf("%s alert action %q lacks %q", status, al.Action, want)
		}
	}
	if al.Deadline == nil || al.Deadline.Kind != authpilot.DeadlinePeerToPeer || !al.Deadline.Due.Equal(p2p) {
		t.Errorf("%s alert deadline %+v, want the peer-to-peer close %v", status, al.Deadline, p2p)
	}
}

// pasAgent is an agent without API on pasConfig against a PAS simulator
// answering by rules, its alerts sent to an alertHook; all close when the
// test ends.
func pasAgent(t *testing.T, rules ...pas.Rule) (*agent.Agent, *pas.Server, *notifytest.Endpoint) {
	t.Helper()
	sim, srv := agenttest.StartPAS(t, rules...)
	hook := alertHook(t, nil)
	a := openAgent(t, pasConfig(t, "PAS test", srv.URL, agenttest.Webhook(hook.URL)))
	return a, sim, hook
}

// pasConfig writes and loads an authpilot.yaml in a fresh directory: the
// practice's payer keystone-ppo on its fhirpas connector against the PAS
// simulator at pasURL (agenttest.KeystonePAS), every schedule off, then
// notify (a notify: section, or "").
func pasConfig(t *testing.T, practice, pasURL, notify string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	y := fmt.Sprintf(`
practice: {name: %s, timezone: America/New_York}
data_dir: %s/data
schedules: {deadlines: "", digest: ""}
`, practice, dir) + agenttest.KeystonePAS(pasURL, "") + notify
	cfg, _ := agenttest.WriteConfig(t, dir, y)
	return cfg
}

// createPASCase creates, through intake, Ola Berg's surgery (member
// member, lines, diagnosis M51.16, a month from now) at the PAS payer
// keystone-ppo and returns its ID.
func createPASCase(t *testing.T, a *agent.Agent, member string, lines ...authpilot.ServiceLine) string {
	t.Helper()
	c, err := a.Intake().Create(context.Background(), &agent.NewCase{Case: authpilot.Case{
		Patient: authpilot.Patient{FirstName: "Ola", LastName: "Berg", DOB: authpilot.NewDate(1966, 3, 30), MemberID: member},
		Payer:   "keystone-ppo", Track: authpilot.TrackSurgery, OrderingProvider: authpilot.Provider{NPI: "1245319599"},
		ServiceLines: lines, Diagnoses: []string{"M51.16"}, ServiceDate: authpilot.DateOf(time.Now().AddDate(0, 1, 0)),
	}}, "test")
	must(t, err)
	return c.ID
}
