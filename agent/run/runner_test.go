package run

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/recordings"
	"github.com/authpilot/authpilot/schedules/clocktest"
	"github.com/authpilot/authpilot/store"
)

// scripted is a connector whose next Open fails with err (nil: opens).
type scripted struct {
	mu  sync.Mutex
	err error
}

func (s *scripted) set(err error) { s.mu.Lock(); s.err = err; s.mu.Unlock() }

func (*scripted) Capabilities() connectors.Capabilities { return connectors.Capabilities{Poll: true} }
func (s *scripted) Open(context.Context, connectors.Recorder) (connectors.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return session{}, nil
}
func (*scripted) Close() error { return nil }

type session struct{}

func (session) Submit(context.Context, *authpilot.Case, func(context.Context) error) (*authpilot.Submission, error) {
	return nil, authpilot.ErrUnsupported
}
func (session) Poll(context.Context, []*authpilot.Case) ([]authpilot.Observation, error) {
	return nil, nil
}
func (session) Find(context.Context, *authpilot.Case, time.Time) (*authpilot.Submission, error) {
	return nil, authpilot.ErrNotFound
}
func (session) Close() error { return nil }

type recs struct{ s *recordings.Store }

func (r recs) Start(id, job string) Recording { return r.s.Start(id, job) }

type kicks struct{ n atomic.Int64 }

func (k *kicks) Kick() { k.n.Add(1) }

type noPHI struct{}

func (noPHI) Refresh(context.Context) error { return nil }

// TestRunnerStandalone drives a Runner with no agent at all, only what it
// is handed (a real SQLite store, a fake clock, real recordings, an alert
// sink, metrics, a logger): three failed runs in a row raise one
// connector_failing alert, a run that works resolves it, a refused login
// pauses the connector's logins and the next run makes no login; a flow
// that no longer matches the portal raises portal_changed. Every run is
// counted by outcome and logged with the connector and the run.
func TestRunnerStandalone(t *testing.T) {
	ctx := context.Background()
	clk, st, rs, m := standalone(t)
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	k := &kicks{}
	conn := &scripted{}
	r := testRunner(t, Deps{Store: st, Clock: clk, Recordings: recs{rs}, Alerts: k, PHI: noPHI{}, Metrics: m, Logger: log}, conn)
	newAlerts := func() []string {
		var got []string
		if _, err := st.RouteNew(ctx, func(a authpilot.Alert) []string {
			s := string(a.Type)
			if a.Resolves != "" {
				s += "/" + string(a.Resolves)
			}
			got = append(got, s)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	down := &authpilot.Error{Class: authpilot.ErrRetryable, Step: "login.steps[0] goto", Msg: "HTTP 503"}
	changed := &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: "poll.steps[2] wait_for", Msg: "#status not found"}
	refused := &authpilot.Error{Class: authpilot.ErrAuth, Step: "login.steps[4] expect", Msg: "username or password refused"}
	steps := []struct {
		name    string
		openErr error
		runErr  error // what the job's function returns
		alerts  []string
		held    bool
	}{
		{name: "portal down 1", openErr: down},
		{name: "portal down 2", openErr: down},
		{name: "portal down 3", openErr: down, alerts: []string{"connector_failing"}},
		{name: "portal down 4", openErr: down},
		{name: "works again", alerts: []string{"resolved/connector_failing"}},
		{name: "flow no longer matches", runErr: changed, alerts: []string{"portal_changed"}},
		{name: "password refused", openErr: refused, alerts: []string{"needs_human"}},
		{name: "paused: no login", held: true},
	}
	for _, s := range steps {
		conn.set(s.openErr)
		r.Lock()
		out := r.Run(ctx, "poll", nil, func(context.Context, Visit) error { return s.runErr })
		r.Unlock()
		if (out.Held != nil) != s.held {
			t.Errorf("%s: held = %v, want %v", s.name, out.Held, s.held)
		}
		if got := newAlerts(); fmt.Sprint(got) != fmt.Sprint(s.alerts) {
			t.Errorf("%s: alerts %v, want %v", s.name, got, s.alerts)
		}
		clk.Advance(10 * time.Minute)
	}
	for outcome, want := range map[string]float64{"retryable": 4, "ok": 1, "portal_changed": 1, "auth": 1, "held": 1} {
		if got := value(t, m.Runs.WithLabelValues("payer", "poll", outcome)); got != want {
			t.Errorf("runs with outcome %s: %v, want %v", outcome, got, want)
		}
	}
	if got := value(t, m.Logins.WithLabelValues("payer")); got != 2 {
		t.Errorf("logins %v, want 2 (the run that worked and the one whose flow failed)", got)
	}
	if k.n.Load() == 0 {
		t.Error("the alert sink was never kicked")
	}
	logMu.Lock()
	defer logMu.Unlock()
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(l, "connector run failed") && (!strings.Contains(l, "connector=payer") || !strings.Contains(l, "run=rec_")) {
			t.Errorf("a run's log line without its connector and run: %s", l)
		}
	}
	if !strings.Contains(logs.String(), "connector run failed") {
		t.Errorf("no failed run logged:\n%s", logs.String())
	}
}

// testRunner is connector payer's Runner on d with a minute's timeout and
// room for 100 logins an hour, building conn.
func testRunner(t *testing.T, d Deps, conn connectors.Connector) *Runner {
	t.Helper()
	r, err := New("payer", Limits{Timeout: time.Minute, Polite: Politeness{LoginsPerHour: 100, Pause: time.Hour,
		PauseMax: 24 * time.Hour, MaxRetryAfter: 6 * time.Hour}},
		d, func(connectors.Env) (connectors.Connector, error) { return conn, nil }, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func value(t *testing.T, c prometheus.Counter) float64 {
	var pb dto.Metric
	if err := c.Write(&pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetCounter().GetValue()
}

// standalone is what a Runner is handed in a test: a fake clock, a real
// SQLite store, real recordings and metrics.
func standalone(t *testing.T) (*clocktest.Fake, *store.Store, *recordings.Store, *Metrics) {
	t.Helper()
	clk := clocktest.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	st, err := store.Open(context.Background(), t.TempDir(), store.WithClock(clk.Now), store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rs, err := recordings.Open(t.TempDir(), recordings.Options{Capture: recordings.CaptureOnFailure, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	m := &Metrics{
		Runs:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "runs"}, []string{"connector", "job", "outcome"}),
		Duration:     prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "secs"}, []string{"connector", "job"}),
		Logins:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logins"}, []string{"connector"}),
		AlertsRaised: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "alerts"}, []string{"type"}),
	}
	return clk, st, rs, m
}

// TestFailureStreakSurvivesRestart: the streak of failed runs is the
// store's, not the process's. Two runs fail, the process stops (store
// closed, runner gone); after the restart the next failure is the third in
// a row and raises connector_failing, as it would have without the
// restart, and the health page's count says 3; a run that works ends it.
func TestFailureStreakSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	clk, _, rs, m := standalone(t)
	dir := t.TempDir()
	down := &authpilot.Error{Class: authpilot.ErrRetryable, Step: "login.steps[0] goto", Msg: "HTTP 503"}
	conn := &scripted{}
	start := func() (*Runner, *store.Store) {
		st, err := store.Open(ctx, dir, store.WithClock(clk.Now), store.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		return testRunner(t, Deps{Store: st, Clock: clk, Recordings: recs{rs}, Alerts: &kicks{}, PHI: noPHI{}, Metrics: m}, conn), st
	}
	run := func(r *Runner, st *store.Store, openErr error) []authpilot.AlertType {
		t.Helper()
		conn.set(openErr)
		r.Lock()
		r.Run(ctx, "poll", nil, func(context.Context, Visit) error { return nil })
		r.Unlock()
		clk.Advance(10 * time.Minute)
		var got []authpilot.AlertType
		if _, err := st.RouteNew(ctx, func(a authpilot.Alert) []string { got = append(got, a.Type); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	r, st := start()
	for i := 1; i <= 2; i++ {
		if got := run(r, st, down); len(got) != 0 {
			t.Fatalf("failed run %d raised %v", i, got)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	r, st = start()
	t.Cleanup(func() { st.Close() })
	failed := func() int {
		t.Helper()
		cs, err := st.ConnectorState(ctx, "payer")
		if err != nil {
			t.Fatal(err)
		}
		return cs.FailedRuns
	}
	if n := failed(); n != 2 {
		t.Errorf("after the restart the streak is %d, want 2", n)
	}
	if got := run(r, st, down); len(got) != 1 || got[0] != authpilot.AlertConnectorFailing {
		t.Errorf("the third failure in a row, after a restart, raised %v, want connector_failing", got)
	}
	if n := failed(); n != 3 {
		t.Errorf("streak %d after the third failure, want 3", n)
	}
	run(r, st, nil)
	if n := failed(); n != 0 {
		t.Errorf("streak %d after a run that worked, want 0", n)
	}
}
