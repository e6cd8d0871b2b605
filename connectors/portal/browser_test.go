package portal

import (
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authpilot/authpilot/connectors"
)

// TestBrowserRecycleAndRelaunch runs its own browser (not the package's):
// it recycles after two visits, relaunches after the process dies, and
// bounds pages across portals.
func TestBrowserRecycleAndRelaunch(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, srv := newSite(t, time.Now)
	shared := &connectors.Shared{}
	t.Cleanup(func() { _ = shared.Close() })
	b := NewBrowser(BrowserOptions{RecycleAfter: 2, MaxPages: 1}, nil)
	if _, err := shared.Get(SharedBrowserKey, func() (io.Closer, error) { return b, nil }); err != nil {
		t.Fatal(err)
	}
	o := decodeYAML(t, strings.ReplaceAll("base_url: BASE\nflows:\n  home: [{goto: /form.html}, {wait_for: \"#title\"}]\n", "BASE", srv.URL))
	conn, err := o.New(connectors.Env{ID: "recycle", Shared: shared})
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
