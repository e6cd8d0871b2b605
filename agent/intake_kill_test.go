package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
)

// TestIdempotencyKeySurvivesKill9: a client posts a case with an
// Idempotency-Key, and the daemon is killed with SIGKILL before the client
// reads an answer (right after the request is sent, or once the answer has
// started); the client retries the same request with the same key against
// the restarted daemon. Each time exactly one case exists for it, and when
// the first attempt was stored the retry gets that case back.
func TestIdempotencyKeySurvivesKill9(t *testing.T) {
	if os.Getenv("AUTHPILOT_INTAKE_CHILD") != "" {
		t.Skip("child process")
	}
	cfg, p, addr := apiDaemonYAML(t, t.TempDir(), "Intake kill test")

	for round, when := range []string{"after sending", "after the answer started", "after sending", "after the answer started"} {
		member := fmt.Sprintf("SHPKILL%04d", round)
		body := strings.Replace(caseJSON(member, "summit-ma", "surgery", []string{"22612"}, "M48.062", "1245319599"),
			`"external_ref": "ORD-`+member+`",`, "", 1)
		key := fmt.Sprintf("kill-key-%d", round)

		child := startChild(t, "TestIntakeKillChild", "AUTHPILOT_INTAKE_CHILD", p)
		child.waitFor(t, "LISTENING")

		killMidRequest(t, child, addr, "/v1/cases", "application/json", key, []byte(body), when)

		// The client retries against the restarted daemon.
		a, base, stop := serveAgent(t, cfg, agent.Options{})
		req, _ := http.NewRequest("POST", base+"/v1/cases", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e2eToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		replayed := resp.Header.Get("Idempotent-Replayed") == "true"
		cases, err := a.Store().ListCases(context.Background(), authpilot.CaseFilter{})
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
		t.Logf("round %d, killed %s: retry %d, replayed %v", round, when, resp.StatusCode, replayed)
		if resp.StatusCode != http.StatusCreated || n != 1 {
			t.Fatalf("round %d (killed %s): retry answered %d, %d cases for the request; want 201 and 1", round, when, resp.StatusCode, n)
		}
		if when == "after the answer started" && !replayed {
			t.Fatalf("round %d: the first attempt was answered, so it was stored, but the retry was not a replay", round)
		}
	}
}

// TestIntakeKillChild is the daemon of TestIdempotencyKeySurvivesKill9.
func TestIntakeKillChild(t *testing.T) {
	runDaemonChild(t, "AUTHPILOT_INTAKE_CHILD", "TestIdempotencyKeySurvivesKill9")
}
