package store

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/filetest"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

var discard = slog.New(slog.DiscardHandler)

func newClock() *clocktest.Fake {
	return clocktest.New(time.Date(2025, 3, 3, 14, 0, 0, 0, time.UTC))
}

// openAt opens the store in dir with a silent logger; the caller closes it.
func openAt(t testing.TB, dir string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, append(opts, WithLogger(discard))...)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

// openTest opens a store in a fresh directory with a fake clock.
func openTest(t testing.TB) (*Store, *clocktest.Fake) {
	t.Helper()
	clk := newClock()
	s := openAt(t, filepath.Join(t.TempDir(), "data"), WithClock(clk.Now))
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, clk
}

// testCase is a case with made-up patient data.
func testCase(id string) *authpilot.Case {
	return &authpilot.Case{
		ID:          id,
		ExternalRef: "ehr-" + id,
		Episode:     "ep-1",
		Patient: authpilot.Patient{
			FirstName: "Test", LastName: "Patient",
			DOB:      authpilot.Date{Year: 1970, Month: time.January, Day: 2},
			MemberID: "M000000",
		},
		Payer:            "aetna",
		PlanType:         authpilot.PlanCommercial,
		ConnectorID:      "availity",
		Track:            authpilot.TrackImaging,
		Urgency:          authpilot.UrgencyStandard,
		OrderingProvider: authpilot.Provider{NPI: "1234567893", Name: "Dr Test"},
		ServiceLines:     []authpilot.ServiceLine{{Code: "72148", Units: 1}},
		Diagnoses:        []string{"M54.16"},
		ServiceDate:      authpilot.Date{Year: 2025, Month: time.April, Day: 1},
		Status:           authpilot.StatusDraft,
	}
}

// mustCreate creates a case with one creation event.
func mustCreate(t testing.TB, s *Store, c *authpilot.Case) {
	t.Helper()
	err := s.CreateCase(context.Background(), c, authpilot.Changes{
		Events: []authpilot.Event{{Type: authpilot.EventCreated, Actor: "test"}},
	})
	if err != nil {
		t.Fatalf("CreateCase(%s): %v", c.ID, err)
	}
}

// count runs a COUNT query on the read connections.
func count(t testing.TB, s *Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.r.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s := openAt(t, dir)
	defer s.Close()

	filetest.Mode(t, dir, 0o700)
	filetest.Mode(t, filepath.Join(dir, "authpilot.db"), 0o600)

	pragmas := []struct {
		name string
		want string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
	}
	for _, p := range pragmas {
		t.Run(p.name, func(t *testing.T) {
			var got string
			if err := s.w.QueryRowContext(ctx, "PRAGMA "+p.name).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != p.want {
				t.Errorf("PRAGMA %s = %q, want %q", p.name, got, p.want)
			}
		})
	}

	t.Run("readers are read-only", func(t *testing.T) {
		if _, err := s.r.ExecContext(ctx, "INSERT INTO job_runs (job, last_run) VALUES ('x', 'y')"); err == nil {
			t.Error("write through a read connection succeeded")
		}
	})
}

func TestOpenRejects(t *testing.T) {
	tests := []struct {
		name string
		dir  func(t *testing.T) string
	}{
		{"empty dir", func(*testing.T) string { return "" }},
		{"question mark", func(t *testing.T) string { return filepath.Join(t.TempDir(), "a?b") }},
		{"file in the way", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.dir(t), WithLogger(discard))
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

func TestTimesAreUTC(t *testing.T) {
	ctx := context.Background()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no tz data: %v", err)
	}
	local := time.Date(2025, 3, 3, 9, 30, 0, 0, ny)
	s, err := Open(ctx, t.TempDir(), WithClock(func() time.Time { return local }), WithLogger(discard))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := testCase("c1")
	sub := time.Date(2025, 3, 2, 8, 0, 0, 0, ny)
	c.SubmittedAt = &sub
	c.Status = authpilot.StatusSubmitted
	mustCreate(t, s, c)
	if err := s.SetLastRun(ctx, "poll", local); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetCase(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.LastRun(ctx, "poll")
	if err != nil {
		t.Fatal(err)
	}
	for name, tm := range map[string]time.Time{
		"created": got.CreatedAt, "updated": got.UpdatedAt, "submitted": *got.SubmittedAt,
		"event": evs[0].At, "last run": last,
	} {
		if tm.Location() != time.UTC {
			t.Errorf("%s time in %v, want UTC", name, tm.Location())
		}
	}
	if !got.CreatedAt.Equal(local) || !got.SubmittedAt.Equal(sub) || !last.Equal(local) {
		t.Errorf("times changed instant: created %v submitted %v last %v", got.CreatedAt, got.SubmittedAt, last)
	}
}

func TestLastRun(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	got, err := s.LastRun(ctx, "digest")
	if err != nil {
		t.Fatal(err)
	}
	if !got.IsZero() {
		t.Errorf("never-run job: LastRun = %v, want zero", got)
	}
	for _, at := range []time.Time{
		time.Date(2025, 3, 3, 7, 0, 0, 123456789, time.UTC),
		time.Date(2025, 3, 4, 7, 0, 0, 0, time.UTC),
	} {
		if err := s.SetLastRun(ctx, "digest", at); err != nil {
			t.Fatal(err)
		}
		got, err := s.LastRun(ctx, "digest")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(at) {
			t.Errorf("LastRun = %v, want %v", got, at)
		}
	}
	if other, _ := s.LastRun(ctx, "poll"); !other.IsZero() {
		t.Errorf("other job: LastRun = %v, want zero", other)
	}
	if err := s.SetLastRun(ctx, "", time.Now()); err == nil {
		t.Error("SetLastRun with empty job succeeded")
	}
}

func TestTimeFormatSorts(t *testing.T) {
	// Stored text must sort like the times; RFC3339Nano does not (it
	// trims trailing zeros).
	base := time.Date(2025, 3, 3, 14, 0, 0, 0, time.UTC)
	times := []time.Time{base, base.Add(500 * time.Millisecond), base.Add(time.Second), base.Add(time.Nanosecond)}
	for i := range times {
		for j := range times {
			a, b := fmtTime(times[i]), fmtTime(times[j])
			if (a < b) != times[i].Before(times[j]) {
				t.Errorf("%s < %s is %v, times say %v", a, b, a < b, times[i].Before(times[j]))
			}
		}
	}
}
