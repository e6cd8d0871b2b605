package run

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
)

// acting is a connector whose sessions respond and withdraw as scripted.
type acting struct {
	caps  connectors.Capabilities
	obs   authpilot.Observation
	err   error
	calls int
	got   connectors.Response
}

func (a *acting) Capabilities() connectors.Capabilities { return a.caps }
func (a *acting) Open(context.Context, connectors.Recorder) (connectors.Session, error) {
	return actingSession{a: a}, nil
}
func (*acting) Close() error { return nil }

type actingSession struct {
	session
	a *acting
}

func (s actingSession) Respond(_ context.Context, _ *authpilot.Case, r connectors.Response) (authpilot.Observation, error) {
	s.a.calls++
	s.a.got = r
	return s.a.obs, s.a.err
}
func (s actingSession) Withdraw(context.Context, *authpilot.Case, string) (authpilot.Observation, error) {
	s.a.calls++
	return s.a.obs, s.a.err
}

// TestRunnerActions drives Respond and Withdraw through a standalone
// Runner: a missing capability is ErrUnsupported without a login; an
// action is one admitted, counted login with its recording; a session
// that shows another patient's request returns ErrNotThisCase and is not
// a connector failure (three in a row raise no connector_failing); a flow
// that no longer matches raises portal_changed; a paused connector makes
// no login and calls nothing.
func TestRunnerActions(t *testing.T) {
	ctx := context.Background()
	clk, st, rs, m := standalone(t)
	build := func(conn *acting) *Runner {
		r, err := New("payer", Limits{Timeout: time.Minute, Polite: Politeness{LoginsPerHour: 100, Pause: time.Hour,
			PauseMax: 24 * time.Hour, MaxRetryAfter: 6 * time.Hour}},
			Deps{Store: st, Clock: clk, Recordings: recs{rs}, Alerts: &kicks{}, PHI: noPHI{}, Metrics: m},
			func(connectors.Env) (connectors.Connector, error) { return conn, nil }, connectors.Env{})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	alerts := func() []string {
		var got []string
		if _, err := st.RouteNew(ctx, func(a authpilot.Alert) []string { got = append(got, string(a.Type)); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	c := &authpilot.Case{ID: "case1", PayerRef: "SUM-1", Patient: authpilot.Patient{FirstName: "Ada", LastName: "Lovelace",
		MemberID: "W123456789", DOB: authpilot.Date{Year: 1960, Month: 5, Day: 1}}}
	resp := connectors.Response{Note: "op note attached", Files: []authpilot.File{{Name: "a.pdf", Data: []byte("%PDF")}}}

	none := &acting{}
	if _, err := build(none).Respond(ctx, c, resp); !errors.Is(err, connectors.ErrUnsupported) || none.calls != 0 {
		t.Fatalf("respond without the capability: err %v, calls %d; want ErrUnsupported and no call", err, none.calls)
	}
	if _, err := build(none).Withdraw(ctx, c, "no longer needed"); !errors.Is(err, connectors.ErrUnsupported) {
		t.Fatalf("withdraw without the capability: %v", err)
	}
	if got := value(t, m.Logins.WithLabelValues("payer")); got != 0 {
		t.Fatalf("%v logins for unsupported actions, want 0", got)
	}

	conn := &acting{caps: connectors.Capabilities{Respond: true, Withdraw: true},
		obs: authpilot.Observation{Status: authpilot.StatusSubmitted, Shown: &authpilot.Identity{MemberID: "****6789"}}}
	r := build(conn)
	var rec string
	o, err := r.Respond(RecordingTo(ctx, &rec), c, resp)
	if err != nil || o.Status != authpilot.StatusSubmitted || o.CaseID != c.ID || rec == "" || conn.got.Files[0].Name != "a.pdf" {
		t.Fatalf("respond: %+v, recording %q, err %v", o, rec, err)
	}
	conn.obs.Status = authpilot.StatusWithdrawn
	if o, err := r.Withdraw(ctx, c, "patient declined"); err != nil || o.Status != authpilot.StatusWithdrawn {
		t.Fatalf("withdraw: %+v, %v", o, err)
	}
	if got := value(t, m.Logins.WithLabelValues("payer")); got != 2 {
		t.Fatalf("%v logins, want 2 (one per action)", got)
	}

	conn.obs.Shown = &authpilot.Identity{MemberID: "****0000"}
	for i := range 3 {
		_, err := r.Respond(ctx, c, resp)
		if !errors.Is(err, connectors.ErrNotThisCase) {
			t.Fatalf("respond %d on another patient's request: %v, want ErrNotThisCase", i, err)
		}
	}
	if got := alerts(); len(got) != 0 {
		t.Fatalf("alerts %v after identity mismatches, want none (not a connector failure)", got)
	}

	conn.obs.Shown = nil
	conn.err = &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: "respond.steps[1] click", Msg: "#upload not found"}
	if _, err := r.Respond(ctx, c, resp); !errors.Is(err, authpilot.ErrPortalChanged) {
		t.Fatalf("respond on a changed portal: %v", err)
	}
	if got := alerts(); fmt.Sprint(got) != "[portal_changed]" {
		t.Fatalf("alerts %v, want [portal_changed]", got)
	}

	if _, err := st.UpdateConnectorState(ctx, "payer", func(s *authpilot.ConnectorState) ([]authpilot.Alert, error) {
		s.Paused, s.PausedUntil = true, clk.Now().Add(time.Hour)
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	calls := conn.calls
	if _, err := r.Withdraw(ctx, c, "x"); !errors.Is(err, ErrHeld) || conn.calls != calls {
		t.Fatalf("withdraw while paused: %v (calls %d→%d), want ErrHeld and no call", err, calls, conn.calls)
	}
}
