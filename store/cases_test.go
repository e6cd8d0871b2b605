package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
)

func TestCreateCase(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		c       func() *authpilot.Case
		ch      authpilot.Changes
		wantErr error // nil: success; errAny: any error
		// after a failure, what must not be there
		wantEvents, wantAlerts int
	}{
		{
			name: "with events and alerts",
			c:    func() *authpilot.Case { return testCase("new") },
			ch: authpilot.Changes{
				Events: []authpilot.Event{
					{Type: authpilot.EventCreated, Actor: "cli"},
					{Type: authpilot.EventNote, Actor: "cli", Detail: json.RawMessage(`{"k":"v"}`)},
				},
				Alerts: []authpilot.Alert{{Type: authpilot.AlertTest, Title: "hello", CaseID: "new"}},
			},
			wantEvents: 2, wantAlerts: 1,
		},
		{
			name:    "duplicate id",
			c:       func() *authpilot.Case { return testCase("existing") },
			ch:      authpilot.Changes{Events: []authpilot.Event{{Type: authpilot.EventCreated}}, Alerts: []authpilot.Alert{{Type: authpilot.AlertTest}}},
			wantErr: authpilot.ErrConflict,
		},
		{
			name:    "empty id",
			c:       func() *authpilot.Case { return testCase("") },
			wantErr: errAny,
		},
		{
			name:    "invalid status",
			c:       func() *authpilot.Case { c := testCase("bad-status"); c.Status = "bogus"; return c },
			wantErr: errAny,
		},
		{
			name: "event of another case",
			c:    func() *authpilot.Case { return testCase("other-event") },
			ch: authpilot.Changes{
				Events: []authpilot.Event{{Type: authpilot.EventCreated, CaseID: "someone-else"}},
				Alerts: []authpilot.Alert{{Type: authpilot.AlertTest}},
			},
			wantErr: errAny,
		},
		{
			name: "invalid event detail",
			c:    func() *authpilot.Case { return testCase("bad-detail") },
			ch: authpilot.Changes{
				Events: []authpilot.Event{{Type: authpilot.EventNote, Detail: json.RawMessage(`{`)}},
			},
			wantErr: errAny,
		},
		{
			name: "alert without type",
			c:    func() *authpilot.Case { return testCase("bad-alert") },
			ch: authpilot.Changes{
				Events: []authpilot.Event{{Type: authpilot.EventCreated}},
				Alerts: []authpilot.Alert{{Title: "no type"}},
			},
			wantErr: errAny,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := openTest(t)
			mustCreate(t, s, testCase("existing"))
			alertsBefore := count(t, s, "SELECT COUNT(*) FROM alerts")
			c := tt.c()
			err := s.CreateCase(ctx, c, tt.ch)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("CreateCase succeeded")
				}
				if tt.wantErr != errAny && !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				if c.ID != "existing" {
					if got := count(t, s, "SELECT COUNT(*) FROM cases WHERE id = ?", c.ID); got != 0 {
						t.Errorf("failed create left %d case rows", got)
					}
					if c.Version != 0 {
						t.Errorf("failed create set Version %d", c.Version)
					}
				}
				if got := count(t, s, "SELECT COUNT(*) FROM events WHERE case_id != 'existing'"); got != 0 {
					t.Errorf("failed create left %d events", got)
				}
				if got := count(t, s, "SELECT COUNT(*) FROM alerts"); got != alertsBefore {
					t.Errorf("failed create changed alerts from %d to %d", alertsBefore, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("CreateCase: %v", err)
			}
			now := clk.Now()
			if c.Version != 1 || !c.CreatedAt.Equal(now) || !c.UpdatedAt.Equal(now) {
				t.Errorf("case has version %d created %v updated %v, want 1, %v, %v", c.Version, c.CreatedAt, c.UpdatedAt, now, now)
			}
			got, err := s.GetCase(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Errorf("GetCase = %+v\nwant %+v", got, c)
			}
			evs, err := s.Events(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != tt.wantEvents {
				t.Fatalf("%d events, want %d", len(evs), tt.wantEvents)
			}
			for i, e := range evs {
				want := tt.ch.Events[i]
				if e.CaseID != c.ID || !e.At.Equal(now) || e.Type != want.Type || e.Actor != want.Actor || string(e.Detail) != string(want.Detail) {
					t.Errorf("event %d = %+v, want %+v with case %s at %v", i, e, want, c.ID, now)
				}
			}
			if got := count(t, s, "SELECT COUNT(*) FROM alerts WHERE case_id = ?", c.ID); got != tt.wantAlerts {
				t.Errorf("%d alerts, want %d", got, tt.wantAlerts)
			}
			if tt.ch.Events[0].CaseID != "" || !tt.ch.Events[0].At.IsZero() {
				t.Error("CreateCase changed the caller's events")
			}
		})
	}
}

// errAny marks a test case that expects some error.
var errAny = errors.New("any error")

func TestGetCaseNotFound(t *testing.T) {
	s, _ := openTest(t)
	_, err := s.GetCase(context.Background(), "nope")
	if !errors.Is(err, authpilot.ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}

func TestUpdateCase(t *testing.T) {
	ctx := context.Background()
	errFn := errors.New("fn says no")
	// toStatus moves the case to status with a status change event and
	// alert, and returns err.
	toStatus := func(status authpilot.Status, err error) func(c *authpilot.Case) (authpilot.Changes, error) {
		return func(c *authpilot.Case) (authpilot.Changes, error) {
			c.Status = status
			return authpilot.Changes{
				Events: []authpilot.Event{{Type: authpilot.EventStatusChanged}},
				Alerts: []authpilot.Alert{{Type: authpilot.AlertStatusChanged}},
			}, err
		}
	}
	tests := []struct {
		name        string
		id          string
		fn          func(c *authpilot.Case) (authpilot.Changes, error)
		wantErr     error // errors.Is target, or errAny
		wantErrSame bool  // the error must be fn's, unwrapped
		wantTrans   bool  // the error must be a *TransitionError
		check       func(t *testing.T, s *Store, got *authpilot.Case)
	}{
		{
			name: "legal transition with event and alert",
			id:   "c1",
			fn: func(c *authpilot.Case) (authpilot.Changes, error) {
				c.Status = authpilot.StatusReady
				c.StatusText = "ready to go"
				return authpilot.Changes{
					Events: []authpilot.Event{{Type: authpilot.EventStatusChanged, From: authpilot.StatusDraft, To: authpilot.StatusReady, Actor: "api"}},
					Alerts: []authpilot.Alert{{Type: authpilot.AlertStatusChanged, CaseID: c.ID, Title: "ready"}},
				}, nil
			},
			check: func(t *testing.T, s *Store, got *authpilot.Case) {
				if got.Status != authpilot.StatusReady || got.StatusText != "ready to go" || got.Version != 2 {
					t.Errorf("returned case: status %s text %q version %d", got.Status, got.StatusText, got.Version)
				}
				stored, err := s.GetCase(ctx, "c1")
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(stored, got) {
					t.Errorf("stored %+v\nreturned %+v", stored, got)
				}
				evs, _ := s.Events(ctx, "c1")
				if len(evs) != 2 || evs[1].Type != authpilot.EventStatusChanged || evs[1].To != authpilot.StatusReady {
					t.Errorf("events = %+v", evs)
				}
				if n := count(t, s, "SELECT COUNT(*) FROM alerts WHERE type = 'status_changed'"); n != 1 {
					t.Errorf("%d status_changed alerts, want 1", n)
				}
			},
		},
		{
			name: "no status change still bumps version",
			id:   "c1",
			fn: func(c *authpilot.Case) (authpilot.Changes, error) {
				c.LastError = "portal slow"
				return authpilot.Changes{}, nil
			},
			check: func(t *testing.T, s *Store, got *authpilot.Case) {
				if got.Version != 2 || got.LastError != "portal slow" || got.Status != authpilot.StatusDraft {
					t.Errorf("returned case: version %d last error %q status %s", got.Version, got.LastError, got.Status)
				}
			},
		},
		{
			name: "id and created time cannot change",
			id:   "c1",
			fn: func(c *authpilot.Case) (authpilot.Changes, error) {
				c.CreatedAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
				c.Version = 100
				return authpilot.Changes{}, nil
			},
			check: func(t *testing.T, s *Store, got *authpilot.Case) {
				if !got.CreatedAt.Equal(newClock().Now()) || got.Version != 2 {
					t.Errorf("created %v version %d, want creation time kept and version 2", got.CreatedAt, got.Version)
				}
			},
		},
		{
			name:      "illegal transition",
			id:        "c1",
			fn:        toStatus(authpilot.StatusApproved, nil),
			wantErr:   errAny,
			wantTrans: true,
		},
		{
			name: "unknown status",
			id:   "c1",
			fn: func(c *authpilot.Case) (authpilot.Changes, error) {
				c.Status = "bogus"
				return authpilot.Changes{}, nil
			},
			wantErr:   errAny,
			wantTrans: true,
		},
		{
			name:        "fn error",
			id:          "c1",
			fn:          toStatus(authpilot.StatusReady, errFn),
			wantErr:     errFn,
			wantErrSame: true,
		},
		{
			name: "changed id",
			id:   "c1",
			fn: func(c *authpilot.Case) (authpilot.Changes, error) {
				c.ID = "c2"
				return authpilot.Changes{}, nil
			},
			wantErr: errAny,
		},
		{
			name:    "unknown case",
			id:      "nope",
			fn:      func(c *authpilot.Case) (authpilot.Changes, error) { return authpilot.Changes{}, nil },
			wantErr: authpilot.ErrNotFound,
		},
		{
			name: "bad event rolls back",
			id:   "c1",
			fn: func(c *authpilot.Case) (authpilot.Changes, error) {
				c.Status = authpilot.StatusReady
				return authpilot.Changes{Events: []authpilot.Event{{Type: authpilot.EventNote, CaseID: "c9"}}}, nil
			},
			wantErr: errAny,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := openTest(t)
			mustCreate(t, s, testCase("c1"))
			clk.Advance(time.Minute)
			got, err := s.UpdateCase(ctx, tt.id, tt.fn)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("UpdateCase: %v", err)
				}
				if !got.UpdatedAt.Equal(clk.Now()) {
					t.Errorf("UpdatedAt = %v, want %v", got.UpdatedAt, clk.Now())
				}
				tt.check(t, s, got)
				return
			}
			if err == nil {
				t.Fatal("UpdateCase succeeded")
			}
			if got != nil {
				t.Errorf("UpdateCase returned a case with error %v", err)
			}
			if tt.wantErrSame && err != tt.wantErr {
				t.Errorf("err = %#v, want fn's error unchanged", err)
			}
			if tt.wantErr != errAny && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			var te *authpilot.TransitionError
			if tt.wantTrans && !errors.As(err, &te) {
				t.Errorf("err = %v, want a *TransitionError", err)
			}
			// Nothing written.
			c, err := s.GetCase(ctx, "c1")
			if err != nil {
				t.Fatal(err)
			}
			if c.Version != 1 || c.Status != authpilot.StatusDraft || !c.UpdatedAt.Equal(c.CreatedAt) {
				t.Errorf("case changed by a failed update: version %d status %s updated %v", c.Version, c.Status, c.UpdatedAt)
			}
			if n := count(t, s, "SELECT COUNT(*) FROM events"); n != 1 {
				t.Errorf("%d events after a failed update, want 1", n)
			}
			if n := count(t, s, "SELECT COUNT(*) FROM alerts"); n != 0 {
				t.Errorf("%d alerts after a failed update, want 0", n)
			}
		})
	}
}

func TestUpdateCaseConcurrent(t *testing.T) {
	const workers, perWorker = 8, 25
	ctx := context.Background()
	s, _ := openTest(t)
	mustCreate(t, s, testCase("c1"))
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				_, err := s.UpdateCase(ctx, "c1", func(c *authpilot.Case) (authpilot.Changes, error) {
					// A read-modify-write: a lost update shows as a
					// short Units count.
					c.ServiceLines[0].Units++
					return authpilot.Changes{Events: []authpilot.Event{{
						Type: authpilot.EventNote, Actor: "test",
						RawText: fmt.Sprintf("worker %d update %d", w, i),
					}}}, nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	// Reads run alongside the writers.
	for range 20 {
		if _, err := s.GetCase(ctx, "c1"); err != nil {
			t.Errorf("concurrent GetCase: %v", err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("UpdateCase: %v", err)
	}
	c, err := s.GetCase(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + workers*perWorker; c.Version != want {
		t.Errorf("Version = %d, want %d", c.Version, want)
	}
	if want := 1 + workers*perWorker; c.ServiceLines[0].Units != want {
		t.Errorf("Units = %d, want %d (lost updates)", c.ServiceLines[0].Units, want)
	}
	evs, err := s.Events(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + workers*perWorker; len(evs) != want {
		t.Errorf("%d events, want %d", len(evs), want)
	}
}

func TestListCases(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t)
	base := clk.Now()
	type spec struct {
		id        string
		status    authpilot.Status
		payer     string
		connector string
		track     authpilot.Track
		episode   string
		deadlines []time.Duration // from base
	}
	specs := []spec{
		{"a", authpilot.StatusDraft, "aetna", "availity", authpilot.TrackImaging, "ep-1", nil},
		{"b", authpilot.StatusSubmitted, "aetna", "availity", authpilot.TrackSurgery, "ep-1", []time.Duration{48 * time.Hour, 10 * 24 * time.Hour}},
		{"c", authpilot.StatusPended, "uhc", "uhc-portal", authpilot.TrackSurgery, "ep-2", []time.Duration{12 * time.Hour}},
		{"d", authpilot.StatusSubmitted, "uhc", "uhc-portal", authpilot.TrackImaging, "ep-2", []time.Duration{5 * 24 * time.Hour}},
		{"e", authpilot.StatusApproved, "cigna", "evicore", authpilot.TrackImaging, "", nil},
		// Created last but sorts first by ID: the order is creation order.
		{"0", authpilot.StatusCancelled, "bcbs", "bcbs-portal", authpilot.TrackDME, "", nil},
	}
	for _, sp := range specs {
		c := testCase(sp.id)
		c.Status, c.Payer, c.ConnectorID, c.Track, c.Episode = sp.status, sp.payer, sp.connector, sp.track, sp.episode
		mustCreate(t, s, c)
		var ds []authpilot.Deadline
		for _, d := range sp.deadlines {
			ds = append(ds, authpilot.Deadline{Kind: authpilot.DeadlineDecisionDue, Due: base.Add(d)})
		}
		if err := s.SetDeadlines(ctx, sp.id, ds); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
	}
	// An update makes "a" the most recently updated; it stays first.
	if _, err := s.UpdateCase(ctx, "a", func(c *authpilot.Case) (authpilot.Changes, error) { return authpilot.Changes{}, nil }); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		f    authpilot.CaseFilter
		want []string
	}{
		{"all, oldest first", authpilot.CaseFilter{}, []string{"a", "b", "c", "d", "e", "0"}},
		{"statuses", authpilot.CaseFilter{Statuses: []authpilot.Status{authpilot.StatusSubmitted, authpilot.StatusPended}}, []string{"b", "c", "d"}},
		{"payer", authpilot.CaseFilter{Payer: "uhc"}, []string{"c", "d"}},
		{"connector", authpilot.CaseFilter{ConnectorID: "evicore"}, []string{"e"}},
		{"track", authpilot.CaseFilter{Track: authpilot.TrackSurgery}, []string{"b", "c"}},
		{"episode", authpilot.CaseFilter{Episode: "ep-2"}, []string{"c", "d"}},
		{"due before 1 day", authpilot.CaseFilter{DueBefore: base.Add(24 * time.Hour)}, []string{"c"}},
		{"due before 3 days", authpilot.CaseFilter{DueBefore: base.Add(72 * time.Hour)}, []string{"b", "c"}},
		{"due before, exclusive", authpilot.CaseFilter{DueBefore: base.Add(12 * time.Hour)}, nil},
		{"due before 6 days, in another zone", authpilot.CaseFilter{DueBefore: base.Add(6 * 24 * time.Hour).In(time.FixedZone("EST", -5*3600))}, []string{"b", "c", "d"}},
		{"combined", authpilot.CaseFilter{Statuses: []authpilot.Status{authpilot.StatusSubmitted}, DueBefore: base.Add(6 * 24 * time.Hour), Payer: "uhc"}, []string{"d"}},
		{"limit", authpilot.CaseFilter{Limit: 2}, []string{"a", "b"}},
		{"no match", authpilot.CaseFilter{Payer: "humana"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListCases(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range got {
				ids = append(ids, c.ID)
			}
			if !reflect.DeepEqual(ids, tt.want) {
				t.Errorf("ListCases = %v, want %v", ids, tt.want)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t)
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	first := authpilot.Event{
		Type: authpilot.EventCreated, Actor: "import", At: at,
		RawText: "payer words", Recording: "rec-1", Detail: json.RawMessage(`{"payer_ref":"X1"}`),
	}
	if err := s.CreateCase(ctx, testCase("c1"), authpilot.Changes{Events: []authpilot.Event{first}}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, testCase("c2"))
	clk.Advance(time.Hour)
	if _, err := s.UpdateCase(ctx, "c1", func(c *authpilot.Case) (authpilot.Changes, error) {
		c.Status = authpilot.StatusReady
		return authpilot.Changes{Events: []authpilot.Event{
			{Type: authpilot.EventStatusChanged, From: authpilot.StatusDraft, To: authpilot.StatusReady, Actor: "api"},
		}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2", len(evs))
	}
	want0 := first
	want0.ID, want0.CaseID = evs[0].ID, "c1"
	if !reflect.DeepEqual(evs[0], want0) {
		t.Errorf("event 0 = %+v\nwant %+v", evs[0], want0)
	}
	if evs[1].ID <= evs[0].ID || !evs[1].At.Equal(clk.Now()) || evs[1].From != authpilot.StatusDraft || evs[1].To != authpilot.StatusReady {
		t.Errorf("event 1 = %+v", evs[1])
	}
	if _, err := s.Events(ctx, "nope"); !errors.Is(err, authpilot.ErrNotFound) {
		t.Errorf("Events of unknown case: err = %v, want ErrNotFound", err)
	}
	t.Run("append-only", func(t *testing.T) {
		for _, q := range []string{"UPDATE events SET actor = 'x'", "DELETE FROM events"} {
			if _, err := s.w.ExecContext(ctx, q); err == nil {
				t.Errorf("%s succeeded", q)
			}
		}
	})
}

func BenchmarkUpdateCase(b *testing.B) {
	ctx := context.Background()
	s, _ := openTest(b)
	mustCreate(b, s, testCase("c1"))
	for b.Loop() {
		_, err := s.UpdateCase(ctx, "c1", func(c *authpilot.Case) (authpilot.Changes, error) {
			c.LastError = "x"
			return authpilot.Changes{Events: []authpilot.Event{{Type: authpilot.EventPolled, Actor: "bench"}}}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestMarkWatched: a watch is kept on the case without a new version or
// UpdatedAt; unknown IDs are skipped.
func TestMarkWatched(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t)
	if err := s.CreateCase(ctx, testCase("c1"), authpilot.Changes{}); err != nil {
		t.Fatal(err)
	}
	before, err := s.GetCase(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(clk.Now().Add(time.Hour))
	at := clk.Now().Add(123 * time.Millisecond)
	if err := s.MarkWatched(ctx, at, "c1", "nope"); err != nil {
		t.Fatalf("MarkWatched: %v", err)
	}
	got, err := s.GetCase(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.WatchedAt == nil || !got.WatchedAt.Equal(at) {
		t.Errorf("WatchedAt = %v, want %v", got.WatchedAt, at)
	}
	if got.Version != before.Version || !got.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("version %d → %d, updated %v → %v: a watch changed the case", before.Version, got.Version, before.UpdatedAt, got.UpdatedAt)
	}
}
