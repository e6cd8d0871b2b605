package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
)

// noFindOpens counts the visits of agenttest-nofind connectors.
var noFindOpens atomic.Int64

// The agenttest-nofind kind submits but cannot search the payer (like the
// RBM example flow, which has no find).
func init() {
	registerFakeKind("agenttest-nofind", fakeConnector{caps: connectors.Capabilities{Submit: true, Poll: true},
		open: func() (connectors.Session, error) {
			noFindOpens.Add(1)
			return fakeSession{submitErr: fmt.Errorf("test session submits nothing")}, nil
		}})
}

// TestInterruptedSubmitAtUnsearchablePayerAsksOnce reproduces what the
// chaos script found: a case left in submitting at a payer that cannot be
// searched (the RBM example flow has no find) was visited every submit
// cycle, each visit a portal login and another needs_human event (33
// events in two minutes at a 2-second schedule). The person is asked
// once; later cycles leave the case alone until the next intent.
func TestInterruptedSubmitAtUnsearchablePayerAsksOnce(t *testing.T) {
	cfg := spineConfig(t, t.TempDir(), `
schedules: {deadlines: "", digest: ""}
payers:
  - {id: clearview-rbm, plan_type: medicare_advantage, connector: rbm}
connectors:
  - {id: rbm, kind: agenttest-nofind, options: {}, schedule: {submit: "", poll: ""}}
`)
	a, err := New(cfg, Options{Secrets: authpilot.StaticSecrets{}, NoAPI: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	var nc NewCase
	if err := json.Unmarshal([]byte(`{"external_ref": "ORD-1", "patient": {"first_name": "Ada", "last_name": "Lind", "dob": "1960-05-05", "member_id": "SHPMRI00003"},
	  "payer": "clearview-rbm", "track": "imaging", "ordering_provider": {"npi": "1245319599"}, "service_lines": [{"code": "72148", "units": 1}],
	  "diagnoses": ["M48.062"], "service_date": "`+time.Now().AddDate(0, 0, 30).Format(time.DateOnly)+`"}`), &nc); err != nil {
		t.Fatal(err)
	}
	c, err := a.Intake().Create(ctx, &nc, "test")
	if err != nil {
		t.Fatal(err)
	}
	// The daemon died between the intent and the result.
	if _, err := a.Store().UpdateCase(ctx, c.ID, func(cc *authpilot.Case) (authpilot.Changes, error) {
		cc.Status = authpilot.StatusSubmitting
		return authpilot.Changes{Events: []authpilot.Event{{Type: authpilot.EventSubmitIntent, Actor: "agent:rbm",
			From: authpilot.StatusReady, To: authpilot.StatusSubmitting, At: time.Now().UTC()}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	before := noFindOpens.Load()
	for range 3 {
		a.SubmitNow(ctx, "rbm")
	}
	evs, err := a.Store().Events(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	asked := 0
	for _, e := range evs {
		if e.Type == authpilot.EventNeedsHuman {
			asked++
		}
	}
	if visits := noFindOpens.Load() - before; asked != 1 || visits != 1 {
		t.Fatalf("three submit cycles: %d needs_human events and %d payer visits, want 1 and 1", asked, visits)
	}
	got, _ := a.Store().GetCase(ctx, c.ID)
	if got.Status != authpilot.StatusSubmitting {
		t.Errorf("status %s, want submitting (nothing is resubmitted)", got.Status)
	}
}
