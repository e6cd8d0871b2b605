package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/authpilot/authpilot/agent"
)

// cmdConnectorList prints every connector's login state: active, paused
// for a person (until when, why), held by a payer's Retry-After, or at its
// hourly login cap.
func cmdConnectorList(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("connector list", "connector list [--config FILE] [--json]\n\n"+
		"Shows each connector's logins: active, paused after a login that needs a person\n"+
		"(resume with `authpilot connector resume ID`), held by a payer's Retry-After,\n"+
		"or at limits.logins_per_hour. Works while the daemon runs.", stderr)
	path := configFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, st, err := openConfigStore(ctx, *path)
	if err != nil {
		return err
	}
	defer st.Close()
	sts, err := agent.ConnectorStatuses(ctx, st, agent.LimitsOf(cfg), time.Now())
	if err != nil {
		return err
	}
	return writeList(stdout, *asJSON, "connectors", sts, "ID\tKIND\tSTATE\tUNTIL\tLOGINS/H\tREASON", func(c agent.ConnectorStatus) string {
		until := ""
		if !c.Until.IsZero() {
			until = c.Until.Local().Format("2006-01-02 15:04 MST")
		}
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%d/%d\t%s", c.ID, c.Kind, c.State, until, c.LoginsLastHr, c.LoginsPerHour, c.Reason)
	})
}

// cmdConnectorResume lets a paused connector log in again at its next run.
func cmdConnectorResume(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("connector resume", "connector resume ID [--config FILE]\n\n"+
		"Lets a connector paused after a refused password, a refused MFA code, a CAPTCHA\n"+
		"or a payer's Retry-After log in again at its next run (fix its secrets or log in\n"+
		"by hand first). Works while the daemon runs: it reads the pause from the store.", stderr)
	path := configFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{2, "connector resume: want one connector ID"}
	}
	id := fs.Arg(0)
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	if err := knownConnector(cfg, "connector resume", id); err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := agent.ResumeConnector(ctx, st, id, cliActor(), time.Now()); err != nil {
		if errors.Is(err, agent.ErrNotPaused) {
			fmt.Fprintf(stdout, "%s is not paused\n", id)
			return nil
		}
		return err
	}
	fmt.Fprintf(stdout, "%s resumed: it logs in at its next run\n", id)
	return nil
}

// withConnectorCommands adds `connector list|resume` to cmds.
func withConnectorCommands(cmds map[string]command) map[string]command {
	cmds["connector"] = sub(map[string]command{"list": cmdConnectorList, "resume": cmdConnectorResume})
	return cmds
}
