package schedules

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/authpilot/authpilot"
)

// Alert phases, the last part of a deadline alert's DedupKey besides
// "lead=<duration>".
const (
	phaseMissed        = "missed"
	phaseDue           = "due"
	phaseBeforeService = "before-service"
)

// Check returns the deadline alerts that apply to a case at now. It is
// stateless: it returns the same alerts for the same window on every call,
// each with a DedupKey (case ID, kind, due time in UTC RFC 3339, phase), and
// the store keeps each key once, so every alert is delivered exactly once
// however often Check runs and across restarts.
//
// For a deadline due at D with lead times L1 > L2 > … > Ln (the kind's
// KindLeadTimes, else LeadTimes; AuthExpiryWarning for
// authorization_expiry), at most one alert applies at
// any instant — the most urgent whose window contains now:
//
//   - deadline_missed when now ≥ D;
//   - deadline_approaching for Li when D − Li ≤ now < D − Li+1 (for Ln: up
//     to D);
//   - nothing before D − L1.
//
// So a daemon that was down across several windows raises only the current
// one: it does not announce "48 h left" when 20 h are left.
//
// follow_up deadlines raise one deadline_approaching ("follow up with the
// payer") once due and are never missed. authorization_expiry alerts only
// when the approval does not cover the planned service date: with no
// service date, by the lead-time rule above; when the approval lapses before
// the service date, at once (a warning before the expiry warning window
// opens), then by the rule above. An approval that covers the service date
// raises nothing.
func (r Rules) Check(c *authpilot.Case, ds []authpilot.Deadline, now time.Time) []authpilot.Alert {
	if c == nil {
		return nil
	}
	var out []authpilot.Alert
	for _, d := range ds {
		if d.Due.IsZero() || c.Silenced(d.Kind, d.Due, now) {
			continue
		}
		if a, ok := r.check(c, d, now); ok {
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Deadline.Due.Before(out[j].Deadline.Due)
	})
	return out
}

// check returns the one alert that applies to d at now, if any.
func (r Rules) check(c *authpilot.Case, d authpilot.Deadline, now time.Time) (authpilot.Alert, bool) {
	switch d.Kind {
	case authpilot.DeadlineFollowUp:
		if now.Before(d.Due) {
			return authpilot.Alert{}, false
		}
		return r.alert(c, d, now, authpilot.AlertDeadlineApproaching, phaseDue, authpilot.SeverityInfo,
			"Follow-up with the payer due", "Follow up with the payer on the pending request"), true

	case authpilot.DeadlineAuthExpiry:
		lapses := lapsesBeforeService(c)
		if !lapses && !c.ServiceDate.IsZero() {
			return authpilot.Alert{}, false // the approval covers the service date
		}
		warn := r.AuthExpiryWarning
		if p, ok := r.Payers[c.Payer]; ok && p.AuthExpiryWarning != nil {
			warn = *p.AuthExpiryWarning
		}
		phase, lead, ok := window(d.Due, leadTimes([]time.Duration{warn}), now)
		if !ok && lapses {
			return r.alert(c, d, now, authpilot.AlertDeadlineApproaching, phaseBeforeService, authpilot.SeverityWarning,
				"Approval expires before the planned service date",
				"Request an extension or a new authorization, or move the service into the approved dates"), true
		}
		if !ok {
			return authpilot.Alert{}, false
		}
		if phase == phaseMissed {
			return r.alert(c, d, now, authpilot.AlertDeadlineMissed, phase, authpilot.SeverityCritical,
				"Authorization expired", "Request a new authorization before the service is performed"), true
		}
		title := "Authorization expires in " + humanDuration(lead)
		if lapses {
			title += ", before the planned service date"
		}
		return r.alert(c, d, now, authpilot.AlertDeadlineApproaching, phase, approachingSeverity(lead), title,
			"Perform the service before the authorization ends, or request an extension"), true
	}

	phase, lead, ok := window(d.Due, r.leadTimesFor(d.Kind), now)
	if !ok {
		return authpilot.Alert{}, false
	}
	w, ok := wording[d.Kind]
	if !ok {
		w = genericWording(d.Kind)
	}
	missedTitle, approachingTitle := w.missedTitle, fmt.Sprintf(w.approachingTitle, humanDuration(lead))
	if d.Kind == authpilot.DeadlineServiceAtRisk {
		// Due is the escalation point before the service, not the service
		// date, which is PHI: the title says how far ahead of the service
		// the point is, and a sink with include_phi shows the date itself.
		missedTitle = fmt.Sprintf("Service date at risk: still not authorized %d business days before the service", r.ServiceRiskBusinessDays)
		approachingTitle = fmt.Sprintf("Service date at risk in %s (%d business days before the service): not authorized yet",
			humanDuration(lead), r.ServiceRiskBusinessDays)
	}
	if phase == phaseMissed {
		return r.alert(c, d, now, authpilot.AlertDeadlineMissed, phase, authpilot.SeverityCritical, missedTitle, w.missedAction), true
	}
	return r.alert(c, d, now, authpilot.AlertDeadlineApproaching, phase, approachingSeverity(lead),
		approachingTitle, w.approachingAction), true
}

// window finds the phase that contains now for a deadline due at due with
// leads sorted longest first: "missed", "lead=<L>" for the shortest lead L
// with due − L ≤ now, or none.
func window(due time.Time, leads []time.Duration, now time.Time) (phase string, lead time.Duration, ok bool) {
	if !now.Before(due) {
		return phaseMissed, 0, true
	}
	for _, l := range slices.Backward(leads) { // shortest first
		if !now.Before(due.Add(-l)) {
			return "lead=" + humanDuration(l), l, true
		}
	}
	return "", 0, false
}

func approachingSeverity(lead time.Duration) authpilot.Severity {
	if lead <= 24*time.Hour {
		return authpilot.SeverityWarning
	}
	return authpilot.SeverityInfo
}

type alertWording struct {
	approachingTitle, approachingAction, missedTitle, missedAction string
}

// wording is the Title (with %s for the lead) and Action of each kind's
// alerts. None holds PHI.
var wording = map[authpilot.DeadlineKind]alertWording{
	authpilot.DeadlineDecisionDue: {
		"Payer decision due in %s", "Check the request's status with the payer; escalate if no decision comes by the due time",
		"Payer decision overdue", "Contact the payer: the decision deadline has passed; escalate, or complain to the regulator",
	},
	authpilot.DeadlineServiceAtRisk: {
		"Service date at risk in %s: not authorized yet", "Escalate the request with the payer or move the service date",
		"Service date at risk: still not authorized", "Ask the payer for an expedited review, or reschedule the service",
	},
	authpilot.DeadlinePeerToPeer: {
		"Peer-to-peer window closes in %s", "Schedule the peer-to-peer with the medical director",
		"Peer-to-peer window closed", "File an appeal before the appeal deadline",
	},
	authpilot.DeadlineAppeal: {
		"Appeal filing deadline in %s", "File the appeal with the payer",
		"Appeal filing deadline passed", "Ask the payer about a late appeal for good cause, or an external review",
	},
	authpilot.DeadlineInfoResponse: {
		"Response to the payer's information request due in %s", "Send the requested documents (authpilot case respond)",
		"Response to the payer's information request overdue", "Send the documents now and call the payer; the request may be denied for lack of information",
	},
	authpilot.DeadlinePeerToPeerCall: {
		"Peer-to-peer in %s", "Prepare the ordering physician for the call with the payer's medical director",
		"Peer-to-peer time reached", "Record the peer-to-peer's outcome (authpilot case p2p)",
	},
	authpilot.DeadlineAppealDecision: {
		"Appeal decision due in %s", "Check the appeal's status with the payer",
		"Appeal decision overdue", "Contact the payer: the appeal's decision deadline has passed; consider an external review or a complaint",
	},
}

// genericWording words the alerts of a deadline kind this version does
// not know (one added to the domain before its wording).
func genericWording(k authpilot.DeadlineKind) alertWording {
	return alertWording{
		"Deadline " + string(k) + " in %s", "Check the case before the deadline",
		"Deadline " + string(k) + " passed", "Check the case",
	}
}

// alert builds a deadline alert for c. It carries no PHI: case ID, the
// practice's reference, payer, connector, track, status and the deadline.
func (r Rules) alert(c *authpilot.Case, d authpilot.Deadline, now time.Time, typ authpilot.AlertType, phase string,
	sev authpilot.Severity, title, action string) authpilot.Alert {
	dl := d
	return authpilot.Alert{
		Type:        typ,
		Severity:    sev,
		At:          now,
		DedupKey:    DedupKey(c.ID, d, phase),
		CaseID:      c.ID,
		ExternalRef: c.ExternalRef,
		Payer:       c.Payer,
		ConnectorID: c.ConnectorID,
		Track:       c.Track,
		Status:      c.Status,
		Title:       title,
		Action:      action,
		Deadline:    &dl,
	}
}

// DedupKey is the key that makes a deadline alert fire once: the case, the
// deadline's kind and due time (UTC, RFC 3339) and the phase ("lead=48h",
// "missed", "due", "before-service"). A deadline that moves gets new keys.
func DedupKey(caseID string, d authpilot.Deadline, phase string) string {
	return "deadline/" + caseID + "/" + string(d.Kind) + "/" + d.Due.UTC().Format(time.RFC3339) + "/" + phase
}

// Digest returns the daily digest alert with its items sorted by due time
// (items without a deadline last). Its DedupKey names now's date, so a
// digest goes out once a day however often it is built.
func Digest(now time.Time, items []authpilot.DigestItem) authpilot.Alert {
	sorted := slices.Clone(items)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i].Deadline, sorted[j].Deadline
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case !a.Due.Equal(b.Due):
			return a.Due.Before(b.Due)
		}
		return sorted[i].CaseID < sorted[j].CaseID
	})
	passed := 0
	for _, it := range sorted {
		if it.Deadline != nil && !now.Before(it.Deadline.Due) {
			passed++
		}
	}
	title := fmt.Sprintf("Daily digest: %d open item%s", len(sorted), plural(len(sorted)))
	if passed > 0 {
		title += fmt.Sprintf(", %d past due", passed)
	}
	return authpilot.Alert{
		Type:     authpilot.AlertDigest,
		Severity: authpilot.SeverityInfo,
		At:       now,
		DedupKey: "digest/" + now.Format(time.DateOnly),
		Title:    title,
		Action:   "Review today's deadlines",
		Items:    sorted,
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
