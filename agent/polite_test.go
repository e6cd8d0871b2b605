package agent_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/agent/agenttest"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

// countTitled returns how many alerts of typ hook received with a title
// containing part.
func countTitled(hook *notifytest.Endpoint, typ authpilot.AlertType, part string) int {
	alerts, _ := alertsOf(hook, "", typ)
	n := 0
	for _, a := range alerts {
		if strings.Contains(a.Title, part) {
			n++
		}
	}
	return n
}

// politeRig is an agent on an injected clock against the simulators, with
// the example flows and a webhook receiver; secrets can be changed between
// runs (a refused password, a wrong TOTP seed).
type politeRig struct {
	t      *testing.T
	sims   *payersim.Set
	clock  *clocktest.Fake
	cfg    *config.Config
	secret authpilot.StaticSecrets
	a      *agent.Agent
	hook   *notifytest.Endpoint
	caseID string
}

func newPoliteRig(t *testing.T, limits string) *politeRig {
	return newPoliteRigSchedule(t, limits, "")
}

// newPoliteRigSchedule is newPoliteRig with the payer connector's poll on
// a cron spec (no jitter).
func newPoliteRigSchedule(t *testing.T, limits, poll string) *politeRig {
	t.Helper()
	clock := clocktest.New(time.Now().UTC().Truncate(time.Second))
	// The portal's clock is the agent's: TOTP codes stay valid as it moves.
	sims := startSims(t, payersim.SetOptions{Now: clock.Now})
	// Signatures are not checked: their timestamps follow the injected
	// clock, which poll moves on while a run waits.
	hook := notifytest.NewEndpoint(t, notifytest.EndpointOptions{})
	dir := t.TempDir()
	cfg := writeE2EConfig(t, dir, sims.PayerURL, sims.RBMURL, hook.URL)
	if limits != "" || poll != "" {
		// Rewrite the payer connector's limits and schedule and reload
		// through the real loader.
		if limits == "" {
			limits = "{retries: 1}"
		}
		cfg = editE2EConfig(t, dir, summitTail, "schedule: {submit: \"\", poll: \""+poll+"\", jitter: 0s}, limits: "+limits+"}")
	}
	r := &politeRig{t: t, sims: sims, clock: clock, cfg: cfg,
		secret: e2eSecrets(), hook: hook}
	r.start()
	r.caseID = trackRequest(t, r.a, sims, "SHPPOLITE1", &payersim.Outcome{Fate: payersim.FatePend, AfterChecks: 1000}).ID
	return r
}

// start builds the agent (again, after stop: a restart on the same data
// directory).
func (r *politeRig) start() {
	r.t.Helper()
	r.a = agenttest.New(r.t, r.cfg, agent.Options{Secrets: r.secret, Clock: r.clock, NoAPI: true})
}

func (r *politeRig) stop() { must(r.t, r.a.Close()) }

// poll runs one poll of the payer connector, moving the injected clock on
// whenever the run waits (the agent's back-off between login retries).
func (r *politeRig) poll() agent.RunResult {
	r.t.Helper()
	done := make(chan agent.RunResult, 1)
	go func() { done <- r.a.PollNow(context.Background(), nil, "summit-portal")[0] }()
	for {
		select {
		case res := <-done:
			return res
		case <-time.After(20 * time.Millisecond):
			if at, ok := r.clock.NextDue(); ok {
				r.clock.Set(at)
			}
		}
	}
}

func (r *politeRig) stats() payersim.Stats { return r.sims.Payer.Stats() }

func (r *politeRig) flush() {
	r.t.Helper()
	must(r.t, r.a.FlushAlerts(context.Background(), 10*time.Second))
}

// TestRefusedLoginPausesConnector reproduces issue 10 item 6: after a
// refused password, a refused TOTP code or a CAPTCHA the agent logged in
// again on every run (15 times in 60 s). Now the first refusal pauses the
// connector: over many runs the simulator sees exactly one login attempt,
// one pause alert is raised, and a person's resume lets the next run log
// in (one resumed alert).
func TestRefusedLoginPausesConnector(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(r *politeRig)
		fix    func(r *politeRig)
		// attempts counts what the portal saw of the agent's logins.
		attempts func(s payersim.Stats) int
		class    string
	}{
		{"refused password",
			func(r *politeRig) { r.secret["summit-password"] = "not-the-password" },
			func(r *politeRig) { r.secret["summit-password"] = payersim.DefaultPayerPassword },
			func(s payersim.Stats) int { return s.LoginAttempts }, "auth"},
		{"refused TOTP code",
			func(r *politeRig) { r.secret["summit-totp"] = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" },
			func(r *politeRig) { r.secret["summit-totp"] = payersim.DefaultTOTPSecret },
			func(s payersim.Stats) int { return s.MFAAttempts }, "auth"},
		{"captcha",
			func(r *politeRig) { must(r.t, r.sims.Payer.SetFaults(payersim.Faults{Captcha: true})) },
			func(r *politeRig) { must(r.t, r.sims.Payer.SetFaults(payersim.Faults{})) },
			func(s payersim.Stats) int { return s.LoginAttempts }, "needs_human"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newPoliteRig(t, "")
			tt.break_(r)
			r.sims.Payer.ResetStats()
			const runs = 15
			held := 0
			for i := range runs {
				res := r.poll()
				if i == 0 && res.Err == nil {
					t.Fatal("first run logged in through the fault")
				}
				if res.Held != nil && res.Held.Why == agent.HoldPaused {
					held++
				}
				r.clock.Advance(4 * time.Second) // 15 runs in 60 s, as reported
			}
			if got := tt.attempts(r.stats()); got != 1 || held != runs-1 {
				t.Fatalf("%d login attempts at the portal over %d runs in 60 s (%d runs held), want 1 (%d held)", got, runs, held, runs-1)
			}
			r.flush()
			if n := countTitled(r.hook, authpilot.AlertNeedsHuman, "paused"); n != 1 {
				t.Fatalf("%d pause alerts, want 1", n)
			}
			sts, err := r.a.ConnectorStatuses(context.Background())
			must(t, err)
			if sts[0].State != agent.HoldPaused || !strings.Contains(sts[0].Reason, "") || sts[0].Until.Sub(r.clock.Now()) < 59*time.Minute {
				t.Fatalf("status %+v, want paused for about an hour", sts[0])
			}
			if !strings.Contains(sts[0].Reason, tt.class) && tt.class == "needs_human" && !strings.Contains(sts[0].Reason, "CAPTCHA") {
				t.Fatalf("pause reason %q does not say why", sts[0].Reason)
			}

			// A person fixes it and resumes the connector: the next run logs in.
			tt.fix(r)
			if _, err := r.a.ResumeConnector(context.Background(), "summit-portal", "cli:test"); err != nil {
				t.Fatal(err)
			}
			before := r.stats().Logins
			if res := r.poll(); res.Err != nil || res.Held != nil {
				t.Fatalf("run after resume: held %+v, err %v", res.Held, res.Err)
			}
			if got := r.stats().Logins - before; got != 1 {
				t.Fatalf("%d logins after resume, want 1", got)
			}
			r.flush()
			if n := countTitled(r.hook, authpilot.AlertResolved, "Resolved: Connector summit-portal paused"); n != 1 {
				t.Fatalf("%d resumed alerts, want 1", n)
			}
			if _, err := r.a.ResumeConnector(context.Background(), "summit-portal", "cli:test"); !errors.Is(err, agent.ErrNotPaused) {
				t.Fatalf("second resume: %v, want ErrNotPaused", err)
			}
		})
	}
}

// TestPauseBacksOffAndSurvivesRestart: a paused connector tries one login
// after the back-off (1 h), pauses again for twice as long when it fails
// again, keeps the pause across an agent restart on the same data
// directory, and ends the pause (with a resumed alert) when a login after
// the back-off works.
func TestPauseBacksOffAndSurvivesRestart(t *testing.T) {
	r := newPoliteRig(t, "")
	r.secret["summit-password"] = "not-the-password"
	r.sims.Payer.ResetStats()
	attempts := func() int { return r.stats().LoginAttempts }
	steps := []struct {
		name    string
		advance time.Duration
		restart bool
		fix     bool
		want    int // login attempts at the portal so far
		held    bool
	}{
		{"first refusal", 0, false, false, 1, false},
		{"59 min later", 59 * time.Minute, false, false, 1, true},
		{"after a restart", 0, true, false, 1, true},
		{"back-off passed: one try", 2 * time.Minute, false, false, 2, false},
		{"second pause is 2 h: 1 h later still paused", time.Hour, false, false, 2, true},
		{"restart again", 0, true, false, 2, true},
		{"2 h later, fixed: logs in", time.Hour + time.Minute, false, true, 3, false},
		{"and keeps logging in", time.Minute, false, false, 3, false},
	}
	for _, st := range steps {
		r.clock.Advance(st.advance)
		if st.restart {
			r.stop()
			r.start()
		}
		if st.fix {
			r.secret["summit-password"] = payersim.DefaultPayerPassword
		}
		res := r.poll()
		if got := attempts(); got != st.want {
			t.Fatalf("%s: %d login attempts, want %d (held %+v, err %v)", st.name, got, st.want, res.Held, res.Err)
		}
		if (res.Held != nil) != st.held {
			t.Fatalf("%s: held %+v, want held=%v (err %v)", st.name, res.Held, st.held, res.Err)
		}
	}
	r.flush()
	if n := countTitled(r.hook, authpilot.AlertNeedsHuman, "paused"); n != 2 {
		t.Errorf("%d pause alerts, want 2 (one per pause)", n)
	}
	if n := countTitled(r.hook, authpilot.AlertNeedsHuman, "2 times in a row"); n != 1 {
		t.Errorf("the second pause's alert does not say it is the second")
	}
	if n := countTitled(r.hook, authpilot.AlertResolved, "Resolved: Connector summit-portal paused"); n != 1 {
		t.Errorf("%d resumed alerts, want 1", n)
	}
}

// TestMaintenanceRetryAfterIsHonoured reproduces issue 10 item 6: a
// maintenance page's Retry-After: 30 was ignored (14 runs in 60 s). Now no
// page of the portal is loaded before 30 s of the injected clock have
// passed, and the first run after that logs in.
func TestMaintenanceRetryAfterIsHonoured(t *testing.T) {
	r := newPoliteRig(t, "")
	must(t, r.sims.Payer.SetFaults(payersim.Faults{Maintenance: true, RetryAfter: 30 * time.Second}))
	r.sims.Payer.ExpireSessions()
	r.sims.Payer.ResetStats()
	res := r.poll()
	if res.Err == nil {
		t.Fatal("poll succeeded during maintenance")
	}
	loads := r.stats().PageLoads
	if loads == 0 {
		t.Fatal("the first run loaded no page")
	}
	held := 0
	for range 7 {
		r.clock.Advance(4 * time.Second) // up to 28 s
		if res := r.poll(); res.Held != nil && res.Held.Why == agent.HoldRetryAfter {
			held++
		}
	}
	if got := r.stats().PageLoads; got != loads || held != 7 {
		t.Fatalf("%d page loads in 7 runs during the 30 s Retry-After (%d held), want none (7 held)", got-loads, held)
	}
	must(t, r.sims.Payer.SetFaults(payersim.Faults{}))
	r.clock.Advance(3 * time.Second) // 31 s
	if res := r.poll(); res.Err != nil || res.Held != nil {
		t.Fatalf("run after Retry-After: held %+v err %v", res.Held, res.Err)
	}
	if r.stats().Logins != 1 {
		t.Fatalf("%d logins after the Retry-After, want 1", r.stats().Logins)
	}
}

// TestLoginsPerHourCap: no more than limits.logins_per_hour login attempts
// in any hour, counting the retries inside a run; a visit that reuses a
// live session is not a login.
func TestLoginsPerHourCap(t *testing.T) {
	r := newPoliteRig(t, "{retries: 1, logins_per_hour: 4}")
	r.sims.Payer.ResetStats()
	// Reused sessions (kept cookies) do not count: many runs, one login.
	for range 5 {
		if res := r.poll(); res.Err != nil || res.Held != nil {
			t.Fatalf("poll: held %+v err %v", res.Held, res.Err)
		}
		r.clock.Advance(time.Minute)
	}
	if got := r.stats().LoginAttempts; got != 1 {
		t.Fatalf("%d login attempts over 5 runs with a live session, want 1", got)
	}
	// A server error on every sign-in page: each run logs in twice (one
	// retry); after the 4th attempt of the hour (1 login + 3 now) the
	// retry is not made and later runs are held.
	must(t, r.sims.Payer.SetFaults(payersim.Faults{Error500Path: "/dashboard"}))
	r.sims.Payer.ExpireSessions()
	loads := func() int { return r.stats().PageLoadsByRoute["GET /dashboard"] }
	before := loads()
	for range 4 {
		r.poll()
		r.clock.Advance(time.Minute)
	}
	if got := loads() - before; got != 3 {
		t.Fatalf("%d sign-in attempts, want 3 (the cap of 4 per hour, one spent)", got)
	}
	sts, err := r.a.ConnectorStatuses(context.Background())
	must(t, err)
	if sts[0].State != agent.HoldLoginCap || sts[0].LoginsLastHr != 4 {
		t.Fatalf("status %+v, want login_cap with 4 logins", sts[0])
	}
	// An hour after the first of them, a login is allowed again.
	must(t, r.sims.Payer.SetFaults(payersim.Faults{}))
	r.clock.Advance(time.Hour)
	if res := r.poll(); res.Err != nil || res.Held != nil {
		t.Fatalf("poll an hour later: held %+v err %v", res.Held, res.Err)
	}
}

// TestScheduledPollsAfterRefusedPassword: the daemon's own schedule (a
// poll every minute, on the injected clock) makes one login attempt after
// a refused password, however many runs follow.
func TestScheduledPollsAfterRefusedPassword(t *testing.T) {
	r := newPoliteRigSchedule(t, "", "* * * * *")
	r.secret["summit-password"] = "not-the-password"
	r.sims.Payer.ResetStats()
	defer agenttest.Run(t, r.a, nil)()
	ctx := context.Background()
	runs := func() int { return pollRuns(t, r.a, "auth") + pollRuns(t, r.a, "held") }
	const n = 15
	for i := 1; i <= n; i++ {
		next := r.clock.Now().Truncate(time.Minute).Add(time.Minute)
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		err := r.clock.BlockUntilDue(wctx, next)
		wcancel()
		must(t, err)
		r.clock.Set(next)
		// The scheduler records a run when the job has returned.
		deadline := time.Now().Add(60 * time.Second)
		for {
			last, err := r.a.Store().LastRun(ctx, "poll:summit-portal")
			must(t, err)
			if !last.Before(next) && runs() == i {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("scheduled poll %d did not finish (%d runs counted)", i, runs())
			}
			time.Sleep(5 * time.Millisecond) // waiting for the job's goroutine, not for time to pass
		}
	}
	if got := r.stats().LoginAttempts; got != 1 {
		t.Fatalf("%d login attempts over %d scheduled polls, want 1", got, n)
	}
	if held := pollRuns(t, r.a, "held"); held != n-1 {
		t.Fatalf("%d scheduled polls held, want %d", held, n-1)
	}
}

// pollRuns reads authpilot_connector_runs_total for the payer connector's
// polls with outcome.
func pollRuns(t *testing.T, a *agent.Agent, outcome string) int {
	t.Helper()
	mfs, err := a.Metrics().Registry.Gather()
	must(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "authpilot_connector_runs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["connector"] == "summit-portal" && labels["job"] == "poll" && labels["outcome"] == outcome {
				return int(m.GetCounter().GetValue())
			}
		}
	}
	return 0
}
