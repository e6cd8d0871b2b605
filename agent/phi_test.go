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
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/payersim/pas"
	"github.com/authpilot/authpilot/schedules/clocktest"
	"github.com/authpilot/authpilot/store"
)

// TestPayerTextWithPHINeverReachesSinksWithoutIncludePHI is issue 10
// item 5's report: a payer's denial reason naming the patient, her DOB
// (as payers print it, several ways) and member ID — and, on another
// request, another patient of the practice — was copied verbatim into
// Slack and into a webhook with include_phi: false. The denial and an
// information request come from the PAS simulator through the whole agent
// to a Slack stand-in and two signed webhook receivers; the order
// reference (an MRN) is shown only to the sink that includes PHI.
func TestPayerTextWithPHINeverReachesSinksWithoutIncludePHI(t *testing.T) {
	const (
		member   = "KPPDENY0002"
		pendMbr  = "KPPPEND0001"
		otherMbr = "ZZQ774411903"
		mrn      = "MRN-5502177"
	)
	denial := "Denied for JANET QUARTERMAINE (DOB 07/04/1961, also shown as Jul 4, 1961 and 1961-07-04), " +
		"member " + member + ", order " + mrn + ": six weeks of conservative care not documented."
	info := "Send the PT notes for Quartermaine, Janet, born 7/4/61, and for Ola Berg (" + otherMbr + ")."
	_, pasSrv := agenttest.StartPAS(t,
		pas.Rule{MemberID: member, Fate: pas.Deny, Reason: denial},
		pas.Rule{MemberID: pendMbr, Fate: pas.Pend, Reason: info},
	)
	clk := clocktest.New(time.Now())
	slack := notifytest.NewEndpoint(t, notifytest.EndpointOptions{})
	const hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	plain := notifytest.NewEndpoint(t, notifytest.EndpointOptions{Secret: hookSecret, Now: clk.Now})
	phi := notifytest.NewEndpoint(t, notifytest.EndpointOptions{Secret: hookSecret, Now: clk.Now})

	cfg := pasConfig(t, "PHI test", pasSrv.URL, fmt.Sprintf(`
notify:
  sinks:
    - {name: coordinators, type: slack, url_secret: slack-url}
    - {name: ehr-plain, type: webhook, url: %q, secret: hook-secret, include_phi: false}
    - {name: ehr-phi, type: webhook, url: %q, secret: hook-secret, include_phi: true}
  routes:
    - match: {severity: warning}
      sinks: [coordinators, ehr-plain, ehr-phi]
`, plain.URL, phi.URL))
	ctx := context.Background()
	st, err := store.Open(ctx, cfg.DataDir, store.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := agenttest.New(t, cfg, agent.Options{Store: st, Clock: clk, NoAPI: true, Secrets: authpilot.StaticSecrets{
		"pas-secret": pas.DefaultClientSecret, "slack-url": slack.URL + "/services/T0/B0/x",
		"hook-secret": hookSecret}})
	create := func(first, last, memberID, ref string) string {
		c, err := a.Intake().Create(ctx, &agent.NewCase{Case: authpilot.Case{
			ExternalRef: ref,
			Patient:     authpilot.Patient{FirstName: first, LastName: last, DOB: authpilot.NewDate(1961, 7, 4), MemberID: memberID},
			Payer:       "keystone-ppo", Track: authpilot.TrackSurgery, OrderingProvider: authpilot.Provider{NPI: "1245319599"},
			ServiceLines: []authpilot.ServiceLine{{Code: "22612", Units: 1}}, Diagnoses: []string{"M51.16"},
			ServiceDate: authpilot.DateOf(clk.Now().AddDate(0, 1, 0)),
		}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	// Created after the agent started: the index must learn of them.
	create("Janet", "Quartermaine", member, mrn)
	create("Janet", "Quartermaine", pendMbr, "")
	// Another patient of the practice, at a payer this test never calls.
	if err := st.CreateCase(ctx, &authpilot.Case{ID: "01JOTHERCASE00000000000000", Status: authpilot.StatusDraft,
		Patient: authpilot.Patient{FirstName: "Ola", LastName: "Berg", DOB: authpilot.NewDate(1950, 2, 3), MemberID: otherMbr},
		Payer:   "elsewhere", Track: authpilot.TrackImaging}, authpilot.Changes{}); err != nil {
		t.Fatal(err)
	}

	if res := a.SubmitNow(ctx); res[0].Err != nil || res[0].Submitted != 2 {
		t.Fatalf("submit: %+v", res[0])
	}
	for i := 0; i < 10 && len(slack.Bodies()) < 2; i++ {
		must(t, a.FlushAlerts(ctx, 10*time.Second))
		clk.Advance(2 * time.Second) // Slack's one message per second
	}
	must(t, a.FlushAlerts(ctx, 10*time.Second))

	phiValues := []string{"janet", "quartermaine", "07/04/1961", "jul 4, 1961", "1961-07-04", "7/4/61",
		strings.ToLower(member), strings.ToLower(pendMbr), "ola berg", strings.ToLower(otherMbr), strings.ToLower(mrn)}
	for _, sink := range []struct {
		name string
		e    *notifytest.Endpoint
	}{{"slack", slack}, {"webhook without include_phi", plain}} {
		got := strings.Join(sink.e.Bodies(), "\n")
		if strings.Count(got, "\n") != 1 || !strings.Contains(got, "six weeks of conservative care") || !strings.Contains(got, "Send the PT notes") {
			t.Fatalf("%s: want the denial and the information request with their payer text, got %s", sink.name, got)
		}
		for _, v := range phiValues {
			if strings.Contains(strings.ToLower(got), v) {
				t.Errorf("%s received PHI %q:\n%s", sink.name, v, got)
			}
		}
		if !strings.Contains(got, "[REDACTED]") {
			t.Errorf("%s: no [REDACTED] in %s", sink.name, got)
		}
	}
	got := strings.Join(phi.Bodies(), "\n")
	for _, v := range []string{"JANET QUARTERMAINE", "07/04/1961", member, mrn, `"external_ref":"` + mrn + `"`, "Ola Berg (" + otherMbr + ")", `"member_id":"` + member + `"`} {
		if !strings.Contains(got, v) {
			t.Errorf("the include_phi webhook lacks %q:\n%s", v, got)
		}
	}
}
