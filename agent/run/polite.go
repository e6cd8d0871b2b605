package run

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/notify"
)

// Politeness towards payers (DESIGN.md, Trust rules): a login that needs a
// person (refused password, refused MFA code, CAPTCHA, any needs_human)
// pauses the connector's logins until a person resumes it or a back-off
// passes (limits.pause, doubling up to limits.pause_max); a payer's
// Retry-After holds its logins until then; and no connector logs in more
// than limits.logins_per_hour times in any hour, retries included. All of
// it lives in the store (ConnectorState), so every run path, every process
// (the daemon, `poll --now`, `submit --now`) and every restart honours it.

// ErrHeld marks a run or login attempt that was not made because the
// connector's logins are paused, held by a Retry-After, or at the hourly
// cap. It is not a connector failure.
var ErrHeld = errors.New("connector logins on hold")

// HoldError says why and until when a connector does not log in.
type HoldError struct {
	Connector string
	// Why is "paused" (for a person), "retry_after" (the payer asked us
	// to come back later) or "login_cap" (logins per hour reached).
	Why    string
	Until  time.Time
	Reason string
}

func (e *HoldError) Error() string {
	s := fmt.Sprintf("connector %s: no login before %s (%s)", e.Connector, e.Until.UTC().Format(time.RFC3339), e.Why)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Is makes errors.Is(err, ErrHeld) true.
func (e *HoldError) Is(target error) bool { return target == ErrHeld }

// Hold reasons.
const (
	HoldPaused     = "paused"
	HoldRetryAfter = "retry_after"
	HoldLoginCap   = "login_cap"
)

// Politeness is one connector's login limits.
type Politeness struct {
	LoginsPerHour int           // limits.logins_per_hour
	Pause         time.Duration // limits.pause
	PauseMax      time.Duration // limits.pause_max
	MaxRetryAfter time.Duration // limits.max_retry_after
}

// holdOf reports whether st keeps the connector from logging in at now.
func HoldOf(st *authpilot.ConnectorState, p Politeness, now time.Time) *HoldError {
	h := &HoldError{Connector: st.ConnectorID}
	switch {
	case st.Paused && now.Before(st.PausedUntil):
		h.Why, h.Until, h.Reason = HoldPaused, st.PausedUntil, st.PauseReason
	case now.Before(st.NotBefore):
		h.Why, h.Until, h.Reason = HoldRetryAfter, st.NotBefore, st.NotBeforeReason
	case p.LoginsPerHour > 0 && st.LoginsSince(now.Add(-time.Hour)) >= p.LoginsPerHour:
		recent := st.Logins[len(st.Logins)-p.LoginsPerHour]
		h.Why, h.Until = HoldLoginCap, recent.Add(time.Hour)
		h.Reason = fmt.Sprintf("%d login attempts in the last hour (limits.logins_per_hour)", st.LoginsSince(now.Add(-time.Hour)))
	default:
		return nil
	}
	return h
}

// pruneLogins keeps the attempts of the last hour (an attempt exactly an
// hour ago no longer counts).
func pruneLogins(st *authpilot.ConnectorState, now time.Time) {
	cut := now.Add(-time.Hour)
	i := 0
	for i < len(st.Logins) && !st.Logins[i].After(cut) {
		i++
	}
	st.Logins = append([]time.Time(nil), st.Logins[i:]...)
}

// held reports whether the connector may not log in now (read only).
func (r *Runner) held(ctx context.Context) (*HoldError, error) {
	st, err := r.store.ConnectorState(ctx, r.id)
	if err != nil {
		return nil, err
	}
	return HoldOf(&st, r.polite, r.now().UTC()), nil
}

// admit decides whether one login attempt may be made now and, if so,
// records it, in one transaction (so two processes cannot both take the
// last attempt of the hour). It returns a *HoldError when not.
func (r *Runner) admit(ctx context.Context) (time.Time, error) {
	now := r.now().UTC()
	var hold *HoldError
	_, err := r.store.UpdateConnectorState(ctx, r.id, func(st *authpilot.ConnectorState) ([]authpilot.Alert, error) {
		pruneLogins(st, now)
		if hold = HoldOf(st, r.polite, now); hold != nil {
			return nil, hold
		}
		st.Logins = append(st.Logins, now)
		return nil, nil
	})
	if hold != nil {
		return now, hold
	}
	if err != nil {
		return now, fmt.Errorf("record login attempt: %w", err)
	}
	return now, nil
}

// loggedIn is called after a successful Open: a visit that reused a live
// login gives its attempt back; a pause whose back-off had passed ends
// (with a resumed alert), and the back-off starts over.
func (r *Runner) loggedIn(ctx context.Context, log *slog.Logger, sess connectors.Session, at time.Time) {
	reused := false
	if lr, ok := sess.(connectors.LoginReuser); ok {
		reused = lr.ReusedLogin()
	}
	now := r.now().UTC()
	_, err := r.store.UpdateConnectorState(ctx, r.id, func(st *authpilot.ConnectorState) ([]authpilot.Alert, error) {
		if reused {
			for i := len(st.Logins) - 1; i >= 0; i-- {
				if st.Logins[i].Equal(at) {
					st.Logins = append(st.Logins[:i:i], st.Logins[i+1:]...)
					break
				}
			}
		}
		st.Strikes = 0
		if !st.Paused {
			return nil, nil
		}
		alert := ResumeAlert(st, now, "a login worked again after the back-off", "Nothing to do; the connector logs in as usual")
		st.Paused = false
		st.ResumedAt, st.ResumedBy = now, "agent:"+r.id
		return []authpilot.Alert{alert}, nil
	})
	if err != nil {
		log.Error("connector state not updated after login", "err", err)
		return
	}
	r.alerts.Kick()
}

// pauseFor pauses the connector's logins after a run error that needs a
// person (auth failure, refused MFA code, CAPTCHA, needs_human at login),
// raising one critical alert per pause. It reports whether it paused.
func (r *Runner) pauseFor(ctx context.Context, log *slog.Logger, runErr error, rec string) bool {
	var class string
	switch {
	case errors.Is(runErr, authpilot.ErrAuth):
		class = "auth"
	case needsHumanAtLogin(runErr):
		class = "needs_human"
	default:
		return false
	}
	ctx = context.WithoutCancel(ctx)
	now := r.now().UTC()
	var st authpilot.ConnectorState
	var err error
	st, err = r.store.UpdateConnectorState(ctx, r.id, func(st *authpilot.ConnectorState) ([]authpilot.Alert, error) {
		if st.Paused && now.Before(st.PausedUntil) {
			return nil, nil // already paused (a run that started before the pause)
		}
		wait := r.polite.Pause
		for i := 0; i < st.Strikes && wait < r.polite.PauseMax; i++ {
			wait *= 2
		}
		wait = min(wait, r.polite.PauseMax)
		st.Strikes++
		st.Paused = true
		st.PauseID = fmt.Sprintf("%d", now.UnixNano())
		st.PausedAt, st.PausedUntil = now, now.Add(wait)
		st.PauseClass, st.PauseReason = class, authpilot.ErrorText(runErr)
		return []authpilot.Alert{PauseAlert(st, rec)}, nil
	})
	if err != nil {
		log.Error("connector not paused", "err", err)
		return false
	}
	log.Error("connector logins paused", "class", class, "until", st.PausedUntil, "strikes", st.Strikes, "recording", rec)
	r.metrics.AlertsRaised.WithLabelValues(string(authpilot.AlertNeedsHuman)).Inc()
	r.alerts.Kick()
	return true
}

// loginError marks a failure to open a session: the login itself failed.
type loginError struct{ error }

func (e *loginError) Unwrap() error { return e.error }

// needsHumanAtLogin reports a needs_human failure of a login: of Open, or
// of a login flow run again inside a visit. A needs_human about one case
// (a missing attachment, a template) does not pause the connector.
func needsHumanAtLogin(err error) bool {
	if !errors.Is(err, authpilot.ErrNeedsHuman) {
		return false
	}
	var le *loginError
	if errors.As(err, &le) {
		return true
	}
	found := false
	var walk func(error)
	walk = func(e error) {
		if e == nil || found {
			return
		}
		if ce, ok := e.(*authpilot.Error); ok && ce.Class == authpilot.ErrNeedsHuman && strings.HasPrefix(ce.Step, "login") {
			found = true
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return found
}

// holdForRetryAfter keeps the connector from logging in until the payer's
// Retry-After (clamped to limits.max_retry_after) has passed.
func (r *Runner) holdForRetryAfter(ctx context.Context, log *slog.Logger, runErr error) {
	d := authpilot.RetryAfterOf(runErr)
	if d <= 0 {
		return
	}
	d = min(d, r.polite.MaxRetryAfter)
	ctx = context.WithoutCancel(ctx)
	now := r.now().UTC()
	until := now.Add(d)
	_, err := r.store.UpdateConnectorState(ctx, r.id, func(st *authpilot.ConnectorState) ([]authpilot.Alert, error) {
		if until.After(st.NotBefore) {
			st.NotBefore = until
			st.NotBeforeReason = "the payer asked to come back later (Retry-After)"
		}
		return nil, nil
	})
	if err != nil {
		log.Error("retry-after not recorded", "err", err)
		return
	}
	log.Warn("payer asked to come back later", "retry_after", d, "until", until)
}

// pauseAlert is the critical needs_human alert of a pause: what happened,
// until when, what to do. Its dedup key is the pause's.
func PauseAlert(st *authpilot.ConnectorState, rec string) authpilot.Alert {
	title := fmt.Sprintf("Connector %s paused: its portal needs a person (%s)", st.ConnectorID, st.PauseClass)
	if st.Strikes > 1 {
		title += fmt.Sprintf(", %d times in a row", st.Strikes)
	}
	action := fmt.Sprintf("authpilot will not log in to this payer until %s UTC, so the practice's account is not locked. "+
		"Log in to the portal by hand (password, MFA code or CAPTCHA), fix the connector's secrets if needed, "+
		"then run `authpilot connector resume %s`", st.PausedUntil.Format("2006-01-02 15:04"), st.ConnectorID)
	return authpilot.Alert{Type: authpilot.AlertNeedsHuman, Severity: authpilot.SeverityCritical, At: st.PausedAt,
		ConnectorID: st.ConnectorID, Recording: rec, Title: title, Action: action, Reason: st.PauseReason,
		DedupKey: "connector_paused:" + st.ConnectorID + ":" + st.PauseID}
}

// resumeAlert is the resolved alert that closes a pause (one per pause),
// routed like the pause's needs_human alert.
func ResumeAlert(st *authpilot.ConnectorState, now time.Time, why, action string) authpilot.Alert {
	a := notify.ResolvedAlert(authpilot.Problem{Opened: st.PausedAt, Alert: PauseAlert(st, "")}, why, now)
	a.Action = action
	a.DedupKey = "connector_resumed:" + st.ConnectorID + ":" + st.PauseID
	return a
}
