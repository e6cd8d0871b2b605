package payersim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

const defaultRetryAfter = 10 * time.Minute

// Faults are failures injected into every page (not into /static/ or the
// /_sim/ admin endpoints). The zero value injects nothing.
type Faults struct {
	// SlowPage delays every page and letter by this much (on top of the
	// Latency option).
	SlowPage time.Duration
	// Error500Next answers the next N pages or letters with HTTP 500; it
	// counts down as they are served.
	Error500Next int
	// Error500Path answers every request for this path with HTTP 500; a value
	// ending in "/" matches every path under it.
	Error500Path string
	// ExpireSessionsAfter lets N more pages load, then ends every session
	// (once): the next page redirects to the login page with ?expired=1.
	// 0 is off; use Portal.ExpireSessions to expire at once.
	ExpireSessionsAfter int
	// LayoutVariant changes selectors, as a portal redesign would (see
	// README.md "Layout variant"). Payer: the login button id login-button
	// becomes btn-signin; the list table #auth-list.auth-table becomes
	// #authorization-results.results-grid and its status cells td.col-status
	// become td.col-decision. RBM: the sign-in button #signin-submit becomes
	// #btn-login; the status value dd#order-status becomes dd#case-status; the
	// history div#order-history becomes div#orders-grid and its
	// span.order-status becomes span.order-state.
	LayoutVariant bool
	// Captcha puts a blocking "Verify you are human" page (/verify) after
	// every login's password (payer: after the TOTP) until it is switched off.
	Captcha bool
	// CaptchaCheckbox puts the same page after every login, but it passes
	// once its "I'm not a robot" checkbox is ticked and the form sent: what a
	// person does through the agent's live view of a paused visit.
	CaptchaCheckbox bool
	// Maintenance answers every page with 503, a "scheduled maintenance"
	// body and Retry-After.
	Maintenance bool
	// RetryAfter is the Retry-After of the maintenance page; default 10m.
	RetryAfter time.Duration
}

// faultsJSON is the admin endpoint's form of Faults: durations as strings
// such as "1.5s".
type faultsJSON struct {
	SlowPage            string `json:"slow_page,omitempty"`
	Error500Next        int    `json:"error_500_next,omitempty"`
	Error500Path        string `json:"error_500_path,omitempty"`
	ExpireSessionsAfter int    `json:"expire_sessions_after,omitempty"`
	LayoutVariant       bool   `json:"layout_variant,omitempty"`
	Captcha             bool   `json:"captcha,omitempty"`
	CaptchaCheckbox     bool   `json:"captcha_checkbox,omitempty"`
	Maintenance         bool   `json:"maintenance,omitempty"`
	RetryAfter          string `json:"retry_after,omitempty"`
}

// MarshalJSON writes durations as Go duration strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	j := faultsJSON{
		Error500Next: f.Error500Next, Error500Path: f.Error500Path,
		ExpireSessionsAfter: f.ExpireSessionsAfter, LayoutVariant: f.LayoutVariant,
		Captcha: f.Captcha, CaptchaCheckbox: f.CaptchaCheckbox, Maintenance: f.Maintenance,
	}
	if f.SlowPage != 0 {
		j.SlowPage = f.SlowPage.String()
	}
	if f.RetryAfter != 0 {
		j.RetryAfter = f.RetryAfter.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	out := Faults{
		Error500Next: j.Error500Next, Error500Path: j.Error500Path,
		ExpireSessionsAfter: j.ExpireSessionsAfter, LayoutVariant: j.LayoutVariant,
		Captcha: j.Captcha, CaptchaCheckbox: j.CaptchaCheckbox, Maintenance: j.Maintenance,
	}
	var err error
	if j.SlowPage != "" {
		if out.SlowPage, err = time.ParseDuration(j.SlowPage); err != nil {
			return fmt.Errorf("slow_page: %w", err)
		}
	}
	if j.RetryAfter != "" {
		if out.RetryAfter, err = time.ParseDuration(j.RetryAfter); err != nil {
			return fmt.Errorf("retry_after: %w", err)
		}
	}
	*f = out
	return nil
}

func (f Faults) validate() error {
	switch {
	case f.SlowPage < 0:
		return fmt.Errorf("slow_page: %v is negative", f.SlowPage)
	case f.Error500Next < 0:
		return fmt.Errorf("error_500_next: %d is negative", f.Error500Next)
	case f.ExpireSessionsAfter < 0:
		return fmt.Errorf("expire_sessions_after: %d is negative", f.ExpireSessionsAfter)
	case f.RetryAfter < 0:
		return fmt.Errorf("retry_after: %v is negative", f.RetryAfter)
	}
	return nil
}

// SetFaults replaces the injected faults (the zero Faults clears them) and
// restarts their countdowns.
func (p *Portal) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("set faults: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
	p.expireAt = -1
	if f.ExpireSessionsAfter > 0 {
		p.expireAt = f.ExpireSessionsAfter
	}
	return nil
}

// Faults returns the faults in force, with Error500Next and
// ExpireSessionsAfter counted down to what is left.
func (p *Portal) Faults() Faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.faults
	f.ExpireSessionsAfter = max(p.expireAt, 0)
	return f
}
