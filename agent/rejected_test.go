package agent_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/payersim/pas"
)

// eventsOf returns a case's events of one type.
func eventsOf(t *testing.T, a *agent.Agent, caseID string, typ authpilot.EventType) []authpilot.Event {
	t.Helper()
	evs, err := a.Store().Events(context.Background(), caseID)
	if err != nil {
		t.Fatal(err)
	}
	var out []authpilot.Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// checkRejected checks a refused case: status rejected with the payer's
// words, one submission_rejected event and alert carrying them, no
// connector_failing, and the rejected filter finds it.
func checkRejected(t *testing.T, a *agent.Agent, alerts *notifytest.Endpoint, caseID, words string) {
	t.Helper()
	ctx := context.Background()
	must(t, a.FlushAlerts(ctx, 10*time.Second))
	if c := getCase(t, a, caseID); c.Status != authpilot.StatusRejected || c.StatusText != words || c.LastError == "" {
		t.Errorf("case: %s, status text %q, last error %q; want rejected with the payer's words", c.Status, c.StatusText, c.LastError)
	}
	if evs := eventsOf(t, a, caseID, authpilot.EventSubmissionRejected); len(evs) != 1 || evs[0].RawText != words || evs[0].To != authpilot.StatusRejected {
		t.Errorf("submission_rejected events = %+v, want one with the payer's words", evs)
	}
	got, _ := alertsOf(alerts, caseID, authpilot.AlertSubmissionRejected)
	if len(got) != 1 || got[0].Reason != words || got[0].Status != authpilot.StatusRejected {
		t.Errorf("submission_rejected alerts = %+v, want one with the payer's words as its reason", got)
	} else if want := "The payer rejected the request: \u201c" + strings.Join(strings.Fields(words), " ") + "\u201d"; got[0].Title != want {
		t.Errorf("submission_rejected title %q, want %q (quoting the portal's own text)", got[0].Title, want)
	}
	if als, _ := alertsOf(alerts, "", authpilot.AlertNeedsHuman); len(als) != 0 {
		t.Errorf("%d needs_human alerts for a refusal, want 0", len(als))
	}
	if als, _ := alertsOf(alerts, "", authpilot.AlertConnectorFailing); len(als) != 0 {
		t.Errorf("%d connector_failing alerts, want 0: a refusal is not a connector failure", len(als))
	}
	list, err := a.Store().ListCases(ctx, authpilot.CaseFilter{Statuses: []authpilot.Status{authpilot.StatusRejected}})
	found := false
	for _, c := range list {
		found = found || c.ID == caseID
	}
	if err != nil || !found {
		t.Errorf("rejected filter: %d cases without %s, %v", len(list), caseID, err)
	}
}

// refusedWords is what the payer portal says when it refuses a request.
const refusedWords = "The request cannot be accepted: coverage is not active on the planned date of service (ELIG-417)."

// refusingPortal is an e2eAgent against the simulators, the payer portal
// refusing member's requests after the final click with refusedWords.
func refusingPortal(t *testing.T, member string) (*payersim.Set, *agent.Agent, *notifytest.Endpoint) {
	t.Helper()
	sims := startSims(t, payersim.SetOptions{})
	must(t, sims.Payer.SetScenario(payersim.Scenario{Rules: []payersim.Rule{
		{MemberID: member, Outcome: payersim.Outcome{Fate: payersim.FateRefuse, Reason: refusedWords}},
	}}))
	a, alerts := e2eAgent(t, sims)
	return sims, a, alerts
}

// TestRefusedPortalSubmissionStops is issue 10 item 3 on a portal: the
// payer refuses a request after the final click (a fail: rejected
// alternative). The case becomes rejected with the banner's text, one
// alert is raised, and later submit cycles never post it again (before, it
// was reconciled back to ready and posted every cycle, each run counted as
// a connector failure).
func TestRefusedPortalSubmissionStops(t *testing.T) {
	sims, a, alerts := refusingPortal(t, "SHPREFUSE01")
	ctx := context.Background()
	refused := createCase(t, a, "SHPREFUSE01")
	accepted := createCase(t, a, "SHPACCEPT02")
	// A member the portal does not find is refused on the wizard's first
	// page (fail: rejected on #member-error), before the final click.
	unknown := createCase(t, a, "SHP-NO-SUCH-1")

	const cycles = 4
	for i := 0; i < cycles; i++ {
		res := a.SubmitNow(ctx, "summit-portal")
		if res[0].Err != nil {
			t.Errorf("submit cycle %d: %v (a refusal is not a failed run)", i+1, res[0].Err)
		}
		if i == 0 && (res[0].Rejected != 2 || res[0].Submitted != 1) {
			t.Errorf("first cycle: %d rejected, %d submitted; want 2 and 1", res[0].Rejected, res[0].Submitted)
		}
	}
	st := sims.Payer.Stats()
	if posts := st.PageLoadsByRoute["POST /auth/new/submit"]; posts != 2 || st.Refused != 1 || st.Submissions != 1 {
		t.Fatalf("after %d submit cycles the portal saw %d final POSTs (%d refused, %d accepted); want 2: the refused request posted exactly once",
			cycles, posts, st.Refused, st.Submissions)
	}
	if c, _ := a.Store().GetCase(ctx, accepted); c.Status != authpilot.StatusSubmitted {
		t.Errorf("the other case: %s, want submitted", c.Status)
	}
	if n := st.PageLoadsByRoute["POST /auth/new/member"]; n != 3 {
		t.Errorf("member searches: %d, want 3 (one per case: the unknown member is searched once)", n)
	}
	c, err := a.Store().GetCase(ctx, unknown)
	must(t, err)
	const banner = "No member was found with the member ID and date of birth entered. Check the ID card and try again."
	if c.Status != authpilot.StatusRejected || c.StatusText != banner {
		t.Errorf("unknown member: %s %q, want rejected with the portal's banner", c.Status, c.StatusText)
	}
	if evs := eventsOf(t, a, unknown, authpilot.EventSubmissionRejected); len(evs) != 1 || evs[0].From != authpilot.StatusReady {
		t.Errorf("unknown member's events: %+v, want one ready -> rejected", evs)
	}
	checkRejected(t, a, alerts, refused, refusedWords)
}

// TestRefusedPASSubmissionStops is issue 10 item 3 on a PAS API: a
// $submit answered 400 with an OperationOutcome sets rejected with the
// issue's diagnostics, raises one alert, and is never posted again.
func TestRefusedPASSubmissionStops(t *testing.T) {
	const words = "Subscriber has no active coverage for the date of service (ELIG-22)"
	a, pasSim, alerts := pasAgent(t, pas.Rule{MemberID: "KPPREJ00001", Fate: pas.Reject, Reason: words})
	ctx := context.Background()
	id := createPASCase(t, a, "KPPREJ00001", authpilot.ServiceLine{Code: "22612", Units: 1})
	const cycles = 4
	for i := 0; i < cycles; i++ {
		if res := a.SubmitNow(ctx); res[0].Err != nil {
			t.Errorf("submit cycle %d: %v (a refusal is not a failed run)", i+1, res[0].Err)
		}
	}
	if st := pasSim.Stats(); st.Calls["submit"] != 1 || st.Submissions != 0 {
		t.Fatalf("after %d submit cycles the PAS API saw %d $submit calls; want exactly 1", cycles, st.Calls["submit"])
	}
	checkRejected(t, a, alerts, id, words)
	// The agent's log-safe error on the case names the class and status,
	// the payer's words stay in the status text.
	if got := getCase(t, a, id); !strings.Contains(got.LastError, "HTTP 400") {
		t.Errorf("last error %q", got.LastError)
	}
}

// TestUnmappedWordingIsPortalChanged is issue 10 item 4: a status word
// missing from status_map, on a list page (the payer portal's list) or a
// detail page (the RBM's status lookup), left the case unchanged with no
// alert. Now each case showing it gets a portal_changed event with the
// exact text, one portal_changed alert names the text, the step and a case,
// further polls raise nothing more, and the status stays as it was.
func TestUnmappedWordingIsPortalChanged(t *testing.T) {
	sims := startSims(t, payersim.SetOptions{})
	a, alerts := e2eAgent(t, sims)
	ctx := context.Background()

	const listWord, detailWord = "Approved - Pending Medical Director Sign-off", "Authorized Pending Peer Review"
	// Two requests on the payer's list show the same unknown word.
	list1 := trackRequest(t, a, sims, "SHPWORD0001", &payersim.Outcome{Fate: payersim.FateApprove, Wording: listWord})
	list2 := trackRequest(t, a, sims, "SHPWORD0002", &payersim.Outcome{Fate: payersim.FateApprove, Wording: listWord})
	// One RBM order shows an unknown word on its status page.
	tn, err := sims.RBM.AddRequest(payersim.Submission{MemberID: "SHPWORD0003", DOB: "1960-05-05",
		Lines: []payersim.ServiceLine{{Code: "72148", Units: 1}}, Diagnoses: []string{"M54.16"},
		Outcome: &payersim.Outcome{Fate: payersim.FateApprove, Wording: detailWord}})
	must(t, err)
	nc := orderOf(t, "SHPWORD0003", "clearview-rbm", "imaging", []string{"72148"}, "M54.16", "1245319599")
	nc.Files, nc.Tracked, nc.PayerRef = nil, true, tn
	detail, err := a.Intake().Create(ctx, nc, "test")
	must(t, err)

	for cycle := 1; cycle <= 3; cycle++ {
		for _, r := range a.PollNow(ctx, nil) {
			if r.Err != nil {
				t.Fatalf("poll %d %s: %v", cycle, r.Connector, r.Err)
			}
		}
	}
	must(t, a.FlushAlerts(ctx, 10*time.Second))

	tests := []struct {
		name, word, step, connector string
		cases                       []string
	}{
		{"list page", listWord, "poll.list.fields.status", "summit-portal", []string{list1.ID, list2.ID}},
		{"detail page", detailWord, "poll.lookup", "clearview-rbm", []string{detail.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, id := range tt.cases {
				c, err := a.Store().GetCase(ctx, id)
				must(t, err)
				if c.Status != authpilot.StatusSubmitted {
					t.Errorf("case %s became %s on unknown wording", id, c.Status)
				}
				evs := eventsOf(t, a, id, authpilot.EventPortalChanged)
				if len(evs) != 1 || evs[0].RawText != tt.word || !strings.Contains(string(evs[0].Detail), tt.step) {
					t.Errorf("case %s: portal_changed events over 3 polls = %+v, want one with the text and the step", id, evs)
				}
			}
			var got []authpilot.Alert
			als, _ := alertsOf(alerts, "", authpilot.AlertPortalChanged)
			for _, al := range als {
				if al.ConnectorID == tt.connector {
					got = append(got, al)
				}
			}
			if len(got) != 1 {
				t.Fatalf("%d portal_changed alerts over 3 polls, want 1: %+v", len(got), got)
			}
			al := got[0]
			if al.Reason != tt.word || !strings.Contains(al.Title, tt.step) || !slices.Contains(tt.cases, al.CaseID) || al.Status != authpilot.StatusSubmitted {
				t.Errorf("alert = %+v, want the text as reason, the step in the title and the case", al)
			}
		})
	}
}
