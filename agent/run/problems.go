package run

import (
	"context"
	"log/slog"
	"regexp"
	"strings"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
)

// A connector's run-level alerts (connector_failing, portal_changed,
// needs_human at login) are deduplicated per problem, not per day: the
// problem is the connector, the alert type, the error class and the error
// message with its numbers, IDs and times normalized away. While a problem
// is open its alert is not raised again, however long the outage lasts;
// the connector's next successful run resolves every open problem of the
// connector with a resolved alert, so the next outage, even the same day,
// alerts again.

// connectorProblemPrefix starts the problem keys of a connector.
func connectorProblemPrefix(connID string) string { return "connector:" + connID + ":" }

// connectorProblemKey names the problem of a failed run.
func connectorProblemKey(connID string, typ authpilot.AlertType, class, msg string) string {
	return connectorProblemPrefix(connID) + string(typ) + ":" + class + ":" + NormalizeMessage(msg)
}

var (
	// RFC 3339 and similar date-times, dates, clock times.
	timesRE = regexp.MustCompile(`\d{4}-\d{2}-\d{2}([t ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(z|[+-]\d{2}:?\d{2})?)?|\b\d{1,2}:\d{2}(:\d{2})?\b`)
	// Any word holding a digit: numbers, durations, ULIDs, UUIDs, request
	// IDs, hex digests, status codes.
	numberyRE = regexp.MustCompile(`[a-z0-9_.-]*[0-9][a-z0-9_.-]*`)
	spacesRE  = regexp.MustCompile(`\s+`)
)

// NormalizeMessage keeps what identifies a problem in an error message:
// lower case, times and every word holding a digit replaced by '#', spaces
// collapsed, at most 200 bytes.
func NormalizeMessage(s string) string {
	s = strings.ToLower(s)
	s = timesRE.ReplaceAllString(s, "#")
	s = numberyRE.ReplaceAllString(s, "#")
	s = strings.TrimSpace(spacesRE.ReplaceAllString(s, " "))
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// raiseProblem enqueues a connector's run-level alert unless its problem
// is open already. It reports whether the alert was raised.
func (r *Runner) raiseProblem(ctx context.Context, log *slog.Logger, key string, alert authpilot.Alert) bool {
	raised, err := r.store.RaiseProblem(context.WithoutCancel(ctx), key, alert)
	if err != nil {
		log.Error("alert not enqueued", "type", alert.Type, "err", err)
		return false
	}
	return raised
}

// resolveProblems closes the connector's open problems after a successful
// run, raising a resolved alert for each.
func (r *Runner) resolveProblems(ctx context.Context, log *slog.Logger, job string) {
	now := r.now().UTC()
	n, err := r.store.ResolveProblems(context.WithoutCancel(ctx), connectorProblemPrefix(r.id), func(p authpilot.Problem) authpilot.Alert {
		a := notify.ResolvedAlert(p, "the connector's "+job+" run succeeded", now)
		a.Action = "Nothing to do; authpilot works with this payer again"
		return a
	})
	if err != nil {
		log.Error("problems not resolved", "err", err)
		return
	}
	if n > 0 {
		log.Info("connector works again", "job", job, "resolved", n)
		r.metrics.AlertsRaised.WithLabelValues(string(authpilot.AlertResolved)).Add(float64(n))
		r.alerts.Kick()
	}
}
