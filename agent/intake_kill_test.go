package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/authpilot/authpilot"
)

// TestIdempotencyKeySurvivesKill9: a client posts a case with an
// Idempotency-Key, and the daemon is killed with SIGKILL before the client
// reads an answer (right after the request is sent, or once the answer has
// started); the client retries the same request with the same key against
// the restarted daemon. Each time exactly one case exists for it, and when
// the first attempt was stored the retry gets that case back.
func TestIdempotencyKeySurvivesKill9(t *testing.T) {
	k := newKillDaemon(t, "Intake kill test", "TestIntakeKillChild", "AUTHPILOT_INTAKE_CHILD")

	for round, when := range []string{"after sending", "after the answer started", "after sending", "after the answer started"} {
		member := fmt.Sprintf("SHPKILL%04d", round)
		body := strings.Replace(caseJSON(member, "summit-ma", "surgery", []string{"22612"}, "M48.062", "1245319599"),
			`"external_ref": "ORD-`+member+`",`, "", 1)
		send := func(*actionWorld) (string, string, []byte) { return "/v1/cases", "application/json", []byte(body) }

		// The client retries against the restarted daemon.
		w, retry, stop := k.round(t, when, fmt.Sprintf("kill-key-%d", round), send, nil)
		cases, err := w.a.Store().ListCases(context.Background(), authpilot.CaseFilter{})
		stop()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range cases {
			if c.Patient.MemberID == member {
				n++
			}
		}
		t.Logf("round %d, killed %s: retry %d, replayed %q", round, when, retry.status, retry.header.Get("Idempotent-Replayed"))
		if retry.status != http.StatusCreated || n != 1 {
			t.Fatalf("round %d (killed %s): retry answered %d, %d cases for the request; want 201 and 1", round, when, retry.status, n)
		}
	}
}

// TestIntakeKillChild is the daemon of TestIdempotencyKeySurvivesKill9.
func TestIntakeKillChild(t *testing.T) {
	runDaemonChild(t, "AUTHPILOT_INTAKE_CHILD", "TestIdempotencyKeySurvivesKill9")
}
