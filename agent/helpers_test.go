package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/agent/agenttest"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

// idleYAML is the YAML of a daemon on dir with one connector of the idle
// kind (no browser) for payer summit-ma and every schedule off; extra
// (other top-level sections, or "") is appended.
func idleYAML(practice, dir, connector, extra string) string {
	return fmt.Sprintf(`
practice: {name: %s, timezone: America/New_York}
data_dir: %s/data
schedules: {deadlines: "", digest: ""}
payers: [{id: summit-ma, plan_type: medicare_advantage, connector: %s}]
connectors:
  - {id: %[3]s, kind: agenttest-idle, options: {}, schedule: {submit: "", poll: ""}}
`, practice, dir, connector) + extra
}

// idleConfig writes and loads (agenttest.WriteConfig) idleYAML's config
// on dir, its alerts sent to the webhook at hookURL (agenttest.Webhook) if
// that is set, then extra; it returns the config and the file's path.
func idleConfig(t *testing.T, practice, dir, connector, hookURL, extra string) (*config.Config, string) {
	t.Helper()
	if hookURL != "" {
		extra = agenttest.Webhook(hookURL) + extra
	}
	return agenttest.WriteConfig(t, dir, idleYAML(practice, dir, connector, extra))
}

// summitTail ends the summit-portal connector's line in writeE2EConfig's
// authpilot.yaml: its schedule and limits.
const summitTail = `schedule: {submit: "", poll: ""}, limits: {retries: 1}}`

// editE2EConfig replaces the first old, if any, by new in the
// authpilot.yaml writeE2EConfig left in dir and loads it again through
// the real loader.
func editE2EConfig(t *testing.T, dir, old, new string) *config.Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "authpilot.yaml"))
	must(t, err)
	cfg, _ := agenttest.WriteConfig(t, dir, strings.Replace(string(b), old, new, 1))
	return cfg
}

// childConfig is the start of a test that runs only as the child process
// of the test parent: it loads the config whose path the parent put in the
// environment variable env, and skips when that is not set.
func childConfig(t *testing.T, env, parent string) *config.Config {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Skip("runs only as the child of " + parent)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// child is this test binary run again as a daemon: only the test named, with
// env=value in its environment. Its output (stdout and stderr) is read all
// the time, so it never blocks on a full pipe.
type child struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  []string
	more chan struct{} // closed (and replaced) when a line arrives
	done chan struct{} // closed when the output has ended
}

func startChild(t *testing.T, test, env, value string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v"),
		more: make(chan struct{}), done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), env+"="+value)
	out, err := c.cmd.StdoutPipe()
	must(t, err)
	c.cmd.Stderr = c.cmd.Stdout
	must(t, c.cmd.Start())
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.mu.Lock()
			c.out = append(c.out, sc.Text())
			close(c.more)
			c.more = make(chan struct{})
			c.mu.Unlock()
		}
	}()
	return c
}

// waitFor waits until the child has written a line holding marker, and
// fails the test if it ends first.
func (c *child) waitFor(t *testing.T, marker string) {
	t.Helper()
	for seen := 0; ; {
		c.mu.Lock()
		for ; seen < len(c.out); seen++ {
			if strings.Contains(c.out[seen], marker) {
				c.mu.Unlock()
				return
			}
		}
		more := c.more
		c.mu.Unlock()
		select {
		case <-more:
		case <-c.done:
			c.mu.Lock()
			ended := len(c.out) == seen
			c.mu.Unlock()
			if ended {
				t.Fatalf("child ended before %q:\n%s", marker, c.output())
			}
		}
	}
}

// wait waits until the child has exited and reports whether SIGKILL ended it.
func (c *child) wait() (killed bool) {
	<-c.done
	_ = c.cmd.Wait()
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// kill SIGKILLs the child and waits until it is gone.
func (c *child) kill(t *testing.T) {
	t.Helper()
	must(t, c.cmd.Process.Signal(syscall.SIGKILL))
	c.wait()
}

// killMidRequest posts body to path on the child daemon listening at addr
// (the e2e token, an Idempotency-Key) and SIGKILLs the child before the
// client reads the answer: right after sending, or, when is "after the
// answer started", once its first byte has arrived.
func killMidRequest(t *testing.T, c *child, addr, path, contentType, key string, body []byte, when string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	must(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nIdempotency-Key: %s\r\nContent-Length: %d\r\n\r\n",
		path, e2eToken, contentType, key, len(body))
	_, _ = conn.Write(body)
	if when == "after the answer started" {
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := conn.Read(make([]byte, 1)); err != nil {
			t.Fatalf("killed %s: no answer: %v", when, err)
		}
	}
	c.kill(t)
}

// killDaemon is a kill -9 test's daemon: an idle daemon on a fresh
// directory with its API on loopback, run in a child process (the test
// childTest with env set to its config; see runDaemonChild) that the test
// SIGKILLs mid-request.
type killDaemon struct {
	cfg            *config.Config
	p, addr        string
	childTest, env string
}

// newKillDaemon makes the daemon; in the child process (env set) it skips
// t, whose child test runs there instead.
func newKillDaemon(t *testing.T, practice, childTest, env string) *killDaemon {
	t.Helper()
	if os.Getenv(env) != "" {
		t.Skip("child process")
	}
	cfg, p, addr := apiDaemonYAML(t, t.TempDir(), practice)
	return &killDaemon{cfg: cfg, p: p, addr: addr, childTest: childTest, env: env}
}

// round is one round of a kill -9 test: the child daemon starts; send
// (given the child's API) makes what the request needs and returns the
// request to post (path, content type, body); the child is SIGKILLed
// before the client reads the answer (when, see killMidRequest), and the
// agent starts again on the same data. restarted, when set, checks it;
// then the client retries the same request with the same Idempotency-Key,
// which must be a replay when the first answer had started. It returns
// the restarted daemon (stop ends it) and the retry's answer.
func (k *killDaemon) round(t *testing.T, when, key string, send func(child *actionWorld) (path, contentType string, body []byte), restarted func(w *actionWorld)) (w *actionWorld, retry answer, stop func()) {
	t.Helper()
	child := startChild(t, k.childTest, k.env, k.p)
	killed := false
	defer func() {
		if !killed {
			_ = child.cmd.Process.Kill()
			child.wait()
		}
	}()
	child.waitFor(t, "LISTENING")
	path, ct, body := send(&actionWorld{base: "http://" + k.addr})
	killMidRequest(t, child, k.addr, path, ct, key, body, when)
	killed = true

	a, base, stop := serveAgent(t, k.cfg, agent.Options{})
	w = &actionWorld{a: a, base: base}
	if restarted != nil {
		restarted(w)
	}
	retry = w.call(t, "POST", path, ct, bytes.NewReader(body), "Idempotency-Key", key)
	if when == "after the answer started" && retry.header.Get("Idempotent-Replayed") != "true" {
		stop()
		t.Fatalf("killed %s: the first attempt was answered, so stored, but the retry (%d) was not a replay", when, retry.status)
	}
	return w, retry, stop
}

// output is what the child has written so far.
func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.out, "\n")
}

// startSims starts the payer simulators for a test that drives them with
// real Chromium; they close when the test ends.
func startSims(t *testing.T, opts payersim.SetOptions) *payersim.Set {
	t.Helper()
	needChromium(t)
	sims, err := payersim.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sims.Close() })
	return sims
}

// getCase reads case id from a's store.
func getCase(t *testing.T, a *agent.Agent, id string) *authpilot.Case {
	t.Helper()
	c, err := a.Store().GetCase(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// simsOnClock starts the simulators (startSims) on an injected clock at
// start; the portals show its time in start's zone.
func simsOnClock(t *testing.T, start time.Time) (*payersim.Set, *clocktest.Fake) {
	t.Helper()
	clock := clocktest.New(start)
	sims := startSims(t, payersim.SetOptions{Now: func() time.Time { return clock.Now().In(start.Location()) }})
	return sims, clock
}

// openAgent makes an agent on cfg with the e2e secrets and no API; it
// closes when the test ends, if the test has not closed it.
func openAgent(t testing.TB, cfg *config.Config) *agent.Agent {
	t.Helper()
	return agenttest.New(t, cfg, agent.Options{Secrets: e2eSecrets(), NoAPI: true})
}

// openAgentAt is openAgent on an injected clock.
func openAgentAt(t *testing.T, cfg *config.Config, clock *clocktest.Fake) *agent.Agent {
	t.Helper()
	return agenttest.New(t, cfg, agent.Options{Secrets: e2eSecrets(), Clock: clock, NoAPI: true})
}

// serveAgent runs an agent on cfg with its API on a loopback port (opts
// without Secrets get the e2e secrets); stop ends the run and closes it.
func serveAgent(t *testing.T, cfg *config.Config, opts agent.Options) (a *agent.Agent, base string, stop func()) {
	t.Helper()
	if opts.Secrets == nil {
		opts.Secrets = e2eSecrets()
	}
	a, stop = agenttest.Serve(t, cfg, opts)
	return a, "http://" + a.Addr(), stop
}

// e2eAgent is an agent without API on the example flows pointed at sims,
// its alerts sent to the alertHook it returns; receiver and agent close
// when the test ends.
func e2eAgent(t *testing.T, sims *payersim.Set) (*agent.Agent, *notifytest.Endpoint) {
	t.Helper()
	hook := alertHook(t, nil)
	a := openAgent(t, writeE2EConfig(t, t.TempDir(), sims.PayerURL, sims.RBMURL, hook.URL))
	return a, hook
}

// alertHook is a real webhook receiver for the agent's alerts, the sink
// agenttest.Webhook and writeE2EConfig configure: it checks their signatures
// (hook-secret) against now, the agent's clock (nil: time.Now).
func alertHook(t *testing.T, now func() time.Time) *notifytest.Endpoint {
	t.Helper()
	return notifytest.NewEndpoint(t, notifytest.EndpointOptions{Secret: e2eWebhook, Now: now})
}

// alertsOf returns the alerts of one type hook received for the case
// caseID ("": for any case), and their bodies.
func alertsOf(hook *notifytest.Endpoint, caseID string, typ authpilot.AlertType) ([]authpilot.Alert, []string) {
	var alerts []authpilot.Alert
	var bodies []string
	for _, r := range hook.Requests() {
		if a := r.Payload().Data.Alert; r.Accepted() && a.Type == typ && (caseID == "" || a.CaseID == caseID) {
			alerts = append(alerts, a)
			bodies = append(bodies, string(r.Body))
		}
	}
	return alerts, bodies
}

// apiDaemonYAML is an idle daemon's config on dir whose API listens on a
// free loopback port (for a child daemon a test kills); it returns the
// config, its file and the address.
func apiDaemonYAML(t *testing.T, dir, practice string) (*config.Config, string, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg, p := idleConfig(t, practice, dir, "idle", "", fmt.Sprintf("server: {listen: %q}\n", addr))
	return cfg, p, addr
}

// runDaemonChild is the body of a child daemon test: it runs the agent on
// the config the parent put in env with its API listening, prints
// LISTENING, and runs until the parent kills it.
func runDaemonChild(t *testing.T, env, parent string) {
	a := agenttest.New(t, childConfig(t, env, parent), agent.Options{Secrets: e2eSecrets()})
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	fmt.Println("LISTENING", a.Addr())
	t.Fatalf("daemon stopped before the kill: %v", a.Run(context.Background()))
}

// createCase stores a case for member (a fusion, code 22612, at
// summit-ma) through the agent's intake and returns its ID.
func createCase(t *testing.T, a *agent.Agent, member string) string {
	t.Helper()
	nc := orderOf(t, member, "summit-ma", "surgery", []string{"22612"}, "M48.062", "1245319599")
	nc.Files = nil
	c, err := a.Intake().Create(context.Background(), nc, "test")
	must(t, err)
	return c.ID
}
