package schedules_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/schedules"
)

// Acceptance: the decision deadlines of the brief, and exactly-once alerts
// across a sweep every 15 minutes with restarts.

func TestAcceptanceDecisionDue(t *testing.T) {
	cal := schedules.NewCalendar(newYork(t), nil)
	rules := schedules.DefaultRules()
	rules.Payers = map[string]schedules.PayerRules{"acme-commercial": {DecisionStandard: ptr(5 * schedules.Day)}}
	tests := []struct {
		name      string
		plan      authpilot.PlanType
		payer     string
		urgency   authpilot.Urgency
		submitted string
		due       string
	}{
		// Friday before Thanksgiving week: 7 calendar days, holidays do not count.
		{"MA standard, Friday 2026-11-20", authpilot.PlanMedicareAdvantage, "acme-ma", authpilot.UrgencyStandard, "2026-11-20 14:05", "2026-11-27 14:05"},
		// 2026-07-02 is the Thursday before the observed Independence Day (Fri Jul 3).
		{"MA standard, 2026-07-02 before the observed Jul 3", authpilot.PlanMedicareAdvantage, "acme-ma", authpilot.UrgencyStandard, "2026-07-02 14:05", "2026-07-09 14:05"},
		{"MA expedited, Friday 2026-11-20", authpilot.PlanMedicareAdvantage, "acme-ma", authpilot.UrgencyExpedited, "2026-11-20 14:05", "2026-11-23 14:05"},
		{"MA expedited, 2026-07-02", authpilot.PlanMedicareAdvantage, "acme-ma", authpilot.UrgencyExpedited, "2026-07-02 14:05", "2026-07-05 14:05"},
		{"commercial with a 5-day payer override", authpilot.PlanCommercial, "acme-commercial", authpilot.UrgencyStandard, "2026-11-20 14:05", "2026-11-25 14:05"},
		{"commercial without override", authpilot.PlanCommercial, "other", authpilot.UrgencyStandard, "2026-11-20 14:05", "2026-12-05 14:05"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := phiCase(t)
			c.PlanType, c.Payer, c.Urgency = tc.plan, tc.payer, tc.urgency
			c.SubmittedAt = ptr(at(t, tc.submitted))
			dd := find(rules.Compute(c, cal, *c.SubmittedAt), authpilot.DeadlineDecisionDue)
			if len(dd) != 1 || !dd[0].Due.Equal(at(t, tc.due)) {
				t.Fatalf("decision_due %v, want %s", dd, tc.due)
			}
		})
	}
}

func TestAcceptanceApprovalLapsesBeforeService(t *testing.T) {
	cal := schedules.NewCalendar(newYork(t), nil)
	rules := schedules.DefaultRules()
	c := phiCase(t)
	c.Status = authpilot.StatusApproved
	c.ServiceDate = day(t, "2027-01-12")
	decided := at(t, "2026-11-24 11:00")
	c.Determination = &authpilot.Determination{Status: authpilot.StatusApproved, AuthNumber: "AUTH-1",
		ValidFrom: day(t, "2026-11-24"), ValidTo: day(t, "2026-12-23"), DecidedAt: &decided}
	alerts := rules.Check(c, rules.Compute(c, cal, decided), decided)
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts at decision time, want 1: %v", len(alerts), alerts)
	}
	a := alerts[0]
	if a.Type != authpilot.AlertDeadlineApproaching || a.Title != "Approval expires before the planned service date" ||
		a.Deadline.Rule != schedules.RuleExpiresBeforeService || a.Severity != authpilot.SeverityWarning {
		t.Fatalf("alert %+v", a)
	}
}

// sweep calls Compute and Check every step from start to end, as the
// deadlines job does, restarting the "daemon" (fresh rules and calendar)
// every restartEvery steps; store stands in for the store's DedupKey
// index. It returns when each key was first stored.
func sweep(t *testing.T, c *authpilot.Case, newRules func() schedules.Rules, start, end time.Time, step time.Duration, restartEvery int, store map[string]time.Time) {
	t.Helper()
	rules := newRules()
	cal := schedules.NewCalendar(newYork(t), nil)
	n := 0
	for now := start; !now.After(end); now = now.Add(step) {
		if restartEvery > 0 && n%restartEvery == 0 {
			rules = newRules()
			cal = schedules.NewCalendar(newYork(t), nil)
		}
		n++
		alerts := rules.Check(c, rules.Compute(c, cal, now), now)
		perDeadline := map[string]int{}
		for _, a := range alerts {
			k := string(a.Deadline.Kind) + "@" + a.Deadline.Due.UTC().Format(time.RFC3339)
			if perDeadline[k]++; perDeadline[k] > 1 {
				t.Fatalf("%v: two alerts for one deadline %s", now, k)
			}
			if _, seen := store[a.DedupKey]; !seen {
				store[a.DedupKey] = now
			}
		}
	}
}

func keysOf(store map[string]time.Time, kind authpilot.DeadlineKind) []string {
	var out []string
	for k, at := range store {
		if strings.Contains(k, "/"+string(kind)+"/") {
			out = append(out, fmt.Sprintf("%s@%s", k[strings.LastIndex(k, "/")+1:], at.UTC().Format(time.RFC3339)))
		}
	}
	sort.Strings(out)
	return out
}

func TestAcceptanceExactlyOnce(t *testing.T) {
	leads := func() schedules.Rules {
		r := schedules.DefaultRules()
		r.LeadTimes = []time.Duration{48 * time.Hour, 24 * time.Hour}
		return r
	}
	utc := func(s string) string { return at(t, s).UTC().Format(time.RFC3339) }
	tests := []struct {
		name    string
		edit    func(*authpilot.Case)
		kind    authpilot.DeadlineKind
		from    string
		to      string
		restart int // steps between restarts; 0 = never
		want    []string
	}{
		{
			name: "MA standard decision, no restarts",
			edit: func(c *authpilot.Case) { c.SubmittedAt = ptr(at(t, "2026-11-20 10:30")) },
			kind: authpilot.DeadlineDecisionDue, from: "2026-11-20 10:30", to: "2026-11-30 10:30",
			want: []string{"lead=24h@" + utc("2026-11-26 10:30"), "lead=48h@" + utc("2026-11-25 10:30"), "missed@" + utc("2026-11-27 10:30")},
		},
		{
			name: "MA standard decision, restart every 7 checks",
			edit: func(c *authpilot.Case) { c.SubmittedAt = ptr(at(t, "2026-11-20 10:30")) },
			kind: authpilot.DeadlineDecisionDue, from: "2026-11-20 10:30", to: "2026-11-30 10:30", restart: 7,
			want: []string{"lead=24h@" + utc("2026-11-26 10:30"), "lead=48h@" + utc("2026-11-25 10:30"), "missed@" + utc("2026-11-27 10:30")},
		},
		{
			name: "across the end of DST",
			edit: func(c *authpilot.Case) { c.SubmittedAt = ptr(at(t, "2026-10-28 09:00")) },
			kind: authpilot.DeadlineDecisionDue, from: "2026-10-28 09:00", to: "2026-11-06 09:00", restart: 11,
			want: []string{"lead=24h@" + utc("2026-11-03 09:00"), "lead=48h@" + utc("2026-11-02 09:00"), "missed@" + utc("2026-11-04 09:00")},
		},
		{
			name: "peer-to-peer after a denial",
			edit: func(c *authpilot.Case) {
				c.Status = authpilot.StatusDenied
				c.Determination = &authpilot.Determination{Status: authpilot.StatusDenied, NoticeDate: day(t, "2026-11-20")}
			},
			kind: authpilot.DeadlinePeerToPeer, from: "2026-11-20 12:00", to: "2026-12-05 00:00", restart: 5,
			// due 2026-12-02 23:59:59; checks at :00/:15/:30/:45 land after each opening
			want: []string{"lead=24h@" + utc("2026-12-02 00:00"), "lead=48h@" + utc("2026-12-01 00:00"), "missed@" + utc("2026-12-03 00:00")},
		},
		{
			name: "weekly follow-ups fire once each",
			edit: func(c *authpilot.Case) { c.SubmittedAt = ptr(at(t, "2026-11-20 10:30")) },
			kind: authpilot.DeadlineFollowUp, from: "2026-11-20 10:30", to: "2026-12-10 10:30", restart: 13,
			want: []string{"due@" + utc("2026-11-27 10:30"), "due@" + utc("2026-12-04 10:30")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := phiCase(t)
			tc.edit(c)
			store := map[string]time.Time{}
			sweep(t, c, leads, at(t, tc.from), at(t, tc.to), 15*time.Minute, tc.restart, store)
			got := keysOf(store, tc.kind)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("stored alerts\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestAcceptanceDowntime: a daemon down across the 48h and 24h windows
// raises only what applies when it comes back.
func TestAcceptanceDowntime(t *testing.T) {
	leads := func() schedules.Rules {
		r := schedules.DefaultRules()
		r.LeadTimes = []time.Duration{48 * time.Hour, 24 * time.Hour}
		return r
	}
	tests := []struct {
		name     string
		downFrom string
		upAt     string
		want     []string // phases stored
	}{
		{"down across the 48h opening", "2026-11-25 09:00", "2026-11-25 20:00", []string{"lead=24h", "lead=48h", "missed"}},
		{"down across both openings", "2026-11-24 12:00", "2026-11-26 12:00", []string{"lead=24h", "missed"}},
		{"down across everything", "2026-11-24 12:00", "2026-11-28 09:00", []string{"missed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := phiCase(t)
			c.SubmittedAt = ptr(at(t, "2026-11-20 10:30"))
			store := map[string]time.Time{}
			sweep(t, c, leads, at(t, "2026-11-20 10:30"), at(t, tc.downFrom), 15*time.Minute, 0, store)
			sweep(t, c, leads, at(t, tc.upAt), at(t, "2026-11-30 10:30"), 15*time.Minute, 0, store)
			var got []string
			for _, k := range keysOf(store, authpilot.DeadlineDecisionDue) {
				got = append(got, k[:strings.Index(k, "@")])
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("stored phases %v, want %v", got, tc.want)
			}
		})
	}
}
