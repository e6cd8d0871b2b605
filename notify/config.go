package notify

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authpilot/authpilot"
)

// Sink types.
const (
	TypeSlack   = "slack"
	TypeWebhook = "webhook"
)

// SinkConfig is one place alerts go. The config loader maps authpilot.yaml
// onto it.
type SinkConfig struct {
	Name string
	// Type is TypeSlack or TypeWebhook.
	Type string
	// URL is the endpoint, for a webhook whose URL carries no credential.
	// Exactly one of URL and URLSecret is set; Slack requires URLSecret,
	// since an incoming-webhook URL is itself a credential.
	URL string
	// URLSecret names the keyring secret holding the URL.
	URLSecret string
	// Secret names the keyring secret holding the webhook signing secret
	// ("whsec_" + base64 key). Required for webhooks, unused for Slack.
	Secret string
	// IncludePHI adds the patient, service lines and diagnoses to what the
	// sink receives, and leaves the payer's text in alerts unredacted. Off
	// by default; meant for the practice's own systems. Without it the
	// Dispatcher redacts every PHI value the store knows from the alert.
	IncludePHI bool
	// IncludeOrderRef keeps the alert's order reference (external_ref,
	// often an MRN) for a sink without IncludePHI, which otherwise never
	// receives it. IncludePHI implies it.
	IncludeOrderRef bool
	// Timeout bounds one delivery attempt; zero means DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout bounds one delivery attempt when the sink sets none.
const DefaultTimeout = 10 * time.Second

// Validate checks the sink's own fields (not that its secrets exist).
func (c SinkConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name is required"))
	}
	switch c.Type {
	case TypeSlack:
		if c.URL != "" {
			errs = append(errs, errors.New("url: a Slack webhook URL is a credential: store it in the keyring and name it in url_secret"))
		}
		if c.URLSecret == "" {
			errs = append(errs, errors.New("url_secret is required"))
		}
		if c.Secret != "" {
			errs = append(errs, errors.New("secret: Slack sinks are not signed; remove it"))
		}
	case TypeWebhook:
		switch {
		case c.URL == "" && c.URLSecret == "":
			errs = append(errs, errors.New("one of url and url_secret is required"))
		case c.URL != "" && c.URLSecret != "":
			errs = append(errs, errors.New("url and url_secret are exclusive"))
		}
		if c.Secret == "" {
			errs = append(errs, errors.New("secret (the keyring name of the whsec_ signing secret) is required"))
		}
	default:
		errs = append(errs, fmt.Errorf("type %q: want %q or %q", c.Type, TypeSlack, TypeWebhook))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sink %q: %w", c.Name, err)
	}
	return nil
}

// Route sends the alerts it matches to its sinks. Empty match fields match
// everything; an alert matches when it matches every non-empty field.
type Route struct {
	Types  []authpilot.AlertType
	Payers []string
	Tracks []authpilot.Track
	// MinSeverity keeps alerts at least this severe; empty keeps all.
	MinSeverity authpilot.Severity
	Sinks       []string
	// Continue goes on to the next routes after a match; by default the
	// first matching route wins.
	Continue bool
}

func (r Route) matches(a authpilot.Alert) bool {
	if len(r.Types) > 0 && !slices.Contains(r.Types, a.Type) &&
		(a.Type != authpilot.AlertResolved || !slices.Contains(r.Types, a.Resolves)) {
		// A resolved alert also matches the routes of the type it resolves.
		return false
	}
	if len(r.Payers) > 0 && !slices.Contains(r.Payers, a.Payer) {
		return false
	}
	if len(r.Tracks) > 0 && !slices.Contains(r.Tracks, a.Track) {
		return false
	}
	return severityRank(a.Severity) >= severityRank(r.MinSeverity)
}

// severityRank orders severities; unknown or empty ranks lowest.
func severityRank(s authpilot.Severity) int { return s.Rank() }
