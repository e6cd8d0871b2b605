package authpilot

import "time"

// ConnectorState is what the agent remembers about its use of one
// connector's payer, so that it stays polite across runs, processes and
// restarts: a pause of its logins until a person resumes it (or a back-off
// passes), a Retry-After hold from a maintenance page, and the login
// attempts of the last hour. It holds no PHI and no secret.
type ConnectorState struct {
	ConnectorID string `json:"connector"`
	// Paused is set after a login that needs a person (auth failure,
	// refused MFA code, CAPTCHA, needs_human): no login is tried before
	// PausedUntil, and none at all once a person resumes it until then.
	Paused bool `json:"paused"`
	// PauseID names this pause; its alerts are deduplicated by it.
	PauseID     string    `json:"pause_id,omitempty"`
	PausedAt    time.Time `json:"paused_at,omitzero"`
	PausedUntil time.Time `json:"paused_until,omitzero"`
	// PauseClass is the error class that paused it (auth, needs_human);
	// PauseReason the connector's message (no PHI, no secret).
	PauseClass  string `json:"pause_class,omitempty"`
	PauseReason string `json:"pause_reason,omitempty"`
	// Strikes counts pauses since the last successful login; the back-off
	// doubles with each.
	Strikes int `json:"strikes,omitempty"`
	// NotBefore is when the payer said to come back (Retry-After of a
	// maintenance page or a 503); no login before it.
	NotBefore       time.Time `json:"not_before,omitzero"`
	NotBeforeReason string    `json:"not_before_reason,omitempty"`
	// Logins are the login attempts of the last hour, oldest first.
	Logins []time.Time `json:"logins,omitempty"`
	// FailedRuns counts the connector's runs in a row that failed (0
	// after one that worked), in every process and across restarts: the
	// third raises connector_failing.
	FailedRuns int `json:"failed_runs,omitempty"`
	// ResumedAt and ResumedBy record the last resume.
	ResumedAt time.Time `json:"resumed_at,omitzero"`
	ResumedBy string    `json:"resumed_by,omitempty"`
}

// LoginsSince counts the login attempts after t.
func (s *ConnectorState) LoginsSince(t time.Time) int {
	n := 0
	for _, at := range s.Logins {
		if at.After(t) {
			n++
		}
	}
	return n
}
