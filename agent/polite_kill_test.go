//go:build unix

package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/agent/agenttest"
	"github.com/authpilot/authpilot/payersim"
)

// TestPauseSurvivesKill9: a daemon whose password is refused pauses the
// connector, is killed with SIGKILL, and the agent started again on the
// same data directory does not log in (one login attempt at the portal in
// all), until a person resumes it.
func TestPauseSurvivesKill9(t *testing.T) {
	if os.Getenv("AUTHPILOT_POLITE_CHILD") != "" {
		t.Skip("child process")
	}
	sims := startSims(t, payersim.SetOptions{})
	dir := t.TempDir()
	cfg := writeE2EConfig(t, dir, sims.PayerURL, sims.RBMURL, alertHook(t, nil).URL)
	a := openAgent(t, cfg)
	trackRequest(t, a, sims, "SHPKILLP01", &payersim.Outcome{Fate: payersim.FatePend, AfterChecks: 1000})
	must(t, a.Close())
	sims.Payer.ResetStats()

	child := startChild(t, "TestChildPolitePoll", "AUTHPILOT_POLITE_CHILD", filepath.Join(dir, "authpilot.yaml"))
	child.waitFor(t, "POLITE-PAUSED")
	must(t, child.cmd.Process.Signal(syscall.SIGKILL))
	if !child.wait() {
		t.Fatalf("child was not killed after the pause: %v\n%s", child.cmd.ProcessState, child.output())
	}
	if got := sims.Payer.Stats().LoginAttempts; got != 1 {
		t.Fatalf("the child made %d login attempts, want 1", got)
	}

	// Restarted with the right password: still paused, no login.
	a = openAgent(t, cfg)
	defer a.Close()
	ctx := context.Background()
	for i := range 5 {
		if res := a.PollNow(ctx, nil, "summit-portal"); res[0].Held == nil || res[0].Held.Why != agent.HoldPaused {
			t.Fatalf("run %d after the kill: held %+v, err %v; want paused", i, res[0].Held, res[0].Err)
		}
	}
	if got := sims.Payer.Stats().LoginAttempts; got != 1 {
		t.Fatalf("%d login attempts after the restart, want still 1", got)
	}
	if _, err := a.ResumeConnector(ctx, "summit-portal", "test"); err != nil {
		t.Fatal(err)
	}
	if res := a.PollNow(ctx, nil, "summit-portal"); res[0].Err != nil || res[0].Held != nil {
		t.Fatalf("run after resume: held %+v err %v", res[0].Held, res[0].Err)
	}
	if got := sims.Payer.Stats().Logins; got != 1 {
		t.Fatalf("%d logins after resume, want 1", got)
	}
}

// TestChildPolitePoll is the child of TestPauseSurvivesKill9: it polls
// with a refused password, says when the connector is paused, and waits
// to be killed.
func TestChildPolitePoll(t *testing.T) {
	cfg := childConfig(t, "AUTHPILOT_POLITE_CHILD", "TestPauseSurvivesKill9")
	secrets := e2eSecrets()
	secrets["summit-password"] = "not-the-password"
	a := agenttest.New(t, cfg, agent.Options{Secrets: secrets, NoAPI: true})
	ctx := context.Background()
	res := a.PollNow(ctx, nil, "summit-portal")
	sts, err := a.ConnectorStatuses(ctx)
	if err != nil || sts[0].State != agent.HoldPaused {
		t.Fatalf("not paused: %+v %v (run err %v)", sts, err, res[0].Err)
	}
	os.Stdout.WriteString("POLITE-PAUSED\n")
	time.Sleep(time.Minute) // killed long before
	t.Fatal("child was not killed")
}
