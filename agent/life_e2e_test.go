package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

// lifeWorld is a case's life end to end (issue 11, acceptance 1 to 3):
// the agent with its API on loopback drives real Chromium against the
// Summit simulator, both on one injected clock (no sleeps), its alerts
// going to a real webhook receiver.
type lifeWorld struct {
	*actionWorld
	clock *clocktest.Fake
	ny    *time.Location
	sims  *payersim.Set
}

// lifeMonday is Monday 7 December 2026, 09:00 in New York: the practice's
// morning when each life starts.
func lifeMonday(t *testing.T) (time.Time, *time.Location) {
	t.Helper()
	ny, err := time.LoadLocation("America/New_York")
	must(t, err)
	return time.Date(2026, 12, 7, 9, 0, 0, 0, ny), ny
}

// newLifeWorld starts the simulators with rules and the agent whose Summit
// payer has plan type plan.
func newLifeWorld(t *testing.T, plan authpilot.PlanType, rules ...payersim.Rule) *lifeWorld {
	t.Helper()
	t0, ny := lifeMonday(t)
	clock := clocktest.New(t0)
	now := func() time.Time { return clock.Now().In(ny) }
	sims := startSims(t, payersim.SetOptions{Now: now})
	must(t, sims.Payer.SetScenario(payersim.Scenario{Rules: rules}))
	hook := alertHook(t, clock.Now)
	dir := t.TempDir()
	writeE2EConfig(t, dir, sims.PayerURL, sims.RBMURL, hook.URL)
	cfg := editE2EConfig(t, dir, "{id: summit-ma, plan_type: medicare_advantage,", "{id: summit-ma, plan_type: "+string(plan)+",")
	a, base, stop := serveAgent(t, cfg, agent.Options{Clock: clock})
	t.Cleanup(stop)
	return &lifeWorld{actionWorld: &actionWorld{a: a, base: base, alerts: hook}, clock: clock, ny: ny, sims: sims}
}

// at moves the clock to day days after Monday at h:m, once the alerts
// raised so far are delivered: a delivery the daemon started before the
// move would otherwise reach the receiver with a signature hours old by
// its clock, be refused and hold the sink's later alerts back.
func (w *lifeWorld) at(t *testing.T, day, h, m int) time.Time {
	t.Helper()
	must(t, w.a.FlushAlerts(context.Background(), 10*time.Second))
	at := time.Date(2026, 12, 7+day, h, m, 0, 0, w.ny)
	w.clock.Set(at)
	return at
}

// intake creates a case at Summit through intake.
func (w *lifeWorld) intake(t *testing.T, member string, track authpilot.Track, lines []authpilot.ServiceLine, dx []string, service authpilot.Date) string {
	t.Helper()
	c, err := w.a.Intake().Create(context.Background(), &agent.NewCase{Case: authpilot.Case{
		ExternalRef: "ORD-" + member, Payer: "summit-ma", Track: track,
		Patient:          authpilot.Patient{FirstName: "Ada", LastName: "Lindgren", DOB: authpilot.NewDate(1960, 5, 5), MemberID: member},
		OrderingProvider: authpilot.Provider{NPI: "1245319599", Name: "Lakeside Spine"},
		ServiceLines:     lines, Diagnoses: dx, ServiceDate: service,
		ClinicalNotes: "Radicular pain despite 8 weeks of PT and NSAIDs.",
	}}, "test")
	must(t, err)
	return c.ID
}

// startLife makes a world whose Summit scripts o for member, takes in the
// member's case, submits it and polls once: the case must then be want.
func startLife(t *testing.T, plan authpilot.PlanType, member string, o payersim.Outcome, track authpilot.Track,
	lines []authpilot.ServiceLine, dx []string, service authpilot.Date, want authpilot.Status) (*lifeWorld, string) {
	t.Helper()
	w := newLifeWorld(t, plan, payersim.Rule{MemberID: member, Outcome: o})
	id := w.intake(t, member, track, lines, dx, service)
	w.submitAndPoll(t)
	if c := w.get(t, id); c.Status != want {
		t.Fatalf("after the first poll: %s (%q), want %s", c.Status, c.LastError, want)
	}
	return w, id
}

// submitAndPoll submits the new cases and polls Summit once.
func (w *lifeWorld) submitAndPoll(t *testing.T) {
	t.Helper()
	for _, r := range w.a.SubmitNow(context.Background(), "summit-portal") {
		if r.Err != nil || r.Submitted != r.Cases {
			t.Fatalf("submit: %d of %d: %v", r.Submitted, r.Cases, r.Err)
		}
	}
	w.poll(t)
}

// poll polls Summit once and delivers the alerts.
func (w *lifeWorld) poll(t *testing.T) {
	t.Helper()
	for _, r := range w.a.PollNow(context.Background(), nil, "summit-portal") {
		if r.Err != nil {
			t.Fatalf("poll: %v", r.Err)
		}
	}
	must(t, w.a.FlushAlerts(context.Background(), 10*time.Second))
}

// action posts an action through the API (JSON) and fails the test unless
// it is done.
func (w *lifeWorld) action(t *testing.T, id, name, js string) {
	t.Helper()
	if a := w.act(t, id, name, js); a.status != 200 {
		t.Fatalf("%s: %d %s", name, a.status, a.raw)
	}
}

// TestLifePendedFusionAnsweredOnSummit is issue 11's acceptance 1: a
// lumbar fusion pended by Summit → two PDFs attached and sent through the
// portal's additional-information page (the simulator receives both by
// name) → back in review → approved at the next poll. On an ERISA plan the
// decision clock pauses from the request to the response and the decision
// due date moves by the pause; on a Medicare Advantage plan it keeps
// running.
func TestLifePendedFusionAnsweredOnSummit(t *testing.T) {
	for _, plan := range []authpilot.PlanType{authpilot.PlanMedicareAdvantage, authpilot.PlanERISA} {
		t.Run(string(plan), func(t *testing.T) {
			w, id := startLife(t, plan, "SHPFUSION7", payersim.Outcome{Fate: payersim.FatePend,
				InfoRequest: "Provide 6 weeks of documented conservative care and the most recent MRI report.", AwaitResponse: true,
				Then: &payersim.Outcome{Fate: payersim.FateApprove, AuthNumber: "PA2612000777", ValidityDays: 90}}, authpilot.TrackSurgery,
				[]authpilot.ServiceLine{{Code: "22633", Units: 1, Level: "L4-L5"}, {Code: "22634", Units: 1, Level: "L5-S1"}},
				[]string{"M48.062", "M43.16"}, authpilot.NewDate(2027, 1, 12), authpilot.StatusPended)
			ctx := context.Background()
			c := w.get(t, id)
			if c.OpenInfoRequest() == nil {
				t.Fatalf("pended without an open information request: %+v", c.InfoRequests)
			}
			due := func() (time.Time, bool) {
				_, err := w.a.CheckDeadlines(ctx)
				must(t, err)
				d, ok := deadlinesOf(t, w.actionWorld, id)[authpilot.DeadlineDecisionDue]
				return d.Due, ok
			}
			dueAtPend, runs := due()
			if paused := plan == authpilot.PlanERISA; runs == paused {
				t.Fatalf("while the request waits: decision due shown %v (%v), want it only when the clock runs", runs, dueAtPend)
			}

			// Wednesday: the coordinator uploads two PDFs (multipart, as
			// the API takes them); the agent sends them through Summit.
			w.at(t, 2, 10, 30)
			ct, body := multipartBody(t, `{"via": "portal", "note": "Six weeks of PT notes and the lumbar MRI report."}`,
				map[string][]byte{"pt-notes-6-weeks.pdf": []byte("%PDF-1.4\n% PT notes\n"), "mri-lumbar-report.pdf": []byte("%PDF-1.4\n% MRI\n")})
			if a := w.call(t, "POST", "/v1/cases/"+id+"/actions/respond", ct, body); a.status != 200 {
				t.Fatalf("respond: %d %s", a.status, a.raw)
			}
			w.a.WaitSends()
			c = w.get(t, id)
			ir, req := checkResponseSent(t, c, w.sims.Payer, "mri-lumbar-report.pdf", "pt-notes-6-weeks.pdf")
			if req.Status != payersim.StatusInReview {
				t.Fatalf("simulator: %s after the response", req.Status)
			}
			dueAfter, ok := due()
			if !ok {
				t.Fatalf("no decision due after the response")
			}
			pause := ir.ClosedAt.Sub(ir.RequestedAt)
			if plan == authpilot.PlanERISA {
				// Submitted Monday 09:00-ish: 15 days, moved by the pause.
				want := c.SubmittedAt.AddDate(0, 0, 15).Add(pause)
				if pause < 48*time.Hour || dueAfter.Sub(want).Abs() > time.Minute {
					t.Errorf("ERISA decision due %v, want %v (15 days + the %v pause)", dueAfter, want, pause)
				}
			} else if !dueAfter.Equal(dueAtPend) {
				t.Errorf("MA decision due moved from %v to %v by the response", dueAtPend, dueAfter)
			}

			w.at(t, 3, 9, 0)
			w.poll(t)
			c = w.get(t, id)
			if c.Status != authpilot.StatusApproved || c.Determination == nil || c.Determination.AuthNumber != "PA2612000777" {
				t.Fatalf("Thursday: %s %+v (%q)", c.Status, c.Determination, c.LastError)
			}
			if al, _ := alertsOf(w.alerts, id, authpilot.AlertDeterminationReceived); len(al) == 0 {
				t.Errorf("no alert for the approval")
			}
		})
	}
}

// TestLifeDeniedESIOverturnedAfterPeerToPeer is issue 11's acceptance 2:
// an ESI denied by Summit → a peer-to-peer scheduled → a reminder alert
// before it → the outcome "overturned" recorded (Summit records it too) →
// the watch, daily while the overturn waits, sees the portal's approval on
// the next day's poll and the case is approved with its auth number; the
// appeal and peer-to-peer deadlines stop alerting.
func TestLifeDeniedESIOverturnedAfterPeerToPeer(t *testing.T) {
	w, id := startLife(t, authpilot.PlanMedicareAdvantage, "SHPESI0042", payersim.Outcome{Fate: payersim.FateDeny,
		Reason: "Medical necessity not established: fewer than 4 weeks of conservative care documented."}, authpilot.TrackInjection,
		[]authpilot.ServiceLine{{Code: "64483", Units: 1, Level: "L5-S1 right"}}, []string{"M54.17"}, authpilot.NewDate(2027, 1, 6), authpilot.StatusDenied)
	ctx := context.Background()
	ds := deadlinesOf(t, w.actionWorld, id)
	if _, ok := ds[authpilot.DeadlineAppeal]; !ok {
		t.Fatalf("no appeal deadline after the denial: %v", ds)
	}

	// Monday 11:00: the call is set for Wednesday 14:00.
	w.at(t, 0, 11, 0)
	call := time.Date(2026, 12, 9, 14, 0, 0, 0, w.ny)
	w.action(t, id, "p2p", fmt.Sprintf(`{"op": "schedule", "scheduled_at": %q, "with_whom": "Dr. Renee Alvarez, medical director", "phone": "800-555-0142"}`,
		call.Format(time.RFC3339)))
	// Tuesday afternoon: the reminder, before the call.
	w.at(t, 1, 15, 0)
	_, err := w.a.CheckDeadlines(ctx)
	must(t, err)
	must(t, w.a.FlushAlerts(ctx, 10*time.Second))
	reminded := false
	al, _ := alertsOf(w.alerts, id, authpilot.AlertDeadlineApproaching)
	for _, x := range al {
		reminded = reminded || x.Deadline != nil && x.Deadline.Kind == authpilot.DeadlinePeerToPeerCall && x.Deadline.Due.Equal(call) && x.At.Before(call)
	}
	if !reminded {
		t.Fatalf("no reminder before the peer-to-peer: %+v", al)
	}
	// Wednesday 09:30: the watch looks (daily while the peer-to-peer is
	// open): still denied.
	w.at(t, 2, 9, 30)
	w.poll(t)
	if c := w.get(t, id); c.Status != authpilot.StatusDenied || c.WatchedAt == nil {
		t.Fatalf("Wednesday morning: %s, watched %v", c.Status, c.WatchedAt)
	}
	// Wednesday 15:00: the call overturned the denial; Summit records it
	// and will show the approval; staff record the outcome.
	w.at(t, 2, 15, 0)
	ref := w.get(t, id).PayerRef
	if _, err := w.sims.Payer.RecordPeerToPeer(ref, payersim.PeerToPeerInput{Outcome: "overturned", AuthNumber: "PA2699041707"}); err != nil {
		t.Fatal(err)
	}
	w.action(t, id, "p2p", `{"op": "outcome", "outcome": "overturned", "note": "Approval to follow on the portal."}`)
	overturned := w.clock.Now()
	for k := range deadlinesOf(t, w.actionWorld, id) {
		if k == authpilot.DeadlineAppeal || k == authpilot.DeadlinePeerToPeer || k == authpilot.DeadlinePeerToPeerCall {
			t.Errorf("%s still alerts after the overturn", k)
		}
	}
	// The same afternoon's poll: the case was watched today.
	w.at(t, 2, 16, 0)
	w.poll(t)
	if c := w.get(t, id); c.Status != authpilot.StatusDenied {
		t.Fatalf("watched twice on Wednesday: %s", c.Status)
	}
	// Thursday's 09:00 poll (earlier in the day than Wednesday's): the
	// watch sees Summit's approval.
	w.at(t, 3, 9, 0)
	w.poll(t)
	c := w.get(t, id)
	if c.Status != authpilot.StatusApproved || c.Determination == nil || c.Determination.AuthNumber != "PA2699041707" || c.Determination.DenialReason != "" {
		t.Fatalf("Thursday: %s %+v (%q)", c.Status, c.Determination, c.LastError)
	}
	if len(c.History) != 1 || c.History[0].Status != authpilot.StatusDenied {
		t.Errorf("history %+v, want the denial", c.History)
	}
	if al, _ := alertsOf(w.alerts, id, authpilot.AlertStatusChanged); !slices.ContainsFunc(al, func(x authpilot.Alert) bool {
		return x.Status == authpilot.StatusApproved && x.AuthNumber == "PA2699041707"
	}) {
		t.Errorf("no status_changed alert for the approval: %+v", al)
	}
	// The weeks of the appeal window pass: nothing about an appeal or a
	// peer-to-peer alerts any more.
	for day := 4; day <= 60; day += 7 {
		w.at(t, day, 9, 0)
		_, err := w.a.CheckDeadlines(ctx)
		must(t, err)
	}
	must(t, w.a.FlushAlerts(ctx, 10*time.Second))
	for _, typ := range []authpilot.AlertType{authpilot.AlertDeadlineApproaching, authpilot.AlertDeadlineMissed} {
		al, _ := alertsOf(w.alerts, id, typ)
		for _, x := range al {
			if x.At.After(overturned) && x.Deadline != nil && (x.Deadline.Kind == authpilot.DeadlineAppeal || x.Deadline.Kind == authpilot.DeadlinePeerToPeer) {
				t.Errorf("%s alert for %s on %v after the overturn", typ, x.Deadline.Kind, x.At)
			}
		}
	}
}

// TestLifeMRIByPhoneMovedAndWithdrawn is issue 11's acceptance 3: an MRI
// Summit decides by phone, recorded by hand with its letter → approved,
// the letter served by the API; the service date moved past the validity
// → an alert at once; then withdrawn through Summit's portal → withdrawn
// at the simulator and in authpilot.
func TestLifeMRIByPhoneMovedAndWithdrawn(t *testing.T) {
	w, id := startLife(t, authpilot.PlanMedicareAdvantage, "SHPMRI0099", payersim.Outcome{Fate: payersim.FatePend,
		InfoRequest: "Call utilization management to discuss the request."}, authpilot.TrackImaging,
		[]authpilot.ServiceLine{{Code: "72148", Units: 1, Level: "lumbar"}}, []string{"M54.16"}, authpilot.NewDate(2026, 12, 28), authpilot.StatusPended)
	ctx := context.Background()

	// Tuesday 14:00: Summit approves on the phone and faxes the letter.
	w.at(t, 1, 14, 0)
	letter := []byte("%PDF-1.4\n% Summit approval letter, lumbar MRI\n")
	ct, body := multipartBody(t, `{"source": "phone", "notice_date": "2026-12-08", "status": "approved", "auth_number": "PA2630099001",
		"valid_from": "2026-12-08", "valid_to": "2027-01-07", "approved_lines": [{"code": "72148", "units": 1}]}`,
		map[string][]byte{"summit-approval-letter.pdf": letter})
	if a := w.call(t, "POST", "/v1/cases/"+id+"/actions/decide", ct, body); a.status != 200 {
		t.Fatalf("decide: %d %s", a.status, a.raw)
	}
	c := w.get(t, id)
	d := c.Determination
	if c.Status != authpilot.StatusApproved || d == nil || d.AuthNumber != "PA2630099001" || d.Source != "phone" || len(d.Letters) != 1 {
		t.Fatalf("after the phone decision: %s %+v", c.Status, d)
	}
	doc := w.call(t, "GET", "/v1/cases/"+id+"/documents/"+d.Letters[0], "", nil)
	if doc.status != 200 || !bytes.Equal(doc.raw, letter) || doc.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("the letter from the API: %d %q", doc.status, doc.header.Get("Content-Type"))
	}

	// Wednesday: the MRI moves to 19 January, after the validity ends on
	// 7 January: the alert is out at once, before any deadline sweep.
	w.at(t, 2, 10, 0)
	moved := w.clock.Now()
	w.action(t, id, "update", `{"service_date": "2027-01-19"}`)
	must(t, w.a.FlushAlerts(ctx, 10*time.Second))
	al, _ := alertsOf(w.alerts, id, authpilot.AlertDeadlineApproaching)
	if !slices.ContainsFunc(al, func(x authpilot.Alert) bool {
		return x.Deadline != nil && x.Deadline.Kind == authpilot.DeadlineAuthExpiry && !x.At.Before(moved)
	}) {
		t.Errorf("no authorization_expiry alert when the service moved past the validity: %+v", al)
	}

	// Thursday: the MRI is cancelled; the request is withdrawn on Summit.
	w.at(t, 3, 11, 0)
	w.action(t, id, "withdraw", `{"via": "portal", "reason": "The patient cancelled the MRI."}`)
	w.a.WaitSends()
	c = w.get(t, id)
	if c.Status != authpilot.StatusWithdrawn || c.Withdrawal == nil || c.Withdrawal.State != authpilot.SendSent {
		t.Fatalf("after the withdrawal: %s %+v (%q)", c.Status, c.Withdrawal, c.LastError)
	}
	req, _ := w.sims.Payer.Request(c.PayerRef)
	if req.Status != payersim.StatusWithdrawn || req.WithdrawnAt.IsZero() || req.WithdrawReason != "The patient cancelled the MRI." {
		t.Errorf("simulator: %s at %v (%q)", req.Status, req.WithdrawnAt, req.WithdrawReason)
	}
	if evs := eventsOf(t, w.a, id, authpilot.EventWithdrawal); len(evs) != 2 || evs[0].Actor != "token:api-token" {
		var b []byte
		b, _ = json.Marshal(evs)
		t.Errorf("withdrawal events %s", b)
	}
}
