package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/web"
)

func cmdRun(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	cfg, _, _, err := withConfig("run", "run [--config FILE]\n\nRuns the daemon until SIGINT or SIGTERM: the API and the coordinators' workspace\n(sign in at server.external_url or http://<server.listen>/) on server.listen, the\nconnectors' submit and poll schedules, deadline checks and alert delivery.", args, -1, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	for _, w := range cfg.Warnings {
		log.Warn("config warning", "warning", w)
	}
	a, err := agent.New(cfg, agent.Options{Logger: log, Workspace: web.Workspace(web.Options{})})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Listen(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "authpilot %s serving the API and the workspace on %s (listening on %s; data in %s)\n", version, a.BaseURL(), a.Addr(), cfg.DataDir)
	return a.Run(ctx)
}

func cmdPoll(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return runNow(ctx, "poll", "poll --now [--config FILE] [--connector ID]...\n\nRuns one poll sweep now, with progress, and checks deadlines.", args, stdout, stderr)
}

func cmdSubmit(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return runNow(ctx, "submit", "submit --now [--config FILE] [--connector ID]...\n\nSubmits every ready case now (interrupted submissions are reconciled first).", args, stdout, stderr)
}

// runNow runs the poll or submit job of the connectors once, with
// progress, then delivers the alerts it raised.
func runNow(ctx context.Context, job, synopsis string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags(job, synopsis, stderr)
	path := configFlag(fs)
	now := fs.Bool("now", false, job+" now (required; scheduled runs are `authpilot run`)")
	var only multiFlag
	fs.Var(&only, "connector", job+" only this connector `ID` (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !*now {
		fs.Usage()
		return &exitError{2, job + ": pass --now"}
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	for _, id := range only {
		if err := knownConnector(cfg, job+": --connector", id); err != nil {
			return err
		}
	}
	a, err := agent.New(cfg, agent.Options{Logger: newLogger(cfg, stderr), NoAPI: true})
	if err != nil {
		return err
	}
	defer a.Close()
	ids := []string(only)
	if len(ids) == 0 {
		ids = a.Connectors()
	}

	bar := newProgress(stdout, len(ids), job)
	failed := 0
	report := func(r agent.RunResult) {
		status := "ok"
		if r.Held != nil {
			status = "skipped: " + r.Held.Error()
			if r.Held.Why == agent.HoldPaused {
				status += "; run `authpilot connector resume " + r.Connector + "` once fixed"
			}
		}
		if r.Err != nil {
			status = "failed: " + r.Err.Error()
			failed++
		}
		line := fmt.Sprintf("%s: %d cases, %d changed, %d submitted", r.Connector, r.Cases, r.Changed, r.Submitted)
		if r.Rejected > 0 {
			line += fmt.Sprintf(", %d rejected by the payer", r.Rejected)
		}
		bar.Step(line + " — " + status)
	}
	if job == "poll" {
		a.PollNow(ctx, report, ids...)
	} else {
		for _, r := range a.SubmitNow(ctx, ids...) {
			report(r)
		}
	}
	bar.Done()
	if err := a.FlushAlerts(ctx, 30*time.Second); err != nil {
		fmt.Fprintln(stderr, "warning: alerts not all delivered yet; the daemon will retry:", err)
	}
	if failed > 0 {
		return &exitError{1, fmt.Sprintf("%d of %d connectors failed", failed, len(ids))}
	}
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
