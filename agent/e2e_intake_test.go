package agent_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/payersim"
)

// TestDuplicateOrderNeverReachesThePayerTwice is issue 10's intake repro
// with the real agent submitting through headless Chromium to the
// simulated payer portal: the same order posted twice, and once more under
// another external_ref (another door, a re-keyed export), reaches the
// payer once; the re-keyed copy is held back as needs_human naming the
// case that was submitted, and stays held on the next run. The attachment
// reaches the portal under its own name, not the store's sha256.
func TestDuplicateOrderNeverReachesThePayerTwice(t *testing.T) {
	sims := startSims(t, payersim.SetOptions{})
	cfg := writeE2EConfig(t, t.TempDir(), sims.PayerURL, sims.RBMURL, alertHook(t, nil).URL)
	a, base, stop := serveAgent(t, cfg, agent.Options{})
	defer stop()
	ctx := context.Background()

	order := caseJSON("SHPDUP00001", "summit-ma", "surgery", []string{"22612", "22614"}, "M48.062", "1245319599")
	first := postCase(t, base, order)
	if code, _ := postOrder(t, base, order); code != http.StatusConflict {
		t.Fatalf("the same order again: %d, want 409", code)
	}
	// The same request under another external_ref: intake cannot know, the
	// agent must not submit it.
	rekeyed := postCase(t, base, strings.Replace(order, `"external_ref": "ORD-SHPDUP00001"`, `"external_ref": "ORD-OTHER-KEY"`, 1))

	for run := 1; run <= 2; run++ {
		for _, r := range a.SubmitNow(ctx, "summit-portal") {
			if r.Err != nil {
				t.Fatalf("submit run %d: %v", run, r.Err)
			}
		}
		if n := len(sims.Payer.Requests()); n != 1 {
			t.Fatalf("after submit run %d the payer holds %d requests, want 1", run, n)
		}
	}
	st := a.Store()
	c1, err := st.GetCase(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := st.GetCase(ctx, rekeyed)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Status != authpilot.StatusSubmitted || c2.Status != authpilot.StatusDraft || !strings.Contains(c2.LastError, first) {
		t.Fatalf("first %s, re-keyed %s (%q); want submitted, and draft naming %s", c1.Status, c2.Status, c2.LastError, first)
	}
	evs, err := st.Events(ctx, rekeyed)
	if err != nil {
		t.Fatal(err)
	}
	needs := 0
	for _, e := range evs {
		if e.Type == authpilot.EventNeedsHuman && strings.Contains(e.RawText, first) {
			needs++
		}
		if e.Type == authpilot.EventSubmitIntent {
			t.Fatalf("the re-keyed duplicate got a submit intent")
		}
	}
	if needs != 1 {
		t.Fatalf("%d needs_human events naming %s, want 1: %+v", needs, first, evs)
	}
	docs := sims.Payer.Requests()[0].Documents
	if len(docs) != 1 || docs[0].Name != "pt-notes.pdf" {
		t.Fatalf("documents at the payer: %+v, want one named pt-notes.pdf", docs)
	}
}
