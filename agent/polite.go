package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent/run"
	"github.com/authpilot/authpilot/config"
)

// Politeness towards payers (DESIGN.md, Trust rules) is the connector
// runner's (run.Runner, agent/run/polite.go): pauses, Retry-After holds and
// the hourly login cap live in the store (ConnectorState), so every run
// path, every process and every restart honours them. This file is the
// side people see: resume a connector, list the connectors' states.

// ErrHeld marks a run or login attempt that was not made because the
// connector's logins are paused, held by a Retry-After, or at the hourly
// cap. It is not a connector failure.
var ErrHeld = run.ErrHeld

// HoldError says why and until when a connector does not log in.
type HoldError = run.HoldError

// Hold reasons.
const (
	HoldPaused     = run.HoldPaused
	HoldRetryAfter = run.HoldRetryAfter
	HoldLoginCap   = run.HoldLoginCap
)

// ErrNotPaused is returned by ResumeConnector for a connector that is
// neither paused nor held by a Retry-After.
var ErrNotPaused = errors.New("connector is not paused")

// ResumeConnector lets a paused connector log in again at its next run: a
// person says the portal is fixed (the password reset, the CAPTCHA
// solved by hand). It clears the pause and any Retry-After hold, starts
// the back-off over and raises one resumed alert per pause; the hourly
// login cap still applies. It works on the store, so the CLI resumes a
// connector of a running daemon.
func ResumeConnector(ctx context.Context, st authpilot.Store, id, actor string, now time.Time) (authpilot.ConnectorState, error) {
	now = now.UTC()
	out, err := st.UpdateConnectorState(ctx, id, func(s *authpilot.ConnectorState) ([]authpilot.Alert, error) {
		if !s.Paused && !now.Before(s.NotBefore) {
			return nil, fmt.Errorf("connector %s: %w", id, ErrNotPaused)
		}
		var alerts []authpilot.Alert
		if s.Paused {
			alerts = append(alerts, run.ResumeAlert(s, now, "resumed by "+actor,
				"Nothing to do; it logs in at its next run"))
		}
		s.Paused, s.Strikes = false, 0
		s.NotBefore, s.NotBeforeReason = time.Time{}, ""
		s.ResumedAt, s.ResumedBy = now, actor
		return alerts, nil
	})
	if err != nil {
		return out, err
	}
	return out, nil
}

// ConnectorStatus is a connector's login state for `connector list`, the
// API and the workspace.
type ConnectorStatus struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// State is "active", "paused" (for a person), "retry_after" or
	// "login_cap"; Until says until when, Reason why.
	State         string    `json:"state"`
	Until         time.Time `json:"until,omitzero"`
	Reason        string    `json:"reason,omitempty"`
	PausedAt      time.Time `json:"paused_at,omitzero"`
	Strikes       int       `json:"strikes,omitempty"`
	LoginsLastHr  int       `json:"logins_last_hour"`
	LoginsPerHour int       `json:"logins_per_hour"`
	ResumedAt     time.Time `json:"resumed_at,omitzero"`
	ResumedBy     string    `json:"resumed_by,omitempty"`
	// FailedRuns is the streak of failed runs (any process, across
	// restarts); the third raises connector_failing.
	FailedRuns int `json:"failed_runs,omitempty"`
}

// ConnectorStatuses reports every configured connector's login state, in
// config order.
func ConnectorStatuses(ctx context.Context, st authpilot.Store, cfgConnectors []ConnectorLimits, now time.Time) ([]ConnectorStatus, error) {
	states, err := st.ConnectorStates(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]*authpilot.ConnectorState{}
	for i := range states {
		byID[states[i].ConnectorID] = &states[i]
	}
	now = now.UTC()
	var out []ConnectorStatus
	for _, c := range cfgConnectors {
		s := byID[c.ID]
		if s == nil {
			s = &authpilot.ConnectorState{ConnectorID: c.ID}
		}
		cs := ConnectorStatus{ID: c.ID, Kind: c.Kind, State: "active", LoginsPerHour: c.polite.LoginsPerHour,
			LoginsLastHr: s.LoginsSince(now.Add(-time.Hour)), ResumedAt: s.ResumedAt, ResumedBy: s.ResumedBy,
			Strikes: s.Strikes, FailedRuns: s.FailedRuns}
		if s.Paused {
			// Past its back-off a paused connector tries one login; it
			// stays "paused" until that login works.
			cs.State, cs.Until, cs.Reason, cs.PausedAt = HoldPaused, s.PausedUntil, s.PauseReason, s.PausedAt
		} else if h := run.HoldOf(s, c.polite, now); h != nil {
			cs.State, cs.Until, cs.Reason = h.Why, h.Until, h.Reason
		}
		out = append(out, cs)
	}
	return out, nil
}

// ConnectorLimits is one configured connector's politeness limits.
type ConnectorLimits struct {
	ID     string
	Kind   string
	polite run.Politeness
}

// LimitsOf returns the configured connectors' limits, in config order.
func LimitsOf(cfg *config.Config) []ConnectorLimits {
	out := make([]ConnectorLimits, 0, len(cfg.Connectors))
	for _, cc := range cfg.Connectors {
		out = append(out, ConnectorLimits{ID: cc.ID, Kind: cc.Kind, polite: politenessOf(cc.Limits)})
	}
	return out
}

func politenessOf(l config.Limits) run.Politeness {
	return run.Politeness{LoginsPerHour: l.LoginsPerHour, Pause: l.Pause.Std(), PauseMax: l.PauseMax.Std(),
		MaxRetryAfter: l.MaxRetryAfter.Std()}
}

// ResumeConnector resumes a configured connector of this agent (see the
// package-level ResumeConnector).
func (a *Agent) ResumeConnector(ctx context.Context, id, actor string) (authpilot.ConnectorState, error) {
	if _, ok := a.runners[id]; !ok {
		return authpilot.ConnectorState{}, fmt.Errorf("resume connector %q: not in the config (one of %s): %w", id, strings.Join(a.order, ", "), authpilot.ErrNotFound)
	}
	st, err := ResumeConnector(ctx, a.store, id, actor, a.now())
	if err == nil {
		a.log.Info("connector resumed", "connector", id, "by", actor)
		a.kickDispatcher()
	}
	return st, err
}

// ConnectorStatuses reports every connector's login state.
func (a *Agent) ConnectorStatuses(ctx context.Context) ([]ConnectorStatus, error) {
	return ConnectorStatuses(ctx, a.store, LimitsOf(a.cfg), a.now())
}

// NextRun is when the connector's submit or poll job runs next (the
// earlier of the two), zero if it has none scheduled.
func (a *Agent) NextRun(connectorID string) time.Time {
	var next time.Time
	if a.sched == nil {
		return next
	}
	for _, job := range []string{"submit:", "poll:"} {
		if at, ok := a.sched.Next(job + connectorID); ok && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next
}
