package agent_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/payersim"
)

// A poll that finds every request as it was leaves the cases alone: no
// new version, no event, while a request that moved is applied.
func TestPollOfUnchangedRowsWritesNothing(t *testing.T) {
	sims := startSims(t, payersim.SetOptions{})
	a, _ := e2eAgent(t, sims)
	ctx := context.Background()

	var ids []string
	for i, fate := range []*payersim.Outcome{
		{Fate: payersim.FatePend, AfterChecks: 1000},
		{Fate: payersim.FatePend, AfterChecks: 1000},
		{Fate: payersim.FateApprove, AfterChecks: 2, ValidityDays: 90}, // decided on the second poll
	} {
		ids = append(ids, trackRequest(t, a, sims, fmt.Sprintf("SHPSAME%04d", i), fate).ID)
	}
	snapshot := func() (map[string]int, map[string]int) {
		versions, events := map[string]int{}, map[string]int{}
		for _, id := range ids {
			c, err := a.Store().GetCase(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			evs, err := a.Store().Events(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			versions[id], events[id] = c.Version, len(evs)
		}
		return versions, events
	}
	// The first poll opens every detail (the agent has not seen the rows).
	if r := a.PollNow(ctx, nil, "summit-portal"); r[0].Err != nil {
		t.Fatalf("first poll: %v", r[0].Err)
	}
	v1, e1 := snapshot()
	if r := a.PollNow(ctx, nil, "summit-portal"); r[0].Err != nil || r[0].Changed != 1 {
		t.Fatalf("second poll: %d changed, %v; want 1", r[0].Changed, r[0].Err)
	}
	v2, e2 := snapshot()
	for i, id := range ids {
		moved := v2[id] != v1[id] || e2[id] != e1[id]
		if decided := i == 2; moved != decided {
			t.Errorf("case %d: version %d -> %d, events %d -> %d; want a change only for the decided request", i, v1[id], v2[id], e1[id], e2[id])
		}
	}
	if c, _ := a.Store().GetCase(ctx, ids[2]); c.Status != authpilot.StatusApproved {
		t.Errorf("decided request: %s, want approved", c.Status)
	}
}

// trackRequest files a lumbar fusion request for member on the simulated
// payer portal and has the agent track it (a case created with its
// payer reference).
func trackRequest(t *testing.T, a *agent.Agent, sims *payersim.Set, member string, fate *payersim.Outcome) *authpilot.Case {
	t.Helper()
	ref, err := sims.Payer.AddRequest(payersim.Submission{MemberID: member, DOB: "1960-05-05",
		Lines: []payersim.ServiceLine{{Code: "22612", Units: 1}}, Diagnoses: []string{"M48.062"}, Outcome: fate})
	if err != nil {
		t.Fatal(err)
	}
	nc := orderOf(t, member, "summit-ma", "surgery", []string{"22612"}, "M48.062", "1245319599")
	nc.Files, nc.Tracked, nc.PayerRef = nil, true, ref
	c, err := a.Intake().Create(context.Background(), nc, "test")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
