package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/notify"
)

// cmdNotifyEnable re-enables a sink disabled after a 410. It writes the
// store only, so it works beside a running daemon, which sees the change
// on its next delivery pass.
func cmdNotifyEnable(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	cfg, fs, _, err := withConfig("notify enable", "notify enable [--config FILE] SINK\n\n"+
		"Re-enables a sink that was disabled because its endpoint answered 410 Gone.\n"+
		"The alerts queued for it meanwhile are kept and delivered: by a running\n"+
		"daemon within 30 seconds, else at the next `authpilot run`. Fix the endpoint\n"+
		"first (`authpilot notify test SINK` checks it).", args, 1, stderr)
	if err != nil {
		return err
	}
	name := fs.Arg(0)
	if err := knownSink(cfg, name); err != nil {
		return &exitError{1, "notify enable: " + err.Error()}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	was, err := st.EnableSink(ctx, name, now, func(p authpilot.Problem) authpilot.Alert {
		return notify.ResolvedAlert(p, "re-enabled with `authpilot notify enable`", now)
	})
	if err != nil {
		return &exitError{1, fmt.Sprintf("notify enable %s: %v", name, err)}
	}
	if !was {
		fmt.Fprintf(stdout, "sink %s is not disabled\n", name)
		return nil
	}
	qs, err := st.SinkQueues(ctx)
	if err != nil {
		return &exitError{1, fmt.Sprintf("notify enable %s: %v", name, err)}
	}
	fmt.Fprintf(stdout, "sink %s enabled; %d alert(s) queued for it will be delivered\n", name, qs[name].Pending)
	return nil
}

// cmdNotifyStatus lists the sinks with their state and queues.
func cmdNotifyStatus(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("notify status", "notify status [--config FILE]\n\n"+
		"Lists the configured sinks: ok, failing or disabled (and why), the alerts\n"+
		"pending for each and the oldest of them, and those given up.", stderr)
	path := configFlag(fs)
	if err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	cfg, st, err := openConfigStore(ctx, *path)
	if err != nil {
		return err
	}
	defer st.Close()
	disabled, err := st.DisabledSinks(ctx)
	if err != nil {
		return &exitError{1, fmt.Sprintf("notify status: %v", err)}
	}
	qs, err := st.SinkQueues(ctx)
	if err != nil {
		return &exitError{1, fmt.Sprintf("notify status: %v", err)}
	}
	problems, err := st.OpenProblems(ctx)
	if err != nil {
		return &exitError{1, fmt.Sprintf("notify status: %v", err)}
	}
	failing := map[string]authpilot.Problem{}
	for _, p := range problems {
		if p.Alert.Type == authpilot.AlertSinkFailing && p.Alert.Sink != "" {
			failing[p.Alert.Sink] = p
		}
	}
	loc := cfg.Location()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SINK\tTYPE\tSTATE\tPENDING\tOLDEST PENDING\tGIVEN UP")
	for _, s := range cfg.Notify.Sinks {
		state := "ok"
		if p, ok := failing[s.Name]; ok {
			state = "failing since " + p.Opened.In(loc).Format("2006-01-02 15:04 MST")
		}
		if reason, ok := disabled[s.Name]; ok {
			state = "disabled (" + reason + "): run `authpilot notify enable " + s.Name + "`"
		}
		q := qs[s.Name]
		oldest := "-"
		if !q.Oldest.IsZero() {
			oldest = q.Oldest.In(loc).Format("2006-01-02 15:04 MST")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\n", s.Name, s.Type, state, q.Pending, oldest, q.Dead)
	}
	return tw.Flush()
}

func knownSink(cfg *config.Config, name string) error {
	var names []string
	for _, s := range cfg.Notify.Sinks {
		if s.Name == name {
			return nil
		}
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return fmt.Errorf("no sink %q: the config has no sinks", name)
	}
	return fmt.Errorf("no sink %q in the config (sinks: %s)", name, strings.Join(names, ", "))
}
