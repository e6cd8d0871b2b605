package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// daemon is `authpilot run` as a child process, killed and restarted.
type daemon struct {
	bin, config, logPath, tmp string
	apiURL                    string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	// starts and kills count what happened.
	starts, kills int
	// signaled counts exits by SIGKILL that were observed.
	signaled int
}

// start runs the daemon and waits until its API answers /healthz.
func (d *daemon) start(ctx context.Context) error {
	d.mu.Lock()
	if d.cmd != nil {
		d.mu.Unlock()
		return errors.New("daemon already running")
	}
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	fmt.Fprintf(logf, "--- start %d at %s\n", d.starts+1, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(d.bin, "run", "--config", d.config)
	// Chromium's profile and leakless live under TMPDIR: the leftover count
	// at the end looks for this directory in command lines.
	cmd.Env = append(withoutEnv(os.Environ(), "TMPDIR", "AUTHPILOT_CONFIG"), "TMPDIR="+d.tmp)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		d.mu.Unlock()
		return fmt.Errorf("start daemon: %w", err)
	}
	done := make(chan struct{})
	d.cmd, d.done = cmd, done
	d.starts++
	d.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		logf.Close()
		d.mu.Lock()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			d.signaled++
		}
		if d.cmd == cmd {
			d.cmd = nil
		}
		d.mu.Unlock()
		close(done)
	}()

	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.apiURL+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("daemon exited at start-up (%s); see %s", cmd.ProcessState, d.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("daemon API not up after 60s; see %s", d.logPath)
		}
	}
}

// kill SIGKILLs the running daemon, if any, and waits until it is gone.
func (d *daemon) kill() bool {
	d.mu.Lock()
	cmd, done := d.cmd, d.done
	if cmd != nil {
		d.kills++
		_ = cmd.Process.Signal(syscall.SIGKILL)
	}
	d.mu.Unlock()
	if cmd == nil {
		return false
	}
	<-done
	return true
}

// stop ends the daemon cleanly (SIGTERM), killing it after grace.
func (d *daemon) stop(grace time.Duration) error {
	d.mu.Lock()
	cmd, done := d.cmd, d.done
	d.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if !cmd.ProcessState.Success() {
			return fmt.Errorf("daemon stopped with %s; see %s", cmd.ProcessState, d.logPath)
		}
		return nil
	case <-time.After(grace):
		d.kill()
		return fmt.Errorf("daemon did not stop within %s of SIGTERM; killed", grace)
	}
}

func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		keep := true
		for _, n := range names {
			keep = keep && !strings.HasPrefix(kv, n+"=")
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// leftoverChromium counts the processes still running from a Chromium
// started under dir (its profile lives there).
func leftoverChromium(dir string) (int, []int) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	n := 0
	var pids []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmdline, dir) && strings.Contains(strings.ToLower(cmdline), "chrom") {
			var pid int
			fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
			if pid != os.Getpid() {
				n++
				pids = append(pids, pid)
			}
		}
	}
	return n, pids
}
