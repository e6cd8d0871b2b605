package recordings

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestPrune(t *testing.T) {
	const retention = 30 * 24 * time.Hour
	// Recordings are made at times out of order, which a clocktest.Fake
	// (it never moves back) cannot tell.
	var recordAt atomic.Pointer[time.Time]
	recordAt.Store(&t0)
	s, err := Open(t.TempDir(), Options{Retention: retention, Now: func() time.Time { return *recordAt.Load() }})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	now := t0
	cutoff := now.Add(-retention) // 2026-01-31 14:05:01 UTC

	record := func(at time.Time, finish bool) string {
		t.Helper()
		recordAt.Store(&at)
		rec := s.Start("c", "poll")
		rec.Step("login", at, nil)
		if finish {
			if err := rec.Finish(nil); err != nil {
				t.Fatal(err)
			}
		}
		return rec.Dir()
	}
	// emptyRecording is a recording directory with neither manifest nor
	// step log: only its day says how old it is.
	emptyRecording := func(day, id string) string {
		t.Helper()
		p := filepath.Join(s.Dir(), day, id)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		return p
	}

	cases := []struct {
		name string
		dir  string
		kept bool
	}{
		{"finished 40 days ago", record(now.Add(-40*24*time.Hour), true), false},
		{"finished 10 days ago", record(now.Add(-10*24*time.Hour), true), true},
		{"incomplete 35 days ago", record(now.Add(-35*24*time.Hour), false), false},
		{"an hour before the cutoff", record(cutoff.Add(-time.Hour), true), false},
		{"an hour after the cutoff, same day", record(cutoff.Add(time.Hour), true), true},
		{"unreadable, old day", emptyRecording("20260115", IDPrefix+"01KF0000000000000000000000"), false},
		{"unreadable, recent day", emptyRecording("20260215", IDPrefix+"01KH0000000000000000000000"), true},
		{"unreadable, cutoff day", emptyRecording("20260131", IDPrefix+"01KG0000000000000000000000"), true},
	}
	other := filepath.Join(s.Dir(), "20260101", "notes.txt") // not a recording: left alone
	if err := os.MkdirAll(filepath.Dir(other), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("no retention keeps everything", func(t *testing.T) {
		keepAll, err := Open(s.Dir(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := keepAll.Prune(now.Add(1000 * 24 * time.Hour)); n != 0 || err != nil {
			t.Errorf("Prune = %d, %v; want 0, nil", n, err)
		}
	})

	n, err := s.Prune(now)
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if n != 4 {
		t.Errorf("Prune removed %d recordings, want 4", n)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := os.Stat(c.dir)
			if kept := err == nil; kept != c.kept {
				t.Errorf("%s kept = %v, want %v (err %v)", c.dir, kept, c.kept, err)
			}
		})
	}
	t.Run("empty day directories removed", func(t *testing.T) {
		for _, day := range []string{"20260115", "20260121", "20260125"} {
			if _, err := os.Stat(filepath.Join(s.Dir(), day)); !os.IsNotExist(err) {
				t.Errorf("day %s still there (err %v)", day, err)
			}
		}
		if _, err := os.Stat(other); err != nil {
			t.Errorf("a file that is not a recording was removed: %v", err)
		}
	})
	t.Run("list after prune", func(t *testing.T) {
		list, err := s.List()
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 4 {
			t.Fatalf("List has %d recordings, want 4: %+v", len(list), list)
		}
		for i := 1; i < len(list); i++ {
			if list[i].Started.After(list[i-1].Started) {
				t.Errorf("List not newest first: %v after %v", list[i].Started, list[i-1].Started)
			}
		}
		unreadable := 0
		for _, s := range list {
			if s.Outcome == OutcomeUnreadable {
				unreadable++
			}
		}
		if unreadable != 2 {
			t.Errorf("%d unreadable recordings listed, want 2", unreadable)
		}
	})
}
