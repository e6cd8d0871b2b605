package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
)

// TestConnectorState: a connector's state and its alerts are written in
// one transaction (nothing when fn fails), an alert's dedup key fires
// once, and the state is read back after a reopen.
func TestConnectorState(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t)
	if st, err := s.ConnectorState(ctx, "summit"); err != nil || st.ConnectorID != "summit" || st.Paused {
		t.Fatalf("unknown connector: %+v %v", st, err)
	}
	at := clk.Now().UTC()
	pause := func(st *authpilot.ConnectorState) ([]authpilot.Alert, error) {
		st.Paused, st.PauseID, st.PausedAt, st.PausedUntil = true, "p1", at, at.Add(time.Hour)
		st.Logins = append(st.Logins, at)
		return []authpilot.Alert{{Type: authpilot.AlertNeedsHuman, ConnectorID: "summit", Title: "paused", DedupKey: "connector_paused:summit:p1"}}, nil
	}
	boom := errors.New("boom")
	if _, err := s.UpdateConnectorState(ctx, "summit", func(st *authpilot.ConnectorState) ([]authpilot.Alert, error) {
		_, _ = pause(st)
		return nil, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failed update: %v", err)
	}
	if st, _ := s.ConnectorState(ctx, "summit"); st.Paused {
		t.Fatal("a failed update was written")
	}
	for range 2 {
		if _, err := s.UpdateConnectorState(ctx, "summit", pause); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.RouteNew(ctx, func(authpilot.Alert) []string { return nil })
	if err != nil || n != 1 {
		t.Fatalf("%d alerts (%v), want the pause's once", n, err)
	}
	dir := s.dir
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, dir, WithClock(clk.Now), WithLogger(discard))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	sts, err := s2.ConnectorStates(ctx)
	if err != nil || len(sts) != 1 {
		t.Fatalf("states after reopen: %+v %v", sts, err)
	}
	st := sts[0]
	if !st.Paused || st.PauseID != "p1" || !st.PausedUntil.Equal(at.Add(time.Hour)) || len(st.Logins) != 2 || st.LoginsSince(at.Add(-time.Minute)) != 2 {
		t.Fatalf("after reopen: %+v", st)
	}
}
