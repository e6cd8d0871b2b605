package chaos

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestLeftoverChromiumCounts shows the leftover count can fail: a process
// whose command line names a Chromium under the run's directory counts
// until it is gone.
func TestLeftoverChromiumCounts(t *testing.T) {
	dir := t.TempDir()
	if n, _ := leftoverChromium(dir); n != 0 {
		t.Fatalf("%d leftovers before anything ran", n)
	}
	// sh names its $0 after the last argument: a stand-in for an orphaned
	// Chromium whose profile is under dir.
	cmd := exec.Command("sh", "-c", "sleep 30; true", filepath.Join(dir, "rod", "chromium-profile"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n, pids := leftoverChromium(dir)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if n != 1 || len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Fatalf("leftovers %d %v, want the stand-in %d", n, pids, cmd.Process.Pid)
	}
	if n, _ := leftoverChromium(dir); n != 0 {
		t.Fatalf("%d leftovers after it ended", n)
	}
}
