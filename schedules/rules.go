package schedules

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/authpilot/authpilot"
)

// Day is 24 hours. A configured standard decision timeframe, appeal window
// or follow-up cadence that is whole days is counted in calendar days of the
// practice's zone (the same clock time n days later, whatever a DST change
// does to the hours between); expedited timeframes and other durations are
// exact.
const Day = 24 * time.Hour

// Rules are the deadline rules of a practice: the federal defaults, its own
// habits, and per-payer overrides. The zero value computes only the
// deadlines that need no setting; start from DefaultRules.
type Rules struct {
	// LeadTimes are when deadline_approaching fires before a deadline, e.g.
	// 48h and 24h. Authorization expiry uses AuthExpiryWarning instead.
	LeadTimes []time.Duration
	// KindLeadTimes override LeadTimes for one deadline kind (e.g.
	// appeal_filing 7d and 2d ahead); a kind not listed uses LeadTimes.
	// follow_up (due when due) and authorization_expiry (AuthExpiryWarning)
	// take none.
	KindLeadTimes map[authpilot.DeadlineKind][]time.Duration
	// FollowUpEvery is the follow-up cadence while a decision is pending,
	// counted from submission; 0 turns follow-ups off.
	FollowUpEvery time.Duration
	// ServiceRiskBusinessDays is how many business days before the planned
	// service date an unauthorized case becomes at risk.
	ServiceRiskBusinessDays int
	// AuthExpiryWarning is how long before an authorization's validity ends
	// the warning fires.
	AuthExpiryWarning time.Duration
	// PeerToPeerBusinessDays is the default peer-to-peer window after a
	// denial, partial approval or modification notice, in federal business
	// days; 0 means no window unless a payer sets one (there is no
	// federal rule).
	PeerToPeerBusinessDays int
	// Payers overrides the defaults by payer ID (Case.Payer).
	Payers map[string]PayerRules
}

// PayerRules are one payer's overrides; a nil field keeps the default.
type PayerRules struct {
	DecisionStandard  *time.Duration
	DecisionExpedited *time.Duration
	// Appeal is the appeal-filing window after the notice; whole days.
	Appeal            *time.Duration
	AuthExpiryWarning *time.Duration
	// PeerToPeerBusinessDays is the payer's peer-to-peer window; 0 turns
	// the deadline off for this payer.
	PeerToPeerBusinessDays *int
	// ClosedDays are the payer's own non-business days beyond the federal
	// holidays; its business-day windows skip them (never the practice's).
	ClosedDays []authpilot.Date
}

// DefaultRules returns the defaults of DESIGN.md: warnings 48 h and 24 h
// ahead, weekly follow-ups, service date at risk 5 business days ahead, an
// authorization-expiry warning 14 days ahead and a 7-business-day
// peer-to-peer window.
func DefaultRules() Rules {
	return Rules{
		LeadTimes:               []time.Duration{48 * time.Hour, 24 * time.Hour},
		FollowUpEvery:           7 * Day,
		ServiceRiskBusinessDays: 5,
		AuthExpiryWarning:       14 * Day,
		PeerToPeerBusinessDays:  7,
	}
}

// span is a rule's time allowance: business days, calendar days (the same
// clock time n days later in the practice's zone, whatever a DST change
// does to the hours between), or an exact duration.
type span struct {
	d            time.Duration
	days         int
	businessDays int
}

// after returns t plus the span, in the calendar's zone.
func (s span) after(t time.Time, cal *Calendar) time.Time {
	switch {
	case s.businessDays != 0:
		return cal.AddBusinessDays(t, s.businessDays)
	case s.days != 0:
		return t.In(cal.Location()).AddDate(0, 0, s.days)
	}
	return t.Add(s.d).In(cal.Location())
}

// daySpan reads a configured duration as calendar days when it is whole
// days, else as an exact duration.
func daySpan(d time.Duration) span {
	if d%Day == 0 {
		return span{days: int(d / Day)}
	}
	return span{d: d}
}

// addDuration adds d to t; whole days are calendar days in loc.
func addDuration(t time.Time, d time.Duration, loc *time.Location) time.Time {
	if d%Day == 0 {
		return t.In(loc).AddDate(0, 0, int(d/Day))
	}
	return t.Add(d).In(loc)
}

// decisionRule is a default decision timeframe and where it comes from.
type decisionRule struct {
	span
	rule string
}

var (
	hours72 = span{d: 72 * time.Hour}
	days7   = span{days: 7}
	days15  = span{days: 15}

	standardDecision = map[authpilot.PlanType]decisionRule{
		authpilot.PlanMedicareAdvantage: {days7, "CMS-0057-F, 42 CFR 422.568(b): Medicare Advantage standard pre-service decision within 7 calendar days"},
		authpilot.PlanMedicaid:          {days7, "CMS-0057-F, 42 CFR 438.210(d)(1), 440.230(e): Medicaid standard decision within 7 calendar days"},
		authpilot.PlanCHIP:              {days7, "CMS-0057-F, 42 CFR 457.495(d), 457.1230(d): CHIP standard decision within 7 calendar days"},
		authpilot.PlanQHP:               {days15, "45 CFR 147.136(b) (29 CFR 2560.503-1(f)(2)(iii)(A)): non-urgent pre-service decision within 15 days"},
		authpilot.PlanCommercial:        {days15, "45 CFR 147.136(b) (29 CFR 2560.503-1(f)(2)(iii)(A)): non-urgent pre-service decision within 15 days; state law may be stricter"},
		authpilot.PlanERISA:             {days15, "29 CFR 2560.503-1(f)(2)(iii)(A): ERISA pre-service decision within 15 days"},
		authpilot.PlanTraditionalMedicare: {span{businessDays: 10},
			"traditional Medicare prior-authorization programs (OPD prior authorization, WISeR via the MAC): decision within 10 business days; WISeR portal requests are answered faster, set a payer override"},
	}
	expeditedDecision = map[authpilot.PlanType]decisionRule{
		authpilot.PlanMedicareAdvantage:   {hours72, "42 CFR 422.572(a): Medicare Advantage expedited decision within 72 hours"},
		authpilot.PlanMedicaid:            {hours72, "42 CFR 438.210(d)(2): Medicaid expedited decision within 72 hours"},
		authpilot.PlanCHIP:                {hours72, "42 CFR 457.1230(d): CHIP expedited decision within 72 hours"},
		authpilot.PlanQHP:                 {hours72, "45 CFR 147.136(b) (29 CFR 2560.503-1(f)(2)(i)): urgent pre-service decision within 72 hours"},
		authpilot.PlanCommercial:          {hours72, "45 CFR 147.136(b) (29 CFR 2560.503-1(f)(2)(i)): urgent pre-service decision within 72 hours"},
		authpilot.PlanERISA:               {hours72, "29 CFR 2560.503-1(f)(2)(i): ERISA urgent pre-service decision within 72 hours"},
		authpilot.PlanTraditionalMedicare: {hours72, "traditional Medicare prior-authorization programs: expedited decision within 72 hours"},
	}
	unknownPlan = map[authpilot.Urgency]decisionRule{
		authpilot.UrgencyStandard:  {days7, "plan type unknown: the strictest federal standard timeframe, 7 calendar days, assumed"},
		authpilot.UrgencyExpedited: {hours72, "plan type unknown: expedited decision within 72 hours assumed"},
	}

	// appealDays are the default appeal-filing windows, in calendar days
	// from the notice. Traditional Medicare has none: a non-affirmed prior
	// authorization may be resubmitted, and appeal rights attach to the
	// claim denial.
	appealDays = map[authpilot.PlanType]struct {
		days int
		rule string
	}{
		authpilot.PlanMedicareAdvantage: {65, "42 CFR 422.582(b): Medicare Advantage reconsideration request within 65 days of the notice"},
		authpilot.PlanERISA:             {180, "29 CFR 2560.503-1(h)(3)(i): ERISA internal appeal within 180 days of the notice"},
		authpilot.PlanQHP:               {180, "45 CFR 147.136(b) (29 CFR 2560.503-1(h)(3)(i)): internal appeal within 180 days of the notice"},
		authpilot.PlanCommercial:        {180, "45 CFR 147.136(b) (29 CFR 2560.503-1(h)(3)(i)): internal appeal within 180 days of the notice"},
		authpilot.PlanMedicaid:          {60, "42 CFR 438.402(c)(2)(ii): Medicaid managed-care plan appeal within 60 days of the notice; state fair hearing deadlines vary by state, set a payer override for fee-for-service Medicaid"},
		authpilot.PlanCHIP:              {60, "42 CFR 457.1260 (438.402(c)(2)(ii)): CHIP managed-care plan appeal within 60 days of the notice; state review deadlines vary"},
	}
)

// closedStatus reports the statuses that end every deadline: nothing is owed on such a case.
func closedStatus(s authpilot.Status) bool {
	switch s {
	case authpilot.StatusCancelled, authpilot.StatusWithdrawn, authpilot.StatusExpired, authpilot.StatusNotRequired:
		return true
	}
	return false
}

// peerToPeerStatus reports the decisions a peer-to-peer can change: a
// denial, a partial approval and a modification.
func peerToPeerStatus(s authpilot.Status) bool {
	return s == authpilot.StatusDenied || s == authpilot.StatusPartiallyApproved || s == authpilot.StatusModified
}

// noticeWord names the decision a peer-to-peer window runs from.
var noticeWord = map[authpilot.Status]string{
	authpilot.StatusDenied:            "denial",
	authpilot.StatusPartiallyApproved: "partial approval",
	authpilot.StatusModified:          "modification",
}

// Compute returns the deadlines of a case as of now, soonest first, each
// with the rule it comes from. A closed case (cancelled, withdrawn,
// expired, not required) has none. Deadlines:
//
//   - decision_due while the decision is pending, from SubmittedAt
//     (business-day timeframes on the federal calendar);
//   - follow_up while pending: the latest follow-up point already passed
//     (SubmittedAt + k·FollowUpEvery, k ≥ 1), if any, and the next one;
//   - service_date_at_risk while undecided (not yet submitted, refused,
//     or pending): the start of the planned service date less
//     ServiceRiskBusinessDays business days of the practice's calendar;
//   - peer_to_peer after a denial, partial approval or modification: the
//     end of the N-th federal business day after the notice date (the
//     practice's closed days do not extend a payer's window), when a
//     window is configured;
//   - appeal_filing after a denial, partial approval or modification: the
//     end of the notice date plus the appeal window;
//   - authorization_expiry while authorized: the end of the last valid day.
//     Check decides whether it alerts (see there).
//
// Times are in the calendar's zone; Compute needs no clock but now, which
// only places the follow-up points.
func (r Rules) Compute(c *authpilot.Case, cal *Calendar, now time.Time) []authpilot.Deadline {
	if c == nil || cal == nil || closedStatus(c.Status) {
		return nil
	}
	loc := cal.Location()
	pr := r.Payers[c.Payer]
	var ds []authpilot.Deadline

	// A payer's windows run on the federal business-day calendar (plus
	// the payer's own closed days); the practice's closed days only move
	// the practice's own work.
	payerCal := cal.PayerCalendar(pr.ClosedDays)
	if c.Status.Pending() && c.SubmittedAt != nil {
		if d, ok := r.decisionDue(c, pr, payerCal); ok {
			ds = append(ds, d)
		}
		ds = append(ds, r.followUps(*c.SubmittedAt, loc, now)...)
	}
	if ir := c.OpenInfoRequest(); ir != nil && c.Status == authpilot.StatusPended && !ir.ResponseDue.IsZero() {
		ds = append(ds, authpilot.Deadline{
			Kind: authpilot.DeadlineInfoResponse,
			Due:  endOfDay(ir.ResponseDue, loc),
			Rule: "payer's due date for the information it requested",
		})
	}

	if !c.ServiceDate.IsZero() && !c.Status.Decided() {
		ds = append(ds, authpilot.Deadline{
			Kind: authpilot.DeadlineServiceAtRisk,
			Due:  cal.AddBusinessDays(c.ServiceDate.In(loc), -r.ServiceRiskBusinessDays),
			Rule: fmt.Sprintf("practice rule: still not authorized %d business days before the planned service date", r.ServiceRiskBusinessDays),
		})
	}

	det := c.Determination
	notice, haveNotice := noticeDate(det, loc)
	// A peer-to-peer or an appeal that overturned the decision ends its
	// windows, even before the payer shows the approval.
	escalating := peerToPeerStatus(c.Status) && !c.Overturned()
	p2p := c.OpenPeerToPeer()
	if escalating && p2p != nil && p2p.ScheduledAt != nil {
		ds = append(ds, authpilot.Deadline{
			Kind: authpilot.DeadlinePeerToPeerCall,
			Due:  p2p.ScheduledAt.In(loc),
			Rule: "peer-to-peer scheduled with the payer",
		})
	}
	// The window matters until a peer-to-peer is scheduled or held.
	if escalating && haveNotice && (len(c.PeerToPeers) == 0 || p2p != nil && p2p.ScheduledAt == nil) {
		n, src := r.PeerToPeerBusinessDays, "practice default; no federal rule"
		if pr.PeerToPeerBusinessDays != nil {
			n, src = *pr.PeerToPeerBusinessDays, "payer config"
		}
		if n > 0 {
			ds = append(ds, authpilot.Deadline{
				Kind: authpilot.DeadlinePeerToPeer,
				Due:  endOfDay(authpilot.DateOf(payerCal.AddBusinessDays(notice.In(loc), n)), loc),
				Rule: fmt.Sprintf("peer-to-peer window: %d federal business days from the %s notice (%s)", n, noticeWord[c.Status], src),
			})
		}
	}

	if ap := c.OpenAppeal(); escalating && ap != nil && !ap.DecisionDue.IsZero() {
		ds = append(ds, authpilot.Deadline{
			Kind: authpilot.DeadlineAppealDecision,
			Due:  ap.DecisionDue.In(loc),
			Rule: ap.DueRule,
		})
	}
	// The filing window matters until an appeal is filed.
	if escalating && haveNotice && len(c.Appeals) == 0 {
		days, rule := 0, ""
		if a, ok := appealDays[c.PlanType]; ok {
			days, rule = a.days, a.rule
		}
		if pr.Appeal != nil {
			days = int(*pr.Appeal / Day)
			rule = fmt.Sprintf("payer config: appeal within %d days of the notice", days)
		}
		if days > 0 {
			ds = append(ds, authpilot.Deadline{
				Kind: authpilot.DeadlineAppeal,
				Due:  endOfDay(notice.AddDays(days), loc),
				Rule: rule,
			})
		}
	}

	if c.Status.Authorized() && det != nil && !det.ValidTo.IsZero() {
		rule := "authorization validity ends"
		switch {
		case lapsesBeforeService(c):
			rule = RuleExpiresBeforeService
		case c.ServiceDate.IsZero():
			rule += "; no planned service date"
		default:
			rule += "; it covers the planned service date"
		}
		ds = append(ds, authpilot.Deadline{
			Kind: authpilot.DeadlineAuthExpiry,
			Due:  endOfDay(det.ValidTo, loc),
			Rule: rule,
		})
	}

	sort.SliceStable(ds, func(i, j int) bool {
		if !ds[i].Due.Equal(ds[j].Due) {
			return ds[i].Due.Before(ds[j].Due)
		}
		return ds[i].Kind < ds[j].Kind
	})
	return ds
}

// RuleExpiresBeforeService is the Rule of an authorization_expiry deadline
// whose approval lapses before the planned service date.
const RuleExpiresBeforeService = "approval expires before the planned service date"

// lapsesBeforeService reports whether an authorized case's validity ends
// before its planned service date.
func lapsesBeforeService(c *authpilot.Case) bool {
	return c.Determination != nil && !c.Determination.ValidTo.IsZero() &&
		!c.ServiceDate.IsZero() && c.Determination.ValidTo.Before(c.ServiceDate)
}

// noticeDate is the date appeal and peer-to-peer windows run from: the
// notice date, else the decision's date in loc.
func noticeDate(det *authpilot.Determination, loc *time.Location) (authpilot.Date, bool) {
	switch {
	case det == nil:
		return authpilot.Date{}, false
	case !det.NoticeDate.IsZero():
		return det.NoticeDate, true
	case det.DecidedAt != nil:
		return authpilot.DateOf(det.DecidedAt.In(loc)), true
	}
	return authpilot.Date{}, false
}

// decisionRule picks the decision timeframe: a payer override, else the
// plan type's federal default.
func (r Rules) decisionRule(c *authpilot.Case, pr PayerRules) decisionRule {
	expedited := c.Urgency == authpilot.UrgencyExpedited
	if expedited && pr.DecisionExpedited != nil {
		// Expedited timeframes are stated in hours: always exact.
		return decisionRule{span{d: *pr.DecisionExpedited}, "payer config: expedited decision within " + humanDuration(*pr.DecisionExpedited)}
	}
	if !expedited && pr.DecisionStandard != nil {
		return decisionRule{daySpan(*pr.DecisionStandard), "payer config: standard decision within " + humanDuration(*pr.DecisionStandard)}
	}
	table := standardDecision
	urgency := authpilot.UrgencyStandard
	if expedited {
		table, urgency = expeditedDecision, authpilot.UrgencyExpedited
	}
	if dr, ok := table[c.PlanType]; ok {
		return dr
	}
	return unknownPlan[urgency]
}

// decisionDue is the decision_due deadline of a pending case: the plan's
// (or payer's) timeframe from submission, or the date of the payer's
// latest extension; for an ERISA plan, moved by the time information
// requests paused the clock since then. ok is false while the clock is
// paused (an ERISA information request awaits its response): the decision
// is owed only after the response.
func (r Rules) decisionDue(c *authpilot.Case, pr PayerRules, payerCal *Calendar) (authpilot.Deadline, bool) {
	dr := r.decisionRule(c, pr)
	d := authpilot.Deadline{Kind: authpilot.DeadlineDecisionDue, Due: dr.after(*c.SubmittedAt, payerCal), Rule: dr.rule}
	from := *c.SubmittedAt
	if ext := c.LastExtension(); ext != nil {
		d.Due = ext.DecisionDue.In(payerCal.Location())
		d.Rule = "payer extension of the decision timeframe, recorded " + ext.At.In(payerCal.Location()).Format(time.DateOnly)
		from = ext.At
	}
	paused, open := c.ClockPause(from)
	if !open.IsZero() {
		return authpilot.Deadline{}, false
	}
	if paused > 0 {
		d.Due = d.Due.Add(paused)
		d.Rule += "; clock paused " + humanDuration(paused.Round(time.Minute)) + " for information requests (29 CFR 2560.503-1(f)(4))"
	}
	return d, true
}

// followUps returns the latest follow-up point passed by now (if any) and
// the next one.
func (r Rules) followUps(submitted time.Time, loc *time.Location, now time.Time) []authpilot.Deadline {
	every := r.FollowUpEvery
	if every <= 0 {
		return nil
	}
	point := func(k int) time.Time { return addDuration(submitted, time.Duration(k)*every, loc) }
	// Estimate k from elapsed time, step back one for DST slack, then walk.
	k := max(0, int(now.Sub(submitted)/every)-1)
	for k > 0 && point(k).After(now) {
		k--
	}
	for !point(k + 1).After(now) {
		k++
	}
	mk := func(k int) authpilot.Deadline {
		return authpilot.Deadline{
			Kind: authpilot.DeadlineFollowUp,
			Due:  point(k),
			Rule: fmt.Sprintf("practice habit: follow up every %s while the decision is pending (follow-up %d)", humanDuration(every), k),
		}
	}
	var out []authpilot.Deadline
	if k >= 1 {
		out = append(out, mk(k))
	}
	return append(out, mk(k+1))
}

// humanDuration formats d compactly and injectively: "14d" for whole days
// of three or more, "48h" for whole hours, else Go's form ("90m0s" →
// "1h30m0s").
func humanDuration(d time.Duration) string {
	switch {
	case d >= 3*Day && d%Day == 0:
		return fmt.Sprintf("%dd", d/Day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// leadTimesFor returns the lead times of deadline kind k: its own, else
// the default list.
func (r Rules) leadTimesFor(k authpilot.DeadlineKind) []time.Duration {
	if ls, ok := r.KindLeadTimes[k]; ok && len(ls) > 0 {
		return leadTimes(ls)
	}
	return leadTimes(r.LeadTimes)
}

// leadTimes returns ls without non-positive or repeated values, longest
// first.
func leadTimes(ls []time.Duration) []time.Duration {
	out := make([]time.Duration, 0, len(ls))
	for _, l := range ls {
		if l > 0 && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}
