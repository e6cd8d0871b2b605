package portal

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	oexec "os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	leaklessshared "github.com/ysmood/leakless/pkg/shared"

	"github.com/authpilot/authpilot/connectors"
)

// TestBrowserRecycleAndRelaunch runs its own browser (not the package's):
// it recycles after two visits, relaunches after the process dies, and
// bounds pages across portals.
func TestBrowserRecycleAndRelaunch(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, srv := newSite(t, time.Now)
	b := NewBrowser(BrowserOptions{RecycleAfter: 2, MaxPages: 1}, nil)
	t.Cleanup(func() { _ = b.Close() })
	o := decodeYAML(t, strings.ReplaceAll("base_url: BASE\nflows:\n  home: [{goto: /form.html}, {wait_for: \"#title\"}]\n", "BASE", srv.URL))
	conn, err := o.New(connectors.Env{ID: "recycle", Resource: b})
	if err != nil {
		t.Fatal(err)
	}
	gen := func() int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.gen
	}
	visit := func(name string) {
		t.Helper()
		sess, err := conn.Open(testCtx(t), nil)
		if err != nil {
			t.Fatalf("%s: open: %v", name, err)
		}
		s := sess.(*Session)
		slot, err := s.page(testCtx(t))
		if err != nil {
			t.Fatalf("%s: page: %v", name, err)
		}
		// The browser-wide bound (1) refuses a second page.
		if extra, err := s.acquirePage(testCtx(t), false); extra != nil || err != nil {
			t.Errorf("%s: a second page was opened beyond max pages 1 (%v)", name, err)
		}
		if err := s.newRunner(slot, &tmplData{}, "home").runFlow(testCtx(t), o.Flows["home"].Steps); err != nil {
			t.Fatalf("%s: flow: %v", name, err)
		}
		s.putPage(slot)
		if err := s.Close(); err != nil {
			t.Fatalf("%s: close: %v", name, err)
		}
	}
	visit("first")
	visit("second")
	if g := gen(); g != 1 {
		t.Fatalf("generation %d after two visits, want 1", g)
	}
	visit("third")
	if g := gen(); g != 2 {
		t.Errorf("generation %d after the third visit, want 2 (recycled after 2 visits)", g)
	}
	// Chromium dies under us: the next visit relaunches it.
	b.mu.Lock()
	pid := b.launcher.PID()
	b.mu.Unlock()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill chromium: %v", err)
	}
	visit("after kill")
	if g := gen(); g != 3 {
		t.Errorf("generation %d after the browser died, want 3", g)
	}
}

// TestLeaklessGuardRepairedAfterKill reproduces what the chaos script
// found: a daemon killed with SIGKILL while leakless was extracting its
// guard left a half-written, non-executable file, and every later launch
// ran Chromium unguarded (a later kill -9 orphaned it). A child process on
// its own TMPDIR, holding such a file, launches the browser: the guard is
// extracted again and Chromium runs under it.
func TestLeaklessGuardRepairedAfterKill(t *testing.T) {
	if os.Getenv("AUTHPILOT_LEAKLESS_CHILD") != "" {
		t.Skip("child process")
	}
	needBrowser(t)
	tmp := t.TempDir()
	guard := filepath.Join(tmp, fmt.Sprintf("leakless-%s-%s", runtime.GOARCH, leaklessshared.Version), "leakless")
	if err := os.MkdirAll(filepath.Dir(guard), 0o755); err != nil {
		t.Fatal(err)
	}
	// What the kill left: the first 2 MiB, never made executable.
	if err := os.WriteFile(guard, make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(guard, old, old); err != nil {
		t.Fatal(err)
	}
	cmd := oexec.Command(os.Args[0], "-test.run=^TestLeaklessGuardChild$", "-test.v")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "AUTHPILOT_LEAKLESS_CHILD="+guard)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	fi, err := os.Stat(guard)
	if err != nil || fi.Mode()&0o111 == 0 || fi.Size() == 2<<20 {
		t.Fatalf("guard after the launch: %v %v, want a fresh executable", fi.Mode(), err)
	}
}

// TestLeaklessGuardChild is the child of TestLeaklessGuardRepairedAfterKill:
// it launches the browser and checks that Chromium's parent is the guard.
func TestLeaklessGuardChild(t *testing.T) {
	guard := os.Getenv("AUTHPILOT_LEAKLESS_CHILD")
	if guard == "" {
		t.Skip("runs only as the child of TestLeaklessGuardRepairedAfterKill")
	}
	if got := leaklessGuardPath(); got != guard {
		t.Fatalf("guard path %s, want %s", got, guard)
	}
	b := NewBrowser(BrowserOptions{}, slog.New(slog.NewTextHandler(os.Stdout, nil)))
	defer b.Close()
	if _, _, err := b.acquire(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	b.release()
	b.mu.Lock()
	pid := b.launcher.PID()
	b.mu.Unlock()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (in parentheses): state, ppid, ...
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	parent, err := os.Readlink("/proc/" + fields[1] + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	if parent != guard {
		t.Fatalf("Chromium's parent is %s, want the leakless guard %s", parent, guard)
	}
}

func TestRepairLeaklessGuard(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name    string
		mode    os.FileMode
		age     time.Duration
		missing bool
		removed bool
	}{
		{name: "half-written by a killed launch", mode: 0o644, age: time.Minute, removed: true},
		{name: "being written by a launch now", mode: 0o644, age: time.Second},
		{name: "complete", mode: 0o755, age: time.Hour},
		{name: "not extracted yet", missing: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "leakless")
			if !tc.missing {
				if err := os.WriteFile(p, []byte("guard"), tc.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, now.Add(-tc.age), now.Add(-tc.age)); err != nil {
					t.Fatal(err)
				}
			}
			removed, err := repairLeaklessGuard(p, now)
			if err != nil || removed != tc.removed {
				t.Fatalf("removed %v, err %v; want removed %v", removed, err, tc.removed)
			}
			_, statErr := os.Stat(p)
			if exists := statErr == nil; exists != (!tc.missing && !tc.removed) {
				t.Errorf("file exists %v after the repair", exists)
			}
		})
	}
}
