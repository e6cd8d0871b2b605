//go:build unix

package agent_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/config"
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
	needChromium(t)
	sims, err := payersim.Start(payersim.SetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sims.Close()
	hook := &pauseHook{}
	srv := httptestServer(t, hook)
	dir := t.TempDir()
	cfg := writeE2EConfig(t, dir, sims.PayerURL, sims.RBMURL, srv)
	a, err := agent.New(cfg, agent.Options{Secrets: e2eSecrets(), NoAPI: true})
	if err != nil {
		t.Fatal(err)
	}
	trackRequest(t, a, sims, "SHPKILLP01", &payersim.Outcome{Fate: payersim.FatePend, AfterChecks: 1000})
	must(t, a.Close())
	sims.Payer.ResetStats()

	child := exec.Command(os.Args[0], "-test.run=^TestChildPolitePoll$", "-test.v")
	child.Env = append(os.Environ(), "AUTHPILOT_POLITE_CHILD="+filepath.Join(dir, "authpilot.yaml"))
	stdout, _ := child.StdoutPipe()
	child.Stderr = child.Stdout
	must(t, child.Start())
	sc := bufio.NewScanner(stdout)
	var out []string
	for sc.Scan() {
		out = append(out, sc.Text())
		if strings.HasPrefix(sc.Text(), "POLITE-PAUSED") {
			must(t, child.Process.Signal(syscall.SIGKILL))
		}
	}
	_ = child.Wait()
	if ws, ok := child.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed after the pause: %v\n%s", child.ProcessState, strings.Join(out, "\n"))
	}
	if got := sims.Payer.Stats().LoginAttempts; got != 1 {
		t.Fatalf("the child made %d login attempts, want 1", got)
	}

	// Restarted with the right password: still paused, no login.
	a, err = agent.New(cfg, agent.Options{Secrets: e2eSecrets(), NoAPI: true})
	if err != nil {
		t.Fatal(err)
	}
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
	path := os.Getenv("AUTHPILOT_POLITE_CHILD")
	if path == "" {
		t.Skip("runs only as the child of TestPauseSurvivesKill9")
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	secrets := e2eSecrets()
	secrets["summit-password"] = "not-the-password"
	a, err := agent.New(cfg, agent.Options{Secrets: secrets, NoAPI: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
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
