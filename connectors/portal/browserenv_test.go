package portal

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot/connectors"
)

// TestBrowserEnvironmentHasNoSecrets launches a real Chromium through a
// connector while the keyring passphrase (and another secret) sits in the
// process environment, and reads the environment of Chromium, of its
// children and of leakless from /proc: none may hold them.
func TestBrowserEnvironmentHasNoSecrets(t *testing.T) {
	needBrowser(t)
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("no /proc")
	}
	const pass = "Keyring-Passphrase-In-The-Daemon-Env"
	const other = "Another-Daemon-Secret"
	t.Setenv("AUTHPILOT_KEYRING_PASSPHRASE", pass)
	t.Setenv("AUTHPILOT_SOME_API_KEY", other)
	_, srv := newSite(t, time.Now)
	b := NewBrowser(BrowserOptions{}, nil)
	t.Cleanup(func() { _ = b.Close() })
	o := decodeYAML(t, strings.ReplaceAll("base_url: BASE\nflows:\n  home: [{goto: /form.html}, {wait_for: \"#title\"}]\n", "BASE", srv.URL))
	conn, err := o.New(connectors.Env{ID: "env", Resource: b})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := conn.Open(testCtx(t), nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = sess.Close() })
	s := sess.(*Session)
	slot, err := s.page(testCtx(t))
	if err != nil {
		t.Fatalf("page: %v", err)
	}
	if err := s.newRunner(slot, &tmplData{}, "home").runFlow(testCtx(t), o.Flows["home"].Steps); err != nil {
		t.Fatalf("flow: %v", err)
	}
	s.putPage(slot)

	b.mu.Lock()
	chromium := b.launcher.PID()
	b.mu.Unlock()
	pids := map[int]string{chromium: "chromium"}
	if pp := parentPID(t, chromium); pp != os.Getpid() {
		exe, _ := os.Readlink("/proc/" + strconv.Itoa(pp) + "/exe")
		if !strings.Contains(filepath.Base(exe), "leakless") {
			t.Fatalf("chromium's parent %d is %s, neither this process nor leakless", pp, exe)
		}
		pids[pp] = "leakless"
	} else {
		t.Log("chromium runs without leakless")
	}
	for _, pid := range descendants(chromium) {
		pids[pid] = "chromium child"
	}
	if len(pids) < 3 {
		t.Fatalf("found only %v; expected chromium, leakless and chromium's children", pids)
	}
	for pid, what := range pids {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			if os.IsNotExist(err) {
				continue // a short-lived helper exited
			}
			t.Fatalf("%s %d: %v", what, pid, err)
		}
		for _, secret := range []string{pass, other, "AUTHPILOT_KEYRING_PASSPHRASE=", "AUTHPILOT_SOME_API_KEY="} {
			if bytes.Contains(env, []byte(secret)) {
				t.Errorf("%s (pid %d) has %q in its environment", what, pid, strings.TrimSuffix(secret, "="))
			}
		}
		if what != "chromium child" && !bytes.Contains(env, []byte("PATH=")) {
			t.Errorf("%s (pid %d) has no PATH: %q", what, pid, env)
		}
	}
}

func parentPID(t *testing.T, pid int) int {
	t.Helper()
	pp, ok := statPPID(pid)
	if !ok {
		t.Fatalf("read /proc/%d/stat", pid)
	}
	return pp
}

// statPPID reads a process's parent from /proc/PID/stat.
func statPPID(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// descendants lists the processes below pid.
func descendants(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := statPPID(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}
