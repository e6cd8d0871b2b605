package notify

import (
	"slices"
	"time"

	"github.com/authpilot/authpilot"
)

// DefaultTimeout bounds one delivery attempt when the sink sets none.
const DefaultTimeout = 10 * time.Second

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
