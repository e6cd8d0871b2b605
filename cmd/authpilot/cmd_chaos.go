package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/authpilot/authpilot/agent/chaos"
)

// cmdChaos is the fault script behind scripts/chaos; it is not listed in
// the usage (a tool for testing authpilot, not for running it).
func cmdChaos(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("chaos", `chaos [-n KILLS] [-seed S] [--dir DIR] [--settle D] [-v]

Runs the daemon (authpilot run) as a child process against the built-in
simulators, feeds it cases through the API (the same order twice, a
re-import, two cases of one member and code on different dates), and
SIGKILLs it KILLS times during submissions, polls and API posts. After a
last clean run it checks the simulators' records and the store: no
duplicate request at any simulator; every acknowledged case, event,
letter and alert kept; no case holding another member's request. Prints
the figures; exits 1 on any violation. Needs Debian's chromium.`, stderr)
	kills := fs.Int("n", 30, "how many times to SIGKILL the daemon")
	seed := fs.Uint64("seed", 0, "seed of the run's choices (0: from the clock; printed)")
	dir := fs.String("dir", "", "keep the run's files (config, daemon.log, data) in this `directory`")
	settle := fs.Duration("settle", 3*time.Minute, "longest wait for the last clean run to settle")
	verbose := fs.Bool("v", false, "print each kill point as it happens")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fig, err := chaos.Run(ctx, chaos.Options{Kills: *kills, Seed: *seed, Dir: *dir, Settle: *settle, Out: stdout, Verbose: *verbose})
	if err != nil {
		return &exitError{1, fmt.Sprintf("chaos: %v", err)}
	}
	fig.Print(stdout)
	if len(fig.Violations) > 0 || fig.LeftoverChromium > 0 || !fig.Settled {
		return &exitError{1, fmt.Sprintf("chaos: %d violation(s), %d leftover Chromium process(es), settled %v", len(fig.Violations), fig.LeftoverChromium, fig.Settled)}
	}
	return nil
}
