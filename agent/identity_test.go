package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/agent/agenttest"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/payersim/pas"
)

// identityWorld is the agent with the example flows against the
// simulators, alerts going to a real webhook receiver.
type identityWorld struct {
	sims  *payersim.Set
	agent *agent.Agent
	sink  *notifytest.Endpoint
	seq   int
}

func newIdentityWorld(t *testing.T, editFlow func(flow string) string) *identityWorld {
	t.Helper()
	sims := startSims(t, payersim.SetOptions{})
	sink := alertHook(t, nil)
	e := e2eExample(sims.PayerURL, sims.RBMURL, sink.URL)
	e.Summit = editFlow
	a := openAgent(t, agenttest.WriteExample(t, t.TempDir(), e))
	return &identityWorld{sims: sims, agent: a, sink: sink}
}

// newCase creates a case for member at the Summit payer with one fusion
// code and the given service date.
func (w *identityWorld) newCase(t *testing.T, member string, serviceDate authpilot.Date, tracked bool, payerRef string) *authpilot.Case {
	t.Helper()
	nc := orderOf(t, member, "summit-ma", "surgery", []string{"22612"}, "M48.062", "1245319599")
	nc.ServiceDate = serviceDate
	w.seq++
	nc.ExternalRef = fmt.Sprintf("ORD-ID-%d", w.seq) // no PHI: the alerts are searched for the member ID
	if tracked {
		nc.Files, nc.Tracked, nc.PayerRef = nil, true, payerRef
	}
	c, err := w.agent.Intake().Create(context.Background(), nc, "test")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// identityRefusal returns the fields of the case's needs_human event that
// refused a payer record, or nil.
func (w *identityWorld) identityRefusal(t *testing.T, id string) []string {
	t.Helper()
	evs, err := w.agent.Store().Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type != authpilot.EventNeedsHuman {
			continue
		}
		var d struct {
			Fields []string `json:"identity_mismatch"`
		}
		if json.Unmarshal(e.Detail, &d) == nil && len(d.Fields) > 0 {
			return d.Fields
		}
	}
	return nil
}

// checkAlertNamesFieldsOnly checks the needs_human alert of a refused link
// reached the webhook, names the differing fields and carries none of the
// patients' identifiers.
func (w *identityWorld) checkAlertNamesFieldsOnly(t *testing.T, caseID string, fields []string, phi ...string) {
	t.Helper()
	must(t, w.agent.FlushAlerts(context.Background(), 10*time.Second))
	alerts, bodies := alertsOf(w.sink, caseID, authpilot.AlertNeedsHuman)
	if len(alerts) != 1 {
		t.Fatalf("%d needs_human alerts for the case, want 1", len(alerts))
	}
	if alerts[0].Severity != authpilot.SeverityCritical {
		t.Errorf("alert severity %s, want critical", alerts[0].Severity)
	}
	for _, f := range fields {
		if !strings.Contains(alerts[0].Title, f) {
			t.Errorf("alert title %q does not name field %s", alerts[0].Title, f)
		}
	}
	for _, v := range phi {
		if strings.Contains(bodies[0], v) {
			t.Errorf("the alert carries a patient identifier: %s", bodies[0])
		}
	}
}

// TestReconcileTakesOnlyTheCasesOwnRequest reproduces issue 10 item 1's
// first report: case B (same member and code as case A, another service
// date) stops in submitting after an HTTP 500 on the final POST; the next
// run's find must not take A's request (its payer reference, decision and
// letter). With the example flow (a table of the member's requests) B is
// found absent and filed on its own; with a flow that reads only the
// newest request, the agent itself refuses A's request: needs_human naming
// service_date, B stays in submitting and nothing of A's is applied.
func TestReconcileTakesOnlyTheCasesOwnRequest(t *testing.T) {
	firstRowOnly := func(flow string) string {
		i := strings.Index(flow, "\nfind:\n")
		if i < 0 {
			t.Fatal("the example has no find flow")
		}
		return flow[:i] + `
find:
  steps:
    - goto: "/auth/list?member={{urlquery .Case.Patient.MemberID}}&q={{urlquery (index .Case.ServiceLines 0).Code}}"
    - expect:
        rows: {selector: "table#auth-list tbody tr.auth-row"}
        none: {selector: "#no-results", fail: not_found}
    - extract:
        fields:
          payer_ref: "table#auth-list tbody tr.auth-row td.col-ref"
          status: "table#auth-list tbody tr.auth-row td.col-status"
          member_id: "table#auth-list tbody tr.auth-row td.col-member"
          codes: "table#auth-list tbody tr.auth-row td.col-codes"
          service_date: "table#auth-list tbody tr.auth-row td.col-service-date"
          submitted_at: "table#auth-list tbody tr.auth-row td.col-submitted"
`
	}
	tests := []struct {
		name string
		edit func(string) string
		// refused: the agent refuses the one request the flow found;
		// otherwise the flow's table shows no request of B and B is filed.
		refused bool
	}{
		{name: "example flow reads the member's requests", edit: nil},
		{name: "flow reads the newest request only", edit: firstRowOnly, refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newIdentityWorld(t, tt.edit)
			ctx := context.Background()
			const member = "SHPTWIN0001"
			must(t, w.sims.Payer.SetScenario(payersim.Scenario{Rules: []payersim.Rule{
				{MemberID: member, Outcome: payersim.Outcome{Fate: payersim.FateApprove}}}}))
			today := authpilot.DateOf(time.Now())
			a := w.newCase(t, member, today.AddDays(30), false, "")
			if res := w.agent.SubmitNow(ctx, "summit-portal"); res[0].Err != nil || res[0].Submitted != 1 {
				t.Fatalf("submit A: %+v", res[0])
			}
			if res := w.agent.PollNow(ctx, nil, "summit-portal"); res[0].Err != nil {
				t.Fatalf("poll A: %v", res[0].Err)
			}
			ca := getCase(t, w.agent, a.ID)
			if ca.Status != authpilot.StatusApproved || ca.Determination == nil || len(ca.Determination.Letters) != 1 {
				t.Fatalf("A is %s with %+v, want approved with its letter", ca.Status, ca.Determination)
			}

			// B's final POST gets an HTTP 500: it is not filed, and B stays
			// in submitting.
			b := w.newCase(t, member, today.AddDays(45), false, "")
			must(t, w.sims.Payer.SetFaults(payersim.Faults{Error500Path: "/auth/new/submit"}))
			if res := w.agent.SubmitNow(ctx, "summit-portal"); res[0].Err == nil {
				t.Fatal("submit B through an HTTP 500 succeeded")
			}
			if got := getCase(t, w.agent, b.ID); got.Status != authpilot.StatusSubmitting {
				t.Fatalf("B after the 500: %s, want submitting", got.Status)
			}
			must(t, w.sims.Payer.SetFaults(payersim.Faults{}))

			// The next run reconciles B.
			w.agent.SubmitNow(ctx, "summit-portal")
			w.agent.PollNow(ctx, nil, "summit-portal")
			cb := getCase(t, w.agent, b.ID)
			if cb.PayerRef == ca.PayerRef {
				t.Fatalf("B took A's request %s (status %s)", ca.PayerRef, cb.Status)
			}
			if d := cb.Determination; d != nil {
				if d.AuthNumber != "" && d.AuthNumber == ca.Determination.AuthNumber {
					t.Fatalf("B has A's authorization number")
				}
				for _, l := range d.Letters {
					if slices.Contains(ca.Determination.Letters, l) {
						t.Fatalf("B has A's letter")
					}
				}
			}
			var bRequests int
			for _, r := range w.sims.Payer.Requests() {
				if r.MemberID == member && r.ServiceDate == b.ServiceDate.String() {
					bRequests++
				}
			}
			if tt.refused {
				if cb.Status != authpilot.StatusSubmitting || cb.PayerRef != "" || cb.Determination != nil {
					t.Fatalf("B after a refused find: %s, ref %q, determination %+v; want submitting with nothing applied", cb.Status, cb.PayerRef, cb.Determination)
				}
				if bRequests != 0 {
					t.Fatalf("B was filed %d times while a person must decide", bRequests)
				}
				fields := w.identityRefusal(t, b.ID)
				if !slices.Equal(fields, []string{authpilot.IdentityServiceDate}) {
					t.Fatalf("refusal names %v, want [service_date]", fields)
				}
				if !strings.Contains(cb.LastError, "service_date") {
					t.Errorf("B's last error %q does not name the field", cb.LastError)
				}
				w.checkAlertNamesFieldsOnly(t, b.ID, fields, member, b.ServiceDate.String(), "22612")
				return
			}
			if bRequests != 1 {
				t.Fatalf("B filed %d times, want once", bRequests)
			}
			if cb.Status != authpilot.StatusApproved || cb.Determination == nil || len(cb.Determination.Letters) != 1 {
				t.Fatalf("B is %s with %+v, want approved on its own request with its own letter", cb.Status, cb.Determination)
			}
		})
	}
}

// TestTrackedCaseWithAnotherMembersRef reproduces issue 10 item 1's
// second report: a tracked case given another member's payer_ref must not
// take that patient's decision and letter. Its first poll refuses the
// record (needs_human naming the fields that differ, never their values)
// and applies nothing; a tracked case given its own reference is applied.
func TestTrackedCaseWithAnotherMembersRef(t *testing.T) {
	w := newIdentityWorld(t, nil)
	ctx := context.Background()
	approve := &payersim.Outcome{Fate: payersim.FateApprove}
	otherRef, err := w.sims.Payer.AddRequest(payersim.Submission{MemberID: "SHPOTHER001", DOB: "1950-02-02",
		Lines: []payersim.ServiceLine{{Code: "22612", Units: 1}}, ServiceDate: authpilot.DateOf(time.Now()).AddDays(30).String(), Outcome: approve})
	if err != nil {
		t.Fatal(err)
	}
	today := authpilot.DateOf(time.Now())
	wrong := w.newCase(t, "SHPTRACK001", today.AddDays(30), true, otherRef)
	own := trackRequest(t, w.agent, w.sims, "SHPTRACK002", approve)

	for i := 0; i < 2; i++ { // a second poll adds no second alert
		if res := w.agent.PollNow(ctx, nil, "summit-portal"); res[0].Err != nil {
			t.Fatalf("poll: %v", res[0].Err)
		}
	}
	got := getCase(t, w.agent, wrong.ID)
	if got.Status != authpilot.StatusSubmitted || got.Determination != nil || got.StatusText != "" {
		t.Fatalf("tracked case with another member's ref: %s %q %+v; want submitted with nothing applied", got.Status, got.StatusText, got.Determination)
	}
	docs, err := w.agent.Store().Documents(ctx, wrong.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if d.Kind == authpilot.DocLetter {
			t.Fatalf("the other member's letter was stored on the case")
		}
	}
	fields := w.identityRefusal(t, wrong.ID)
	if !slices.Equal(fields, []string{authpilot.IdentityMemberID}) {
		t.Fatalf("refusal names %v, want [member_id]", fields)
	}
	w.checkAlertNamesFieldsOnly(t, wrong.ID, fields, "SHPOTHER001", "SHPTRACK001", "OTHER001", "TRACK001")
	if regexp.MustCompile(`\d{4}`).MatchString(got.LastError) {
		t.Errorf("last error %q carries digits of an identifier", got.LastError)
	}

	if g := getCase(t, w.agent, own.ID); g.Status != authpilot.StatusApproved || g.Determination == nil || len(g.Determination.Letters) != 1 {
		t.Fatalf("tracked case with its own ref: %s %+v, want approved with its letter", g.Status, g.Determination)
	}
}

// TestPASTrackedCaseWithAnotherMembersRef is the second report on a PAS
// API: a tracked case given another member's payer reference inquires by
// that reference, and the answer (another member's Patient) is refused —
// needs_human naming member_id and dob, nothing applied — while the other
// member's own case is applied.
func TestPASTrackedCaseWithAnotherMembersRef(t *testing.T) {
	a, _, sink := pasAgent(t, pas.Rule{MemberID: "KPPOTHR0001", Fate: pas.Approve, ValidDays: 90})
	w := &identityWorld{agent: a, sink: sink}
	ctx := context.Background()
	create := func(member string, dob authpilot.Date, tracked bool, ref string) *authpilot.Case {
		t.Helper()
		c, err := a.Intake().Create(ctx, &agent.NewCase{Case: authpilot.Case{
			ExternalRef: "ORD-PAS-" + fmt.Sprint(tracked),
			Patient:     authpilot.Patient{FirstName: "Ola", LastName: "Berg", DOB: dob, MemberID: member},
			Payer:       "keystone-ppo", Track: authpilot.TrackSurgery, OrderingProvider: authpilot.Provider{NPI: "1245319599"},
			ServiceLines: []authpilot.ServiceLine{{Code: "22551", Units: 1}}, Diagnoses: []string{"M51.16"},
			ServiceDate: authpilot.DateOf(time.Now().AddDate(0, 1, 0)), Tracked: tracked, PayerRef: ref,
		}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	other := create("KPPOTHR0001", authpilot.NewDate(1966, 3, 30), false, "")
	if res := a.SubmitNow(ctx); res[0].Err != nil || res[0].Submitted != 1 {
		t.Fatalf("submit: %+v", res[0])
	}
	ref := getCase(t, w.agent, other.ID).PayerRef
	if ref == "" {
		t.Fatal("the other member's case has no payer reference")
	}
	wrong := create("KPPTRAK0002", authpilot.NewDate(1971, 8, 9), true, ref)
	if res := a.PollNow(ctx, nil); res[0].Err != nil {
		t.Fatalf("poll: %v", res[0].Err)
	}
	got := getCase(t, w.agent, wrong.ID)
	if got.Status != authpilot.StatusSubmitted || got.Determination != nil || got.StatusText != "" {
		t.Fatalf("tracked case with another member's ref: %s %q %+v; want submitted with nothing applied", got.Status, got.StatusText, got.Determination)
	}
	fields := w.identityRefusal(t, wrong.ID)
	if !slices.Equal(fields, []string{authpilot.IdentityMemberID, authpilot.IdentityDOB}) {
		t.Fatalf("refusal names %v, want [member_id dob]", fields)
	}
	w.checkAlertNamesFieldsOnly(t, wrong.ID, fields, "KPPOTHR0001", "KPPTRAK0002", "1966-03-30", "1971-08-09")
	if g := getCase(t, w.agent, other.ID); g.Status != authpilot.StatusApproved {
		t.Fatalf("the other member's own case: %s, want approved", g.Status)
	}
}
