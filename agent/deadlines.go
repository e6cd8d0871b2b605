package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/schedules"
)

// openStatuses are the statuses whose deadlines are watched: pending
// decisions, and decisions with windows still open (peer-to-peer, appeal,
// authorization expiry), plus cases not yet submitted or refused by the
// payer (service date at risk; a rejected case is not pending, so it has no
// decision-due or follow-up deadline).
var openStatuses = []authpilot.Status{
	authpilot.StatusDraft, authpilot.StatusReady, authpilot.StatusSubmitting, authpilot.StatusRejected, authpilot.StatusSubmitted,
	authpilot.StatusPended, authpilot.StatusContactPayer, authpilot.StatusApproved,
	authpilot.StatusPartiallyApproved, authpilot.StatusModified, authpilot.StatusDenied,
}

// CheckDeadlines recomputes every open case's deadlines, stores them (the
// worklist index) and raises the approaching/missed alerts that are due.
// Each alert has a dedup key, so it fires once across restarts.
func (a *Agent) CheckDeadlines(ctx context.Context) (raised int, err error) {
	cases, err := a.store.ListCases(ctx, authpilot.CaseFilter{Statuses: openStatuses})
	if err != nil {
		a.log.Error("deadline check failed", "err", err)
		return 0, fmt.Errorf("list open cases: %w", err)
	}
	// Most cases' deadlines stand from one check to the next: only a change
	// is written (each write is a synced transaction).
	stored, err := a.store.AllDeadlines(ctx)
	if err != nil {
		return 0, fmt.Errorf("read deadlines: %w", err)
	}
	now := a.now()
	for _, c := range cases {
		ds := a.rules.Compute(c, a.cal, now)
		if !sameDeadlines(stored[c.ID], ds) {
			if err := a.store.SetDeadlines(ctx, c.ID, ds); err != nil {
				return raised, fmt.Errorf("store deadlines of case %s: %w", c.ID, err)
			}
		}
		alerts := a.rules.Check(c, ds, now)
		if len(alerts) == 0 {
			continue
		}
		n, err := a.store.Enqueue(ctx, alerts...)
		if err != nil {
			return raised, fmt.Errorf("enqueue deadline alerts of case %s: %w", c.ID, err)
		}
		raised += n
	}
	if raised > 0 {
		a.metrics.AlertsRaised.WithLabelValues("deadline").Add(float64(raised))
		a.log.Info("deadline alerts raised", "count", raised)
		a.kickDispatcher()
	}
	return raised, nil
}

// caseDeadlines computes and stores one case's deadlines right after a
// change the sweep would otherwise see only at its next run (a submission:
// the decision-due deadline starts then), and raises the alerts already
// due. A failure is logged: the next sweep computes them again.
func (a *Agent) caseDeadlines(ctx context.Context, c *authpilot.Case) {
	now := a.now()
	ds := a.rules.Compute(c, a.cal, now)
	if err := a.store.SetDeadlines(ctx, c.ID, ds); err != nil {
		a.log.Warn("deadlines after submission not stored; the next check retries", "case", c.ID, "err", err)
		return
	}
	if alerts := a.rules.Check(c, ds, now); len(alerts) > 0 {
		if _, err := a.store.Enqueue(ctx, alerts...); err != nil {
			a.log.Warn("deadline alerts after submission not queued; the next check retries", "case", c.ID, "err", err)
		}
	}
}

// decisionWindows completes the determination alert of a denial, partial
// approval or modification with the windows it opens: when the
// peer-to-peer window closes and when the appeal is due, where the rules
// know them (ds, the case's deadlines after the decision). The alert's
// Deadline is the soonest of the two.
func decisionWindows(alerts []authpilot.Alert, ds []authpilot.Deadline, loc *time.Location) {
	var notes []string
	var first *authpilot.Deadline
	for i := range ds {
		d := &ds[i]
		switch d.Kind {
		case authpilot.DeadlinePeerToPeer:
			notes = append(notes, "peer-to-peer window closes "+windowDate(d.Due, loc))
		case authpilot.DeadlineAppeal:
			notes = append(notes, "appeal due by "+windowDate(d.Due, loc))
		default:
			continue
		}
		if first == nil || d.Due.Before(first.Due) {
			first = d
		}
	}
	if first == nil {
		return
	}
	for i := range alerts {
		al := &alerts[i]
		// A changed decision seen by the watch (approved → modified,
		// partial → denied) opens the windows too.
		if al.Type != authpilot.AlertDeterminationReceived &&
			(al.Type != authpilot.AlertStatusChanged || !al.PrevStatus.Watched()) {
			continue
		}
		switch al.Status {
		case authpilot.StatusDenied, authpilot.StatusPartiallyApproved, authpilot.StatusModified:
		default:
			continue
		}
		s := strings.Join(notes, "; ")
		al.Action = strings.TrimSuffix(al.Action, ".") + ". " + strings.ToUpper(s[:1]) + s[1:] + "."
		dl := *first
		al.Deadline = &dl
	}
}

// windowDate is a window's end as staff read it: "Wed 2 Dec 2026" when it
// ends at the end of the day, else with the time.
func windowDate(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	if h, m, _ := t.Clock(); h == 23 && m == 59 {
		return t.Format("Mon 2 Jan 2006")
	}
	return t.Format("Mon 2 Jan 2006 15:04 MST")
}

// localNow is the clock's time in the practice's zone.
func (a *Agent) localNow() time.Time { return a.now().In(a.cfg.Location()) }

// sameDeadlines reports whether two lists hold the same deadlines, in any
// order.
func sameDeadlines(a, b []authpilot.Deadline) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
next:
	for _, x := range a {
		for j, y := range b {
			if !used[j] && x.Kind == y.Kind && x.Rule == y.Rule && x.Due.Equal(y.Due) {
				used[j] = true
				continue next
			}
		}
		return false
	}
	return true
}

// Digest raises the daily digest: every open case with its soonest deadline.
func (a *Agent) Digest(ctx context.Context) error {
	cases, err := a.store.ListCases(ctx, authpilot.CaseFilter{Statuses: openStatuses})
	if err != nil {
		return fmt.Errorf("list open cases: %w", err)
	}
	now := a.now()
	var items []authpilot.DigestItem
	for _, c := range cases {
		ds, err := a.store.Deadlines(ctx, c.ID)
		if err != nil {
			return fmt.Errorf("deadlines of case %s: %w", c.ID, err)
		}
		it := authpilot.DigestItem{CaseID: c.ID, Payer: c.Payer, Track: c.Track, Status: c.Status}
		for i := range ds {
			if ds[i].Due.After(now) || c.Status.Pending() {
				it.Deadline = &ds[i]
				break
			}
		}
		if it.Deadline != nil || c.Status.Pending() {
			items = append(items, it)
		}
	}
	alert := schedules.Digest(now, items)
	if _, err := a.store.Enqueue(ctx, alert); err != nil {
		return fmt.Errorf("enqueue digest: %w", err)
	}
	a.kickDispatcher()
	return nil
}

// rulesFromConfig maps the config's deadline settings onto the engine's.
func rulesFromConfig(cfg *config.Config) schedules.Rules {
	r := schedules.DefaultRules()
	d := cfg.Deadlines
	std := func(ls []config.Duration) []time.Duration {
		out := make([]time.Duration, 0, len(ls))
		for _, l := range ls {
			out = append(out, l.Std())
		}
		return out
	}
	if len(d.LeadTimes.Default) > 0 {
		r.LeadTimes = std(d.LeadTimes.Default)
	}
	for k, ls := range d.LeadTimes.ByKind() {
		if r.KindLeadTimes == nil {
			r.KindLeadTimes = map[authpilot.DeadlineKind][]time.Duration{}
		}
		r.KindLeadTimes[k] = std(ls)
	}
	if d.FollowUpEvery > 0 {
		r.FollowUpEvery = d.FollowUpEvery.Std()
	}
	if d.ServiceDateRiskBusinessDays > 0 {
		r.ServiceRiskBusinessDays = d.ServiceDateRiskBusinessDays
	}
	if d.AuthExpiryWarning > 0 {
		r.AuthExpiryWarning = d.AuthExpiryWarning.Std()
	}
	r.Payers = map[string]schedules.PayerRules{}
	dur := func(p *config.Duration) *time.Duration {
		if p == nil {
			return nil
		}
		v := p.Std()
		return &v
	}
	for _, p := range cfg.Payers {
		pd := p.Deadlines
		r.Payers[p.ID] = schedules.PayerRules{
			DecisionStandard: dur(pd.DecisionStandard), DecisionExpedited: dur(pd.DecisionExpedited),
			Appeal: dur(pd.Appeal), AuthExpiryWarning: dur(pd.AuthExpiryWarning),
			PeerToPeerBusinessDays: pd.PeerToPeerBusinessDays,
			ClosedDays:             pd.ClosedDays,
		}
	}
	return r
}

// TightPollWindow is how close a decision-due deadline must be for polling
// to tighten.
const TightPollWindow = 48 * time.Hour

// NextTightPoll says when to poll a connector again, sooner than its
// schedule, because one of its pending cases has a decision due within
// TightPollWindow: a quarter of the time left, between 30 minutes and 4
// hours from now. ok is false when no decision is that close.
func (a *Agent) NextTightPoll(ctx context.Context, connectorID string) (time.Time, bool) {
	cases, err := a.store.ListCases(ctx, authpilot.CaseFilter{ConnectorID: connectorID,
		Statuses: []authpilot.Status{authpilot.StatusSubmitted, authpilot.StatusPended, authpilot.StatusContactPayer}})
	if err != nil {
		a.log.Warn("tight poll: list cases failed", "connector", connectorID, "err", err)
		return time.Time{}, false
	}
	now := a.now()
	var soonest time.Time
	for _, c := range cases {
		ds, err := a.store.Deadlines(ctx, c.ID)
		if err != nil {
			continue
		}
		for _, d := range ds {
			if d.Kind == authpilot.DeadlineDecisionDue && d.Due.After(now) && (soonest.IsZero() || d.Due.Before(soonest)) {
				soonest = d.Due
			}
		}
	}
	left := soonest.Sub(now)
	if soonest.IsZero() || left > TightPollWindow {
		return time.Time{}, false
	}
	wait := min(max(left/4, 30*time.Minute), 4*time.Hour)
	return now.Add(wait), true
}
