package web_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/config/secrets"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/store"
)

// BenchmarkIdleRSS measures the resident memory of the daemon (`authpilot
// run`, built from this tree, a child process) with the workspace on and
// 5,000 open cases in its store, after a coordinator signed in and read
// the worklist and five case pages, then left it alone for
// $AUTHPILOT_RSS_QUIET (30s by default): VmRSS from /proc/PID/status
// (issue 12, acceptance 4). The store is seeded as BenchmarkPages's; an
// empty directory in $AUTHPILOT_RSS_DIR keeps the run's files.
//
//	go test ./web -run '^$' -bench IdleRSS -benchtime 1x
func BenchmarkIdleRSS(b *testing.B) {
	quiet := 30 * time.Second
	if v := os.Getenv("AUTHPILOT_RSS_QUIET"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("AUTHPILOT_RSS_QUIET: %v", err)
		}
		quiet = d
	}
	dir := os.Getenv("AUTHPILOT_RSS_DIR") // keeps the daemon's files (config, daemon.log, data)
	if dir == "" {
		dir = b.TempDir()
	}
	bin := filepath.Join(dir, "authpilot")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/authpilot/authpilot/cmd/authpilot").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	sims, err := payersim.Start(payersim.SetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sims.Close() })
	hook := notifytest.NewEndpoint(b, notifytest.EndpointOptions{Secret: hookSecret})
	addr := freeAddr(b)
	if err := os.WriteFile(filepath.Join(dir, "passphrase"), []byte("web-bench-keyring-passphrase\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg := writeConfig(b, dir, sims.PayerURL, sims.RBMURL, hook.URL, nil, fmt.Sprintf(`server: {listen: %q, token_secret: api-token}
keyring: {backend: file, file_dir: %s/keyring, passphrase_env: AUTHPILOT_WEB_BENCH_NO_SUCH_VARIABLE, passphrase_file: %[2]s/passphrase}
`, addr, dir))
	kr, err := secrets.Open(cfg.Keyring.Options())
	if err != nil {
		b.Fatal(err)
	}
	vals := payersim.ExampleSecrets()
	vals["api-token"], vals["hook-secret"] = apiToken, hookSecret
	for name, v := range vals {
		if err := kr.Set(name, v); err != nil {
			b.Fatal(err)
		}
	}

	// Seed the store in this process, then hand it to the daemon.
	a, err := agent.New(cfg, agent.Options{Secrets: authpilot.StaticSecrets(vals), NoAPI: true})
	if err != nil {
		b.Fatal(err)
	}
	seedCases(b, a, time.Now(), 5000)
	w := &world{st: a.Store().(*store.Store), base: "http://" + addr}
	w.addUser(b, "casey", store.RoleCoordinator)
	pending := settleAlerts(b, w.st, 20)
	if err := a.Close(); err != nil {
		b.Fatal(err)
	}

	logf, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "authpilot.yaml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	waitHealthy(b, w.base+"/healthz")

	c, code, _ := w.httpSignIn(b, "casey", password)
	if code != http.StatusSeeOther {
		b.Fatalf("sign-in: %d", code)
	}
	code, body := w.getPage(b, c, "/")
	if code != http.StatusOK {
		b.Fatalf("worklist: %d", code)
	}
	ids := regexp.MustCompile(`href="/cases/([0-9A-Z]+)"`).FindAllStringSubmatch(body, 5)
	if len(ids) < 5 {
		b.Fatalf("worklist links %d cases, want 5", len(ids))
	}
	for _, m := range ids {
		if code, _ := w.getPage(b, c, "/cases/"+m[1]); code != http.StatusOK {
			b.Fatalf("case page: %d", code)
		}
	}
	// The daemon sends the alerts left pending (which loads its store-wide
	// PHI index, as any alert does); idle means after that.
	for len(hook.Alerts()) < pending {
		select {
		case <-hook.Arrived():
		case <-time.After(time.Minute):
			b.Fatalf("the webhook got %d of %d alerts", len(hook.Alerts()), pending)
		}
	}
	served := procKB(b, cmd.Process.Pid, "VmRSS")
	time.Sleep(quiet)
	var rss, hwm int
	for b.Loop() {
		rss, hwm = procKB(b, cmd.Process.Pid, "VmRSS"), procKB(b, cmd.Process.Pid, "VmHWM")
	}
	b.ReportMetric(float64(served)/1000, "MB-RSS-served")
	b.ReportMetric(float64(rss)/1000, "MB-RSS-idle")
	b.ReportMetric(float64(hwm)/1000, "MB-RSS-peak")
}

// settleAlerts marks the seeded alerts delivered to the config's one
// sink, as a daemon that ran all along would have, except the last left:
// it returns how many are pending.
func settleAlerts(tb testing.TB, st *store.Store, left int) int {
	tb.Helper()
	ctx := context.Background()
	if _, err := st.RouteNew(ctx, func(authpilot.Alert) []string { return []string{"ehr"} }); err != nil {
		tb.Fatal(err)
	}
	ds, err := st.PendingDeliveries(ctx, 1_000_000)
	if err != nil {
		tb.Fatal(err)
	}
	left = min(left, len(ds))
	for _, d := range ds[:len(ds)-left] {
		if err := st.MarkDelivered(ctx, d.ID, time.Now()); err != nil {
			tb.Fatal(err)
		}
	}
	return left
}

// freeAddr is a loopback address nobody listens on (just now).
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHealthy waits up to a minute for url to answer 200.
func waitHealthy(tb testing.TB, url string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("%s never answered", url)
}

// procKB reads a "Name: N kB" line of /proc/pid/status.
func procKB(tb testing.TB, pid int, name string) int {
	tb.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatalf("/proc/%d/status has no %s", pid, name)
	return 0
}
