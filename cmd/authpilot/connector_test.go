package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/store"
)

// TestConnectorResumeBesideTheDaemon: `connector list` shows a connector
// the daemon paused (until when, why) and `connector resume` clears the
// pause in the store the daemon keeps open, with one resumed alert.
func TestConnectorResumeBesideTheDaemon(t *testing.T) {
	dir, cfg := exampleSetup(t)
	code, out, errs := run(t, "", "config", "check", "--config", cfg)
	if code != 0 {
		t.Fatalf("config check: %d %s%s", code, out, errs)
	}
	// The daemon's store, open all along, pauses summit-portal.
	ctx := context.Background()
	daemon, err := store.Open(ctx, filepath.Join(dir, "authpilot-data"))
	if err != nil {
		t.Fatal(err)
	}
	defer daemon.Close()
	until := time.Now().Add(time.Hour).UTC()
	if _, err := daemon.UpdateConnectorState(ctx, "summit-portal", func(s *authpilot.ConnectorState) ([]authpilot.Alert, error) {
		s.Paused, s.PauseID, s.PausedAt, s.PausedUntil = true, "p1", time.Now().UTC(), until
		s.PauseReason = "login.steps[5] expect: authentication failed: username or password refused"
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}

	code, out, errs = run(t, "", "connector", "list", "--config", cfg)
	if code != 0 {
		t.Fatalf("connector list: %d %s%s", code, out, errs)
	}
	line := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "summit-portal ") {
			line = l
		}
	}
	if !strings.Contains(line, "paused") || !strings.Contains(line, "password refused") ||
		!strings.Contains(line, until.Local().Format("2006-01-02 15:04")) {
		t.Fatalf("list does not show the pause:\n%s", out)
	}
	if !strings.Contains(out, "clearview-rbm") || !strings.Contains(out, "active") {
		t.Fatalf("list lacks the active connectors:\n%s", out)
	}

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown", []string{"resume", "summit"}, 2, `unknown connector "summit"`},
		{"typo", []string{"resume", "summit-portl"}, 2, `unknown connector "summit-portl" (did you mean "summit-portal"?)`},
		{"no id", []string{"resume"}, 2, "want one connector ID"},
		{"resume", []string{"resume", "summit-portal"}, 0, "summit-portal resumed"},
		{"again", []string{"resume", "summit-portal"}, 0, "summit-portal is not paused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, "", append(append([]string{"connector"}, tt.args...), "--config", cfg)...)
			if code != tt.code || !strings.Contains(out+errs, tt.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s%s", code, tt.code, tt.want, out, errs)
			}
		})
	}
	st, err := daemon.ConnectorState(ctx, "summit-portal")
	if err != nil {
		t.Fatal(err)
	}
	if st.Paused || !strings.HasPrefix(st.ResumedBy, "cli") {
		t.Fatalf("the daemon's store still sees %+v", st)
	}
	n, err := daemon.RouteNew(ctx, func(a authpilot.Alert) []string {
		if a.Type != authpilot.AlertResolved || a.Resolves != authpilot.AlertNeedsHuman || a.ConnectorID != "summit-portal" {
			t.Errorf("unexpected alert %s %s", a.Type, a.Title)
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("%d alerts routed (%v), want the one resumed alert", n, err)
	}
}
