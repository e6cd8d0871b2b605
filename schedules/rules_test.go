package schedules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/schedules"
)

// find returns the deadlines of kind k.
func find(ds []authpilot.Deadline, k authpilot.DeadlineKind) []authpilot.Deadline {
	var out []authpilot.Deadline
	for _, d := range ds {
		if d.Kind == k {
			out = append(out, d)
		}
	}
	return out
}

func TestComputeDecisionDue(t *testing.T) {
	cal := schedules.NewCalendar(newYork(t), nil)
	rules := schedules.DefaultRules()
	rules.Payers = map[string]schedules.PayerRules{
		"fast-commercial": {DecisionStandard: ptr(5 * schedules.Day), DecisionExpedited: ptr(48 * time.Hour)},
	}
	tests := []struct {
		name      string
		plan      authpilot.PlanType
		payer     string
		urgency   authpilot.Urgency
		status    authpilot.Status
		submitted string
		want      string // "" = no decision_due
		rule      string
	}{
		{"MA standard Friday before Thanksgiving", authpilot.PlanMedicareAdvantage, "", authpilot.UrgencyStandard, authpilot.StatusSubmitted,
			"2026-11-20 10:30", "2026-11-27 10:30", "42 CFR 422.568"},
		{"MA standard before the observed Jul 3", authpilot.PlanMedicareAdvantage, "", authpilot.UrgencyStandard, authpilot.StatusSubmitted,
			"2026-07-02 16:00", "2026-07-09 16:00", "7 calendar days"},
		{"MA expedited", authpilot.PlanMedicareAdvantage, "", authpilot.UrgencyExpedited, authpilot.StatusSubmitted,
			"2026-11-20 10:30", "2026-11-23 10:30", "422.572"},
		{"MA standard across the DST change keeps clock time", authpilot.PlanMedicareAdvantage, "", authpilot.UrgencyStandard, authpilot.StatusSubmitted,
			"2026-10-30 09:00", "2026-11-06 09:00", "422.568"},
		{"MA expedited across the DST change is 72 real hours", authpilot.PlanMedicareAdvantage, "", authpilot.UrgencyExpedited, authpilot.StatusSubmitted,
			"2026-10-31 09:00", "2026-11-03 08:00", "72 hours"},
		{"Medicaid standard", authpilot.PlanMedicaid, "", authpilot.UrgencyStandard, authpilot.StatusPended,
			"2026-11-20 10:30", "2026-11-27 10:30", "438.210"},
		{"CHIP standard", authpilot.PlanCHIP, "", authpilot.UrgencyStandard, authpilot.StatusContactPayer,
			"2026-11-20 10:30", "2026-11-27 10:30", "457"},
		{"QHP standard", authpilot.PlanQHP, "", authpilot.UrgencyStandard, authpilot.StatusSubmitted,
			"2026-11-20 10:30", "2026-12-05 10:30", "147.136"},
		{"QHP expedited", authpilot.PlanQHP, "", authpilot.UrgencyExpedited, authpilot.StatusSubmitted,
			"2026-11-20 10:30", "2026-11-23 10:30", "72 hours"},
		{"commercial standard", authpilot.PlanCommercial, "", authpilot.UrgencyStandard, authpilot.StatusSubmitted,
			"2026-11-20 10:30", "2026-12-05 10:30", "15 days"},
		{"ERISA pre-service", authpilot.PlanERISA, "", authpilot.UrgencyStandard, authpilot.StatusSubmitted,
			"2026-11-20 10:30", "2026-12-05 10:30", "2560.503-1"},
		{"ERISA urgent", authpilot.PlanERISA, "", authpilot.UrgencyExpedited, authpilot.StatusSubmitted,
			"2026-11-20 10:30", "2026-11-23 10:30", "2560.503-1(f)(2)(i)"},
		{"traditional Medicare 10 business days over Thanksgiving", authpilot.PlanTraditionalMedicare, "", authpilot.UrgencyStandard, authpilot.StatusSubmitted,
			"2026-11-20 10:30", "2026-12-07 10:30", "10 business days"},
		{"commercial payer override 5 days", authpilot.PlanCommercial, "fast-commercial", authpilot.UrgencyStandard, authpilot.StatusSubmitted,
			"2026-11-20 10:30", "2026-11-25 10:30", "payer config: standard decision within 5d"},
		{"commercial payer override expedited 48h", authpilot.PlanCommercial, "fast-commercial", authpilot.UrgencyExpedited, authpilot.StatusSubmitted,
			"2026-11-20 10:30", "2026-11-22 10:30", "payer config: expedited decision within 48h"},
		{"unknown plan type assumes 7 days", authpilot.PlanType(""), "", authpilot.UrgencyStandard, authpilot.StatusSubmitted,
			"2026-11-20 10:30", "2026-11-27 10:30", "plan type unknown"},
		{"decided case has none", authpilot.PlanMedicareAdvantage, "", authpilot.UrgencyStandard, authpilot.StatusApproved,
			"2026-11-20 10:30", "", ""},
		{"draft case has none", authpilot.PlanMedicareAdvantage, "", authpilot.UrgencyStandard, authpilot.StatusDraft,
			"2026-11-20 10:30", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := phiCase(t)
			c.PlanType, c.Payer, c.Urgency, c.Status = tc.plan, tc.payer, tc.urgency, tc.status
			c.SubmittedAt = ptr(at(t, tc.submitted))
			ds := find(rules.Compute(c, cal, at(t, tc.submitted)), authpilot.DeadlineDecisionDue)
			got, ok := one(t, "decision_due deadlines", ds, tc.want != "")
			if !ok {
				return
			}
			if want := at(t, tc.want); !got.Due.Equal(want) {
				t.Errorf("due %v, want %v", got.Due, want)
			}
			if !strings.Contains(got.Rule, tc.rule) {
				t.Errorf("rule %q does not mention %q", got.Rule, tc.rule)
			}
		})
	}
}

func TestComputeNoSubmissionTime(t *testing.T) {
	cal := schedules.NewCalendar(newYork(t), nil)
	c := phiCase(t) // submitted, but SubmittedAt unknown
	if ds := schedules.DefaultRules().Compute(c, cal, at(t, "2026-11-20 10:30")); len(ds) != 0 {
		t.Fatalf("Compute = %v, want none without SubmittedAt or service date", ds)
	}
	if ds := schedules.DefaultRules().Compute(nil, cal, time.Now()); ds != nil {
		t.Fatalf("Compute(nil) = %v", ds)
	}
}

func TestComputeFollowUps(t *testing.T) {
	cal := schedules.NewCalendar(newYork(t), nil)
	tests := []struct {
		name      string
		every     time.Duration
		now       string
		want      []string
		submitted string // default 2026-11-20 10:30
	}{
		{"before the first", 7 * schedules.Day, "2026-11-20 12:00", []string{"2026-11-27 10:30"}, ""},
		{"exactly at the first", 7 * schedules.Day, "2026-11-27 10:30", []string{"2026-11-27 10:30", "2026-12-04 10:30"}, ""},
		{"between first and second", 7 * schedules.Day, "2026-11-28 09:00", []string{"2026-11-27 10:30", "2026-12-04 10:30"}, ""},
		{"weeks later: only the latest passed and the next", 7 * schedules.Day, "2027-01-02 09:00",
			[]string{"2027-01-01 10:30", "2027-01-08 10:30"}, ""},
		{"36-hour cadence is exact", 36 * time.Hour, "2026-11-23 00:00", []string{"2026-11-21 22:30", "2026-11-23 10:30"}, ""},
		{"weekly across the DST change keeps clock time", 7 * schedules.Day, "2026-11-05 12:00", []string{"2026-11-02 10:30", "2026-11-09 10:30"}, "2026-10-26 10:30"},
		{"off", 0, "2026-12-20 09:00", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules := schedules.DefaultRules()
			rules.FollowUpEvery = tc.every
			c := phiCase(t)
			if tc.submitted == "" {
				tc.submitted = "2026-11-20 10:30"
			}
			c.SubmittedAt = ptr(at(t, tc.submitted))
			got := find(rules.Compute(c, cal, at(t, tc.now)), authpilot.DeadlineFollowUp)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d follow-ups %v, want %v", len(got), got, tc.want)
			}
			for i, w := range tc.want {
				if !got[i].Due.Equal(at(t, w)) {
					t.Errorf("follow-up %d due %v, want %s", i, got[i].Due, w)
				}
				if !strings.Contains(got[i].Rule, "follow up every") {
					t.Errorf("rule %q", got[i].Rule)
				}
			}
		})
	}
}

func TestComputeAfterDecision(t *testing.T) {
	ny := newYork(t)
	cal := schedules.NewCalendar(ny, nil)
	eod := func(s string) time.Time { return at(t, s+" 23:59:59") }
	// notified edits a case to status with a notice dated 2026-11-20,
	// under plan unless plan is "".
	notified := func(plan authpilot.PlanType, status authpilot.Status) func(*authpilot.Case) {
		return func(c *authpilot.Case) {
			if plan != "" {
				c.PlanType = plan
			}
			c.Status = status
			c.Determination = &authpilot.Determination{NoticeDate: day(t, "2026-11-20")}
		}
	}
	tests := []struct {
		name  string
		rules func(*schedules.Rules)
		edit  func(*authpilot.Case)
		kind  authpilot.DeadlineKind
		want  time.Time // zero = none
		rule  string
	}{
		{
			name: "service date at risk 5 business days before, over Thanksgiving",
			edit: func(c *authpilot.Case) { c.ServiceDate = day(t, "2026-12-01") },
			kind: authpilot.DeadlineServiceAtRisk, want: at(t, "2026-11-23 00:00"), rule: "5 business days",
		},
		{
			name: "draft case with a service date is at risk too",
			edit: func(c *authpilot.Case) { c.Status = authpilot.StatusDraft; c.ServiceDate = day(t, "2026-12-01") },
			kind: authpilot.DeadlineServiceAtRisk, want: at(t, "2026-11-23 00:00"),
		},
		{
			name: "approved case is not at risk",
			edit: func(c *authpilot.Case) { c.Status = authpilot.StatusApproved; c.ServiceDate = day(t, "2026-12-01") },
			kind: authpilot.DeadlineServiceAtRisk,
		},
		{
			name: "peer-to-peer 7 business days from the notice",
			edit: func(c *authpilot.Case) {
				c.Status = authpilot.StatusDenied
				c.Determination = &authpilot.Determination{Status: authpilot.StatusDenied, NoticeDate: day(t, "2026-11-20")}
			},
			kind: authpilot.DeadlinePeerToPeer, want: eod("2026-12-02"), rule: "7 federal business days from the denial notice",
		},
		{
			name: "peer-to-peer from DecidedAt read in the practice zone",
			edit: func(c *authpilot.Case) {
				c.Status = authpilot.StatusDenied
				c.Determination = &authpilot.Determination{Status: authpilot.StatusDenied,
					DecidedAt: ptr(time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC))} // Nov 20, 22:00 in New York
			},
			kind: authpilot.DeadlinePeerToPeer, want: eod("2026-12-02"),
		},
		{
			name: "peer-to-peer payer window",
			rules: func(r *schedules.Rules) {
				r.Payers = map[string]schedules.PayerRules{"acme-ma": {PeerToPeerBusinessDays: ptr(3)}}
			},
			edit: notified("", authpilot.StatusDenied),
			kind: authpilot.DeadlinePeerToPeer, want: eod("2026-11-25"), rule: "payer config",
		},
		{
			name: "peer-to-peer off for a payer",
			rules: func(r *schedules.Rules) {
				r.Payers = map[string]schedules.PayerRules{"acme-ma": {PeerToPeerBusinessDays: ptr(0)}}
			},
			edit: notified("", authpilot.StatusDenied),
			kind: authpilot.DeadlinePeerToPeer,
		},
		{
			name:  "peer-to-peer off by default",
			rules: func(r *schedules.Rules) { r.PeerToPeerBusinessDays = 0 },
			edit:  notified("", authpilot.StatusDenied),
			kind:  authpilot.DeadlinePeerToPeer,
		},
		{
			name: "peer-to-peer after a partial approval",
			edit: notified("", authpilot.StatusPartiallyApproved),
			kind: authpilot.DeadlinePeerToPeer, want: eod("2026-12-02"), rule: "from the partial approval notice",
		},
		{
			name: "peer-to-peer after a modification",
			edit: notified("", authpilot.StatusModified),
			kind: authpilot.DeadlinePeerToPeer, want: eod("2026-12-02"), rule: "from the modification notice",
		},
		{
			name: "denied case's service date is not at risk",
			edit: func(c *authpilot.Case) { notified("", authpilot.StatusDenied)(c); c.ServiceDate = day(t, "2026-12-01") },
			kind: authpilot.DeadlineServiceAtRisk,
		},
		{
			name: "partially approved case's service date is not at risk",
			edit: func(c *authpilot.Case) {
				notified("", authpilot.StatusPartiallyApproved)(c)
				c.ServiceDate = day(t, "2026-12-01")
			},
			kind: authpilot.DeadlineServiceAtRisk,
		},
		{
			name: "rejected case's service date is at risk",
			edit: func(c *authpilot.Case) { c.Status = authpilot.StatusRejected; c.ServiceDate = day(t, "2026-12-01") },
			kind: authpilot.DeadlineServiceAtRisk, want: at(t, "2026-11-23 00:00"),
		},
		{
			name: "no notice date, no windows",
			edit: func(c *authpilot.Case) {
				c.Status = authpilot.StatusDenied
				c.Determination = &authpilot.Determination{Status: authpilot.StatusDenied}
			},
			kind: authpilot.DeadlineAppeal,
		},
		{
			name: "MA reconsideration 65 days",
			edit: notified("", authpilot.StatusDenied),
			kind: authpilot.DeadlineAppeal, want: eod("2027-01-24"), rule: "422.582",
		},
		{
			name: "ERISA appeal 180 days after a partial approval",
			edit: notified(authpilot.PlanERISA, authpilot.StatusPartiallyApproved),
			kind: authpilot.DeadlineAppeal, want: eod("2027-05-19"), rule: "2560.503-1(h)",
		},
		{
			name: "commercial appeal 180 days after a modification",
			edit: notified(authpilot.PlanCommercial, authpilot.StatusModified),
			kind: authpilot.DeadlineAppeal, want: eod("2027-05-19"), rule: "147.136",
		},
		{
			name: "Medicaid appeal 60 days, fair hearing varies",
			edit: notified(authpilot.PlanMedicaid, authpilot.StatusDenied),
			kind: authpilot.DeadlineAppeal, want: eod("2027-01-19"), rule: "fair hearing",
		},
		{
			name: "traditional Medicare has no default appeal deadline",
			edit: notified(authpilot.PlanTraditionalMedicare, authpilot.StatusDenied),
			kind: authpilot.DeadlineAppeal,
		},
		{
			name: "payer appeal override",
			rules: func(r *schedules.Rules) {
				r.Payers = map[string]schedules.PayerRules{"acme-ma": {Appeal: ptr(120 * schedules.Day)}}
			},
			edit: notified(authpilot.PlanTraditionalMedicare, authpilot.StatusDenied),
			kind: authpilot.DeadlineAppeal, want: eod("2027-03-20"), rule: "payer config: appeal within 120 days",
		},
		{
			name: "approval that lapses before the service date",
			edit: func(c *authpilot.Case) {
				c.Status = authpilot.StatusApproved
				c.ServiceDate = day(t, "2027-01-12")
				c.Determination = &authpilot.Determination{ValidTo: day(t, "2026-12-15")}
			},
			kind: authpilot.DeadlineAuthExpiry, want: eod("2026-12-15"), rule: schedules.RuleExpiresBeforeService,
		},
		{
			name: "approval that covers the service date",
			edit: func(c *authpilot.Case) {
				c.Status = authpilot.StatusModified
				c.ServiceDate = day(t, "2026-12-10")
				c.Determination = &authpilot.Determination{ValidTo: day(t, "2026-12-15")}
			},
			kind: authpilot.DeadlineAuthExpiry, want: eod("2026-12-15"), rule: "covers the planned service date",
		},
		{
			name: "approval without validity end",
			edit: func(c *authpilot.Case) {
				c.Status = authpilot.StatusApproved
				c.Determination = &authpilot.Determination{}
			},
			kind: authpilot.DeadlineAuthExpiry,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules := schedules.DefaultRules()
			if tc.rules != nil {
				tc.rules(&rules)
			}
			c := phiCase(t)
			tc.edit(c)
			ds := find(rules.Compute(c, cal, at(t, "2026-11-21 09:00")), tc.kind)
			got, ok := one(t, string(tc.kind)+" deadlines", ds, !tc.want.IsZero())
			if !ok {
				return
			}
			if !got.Due.Equal(tc.want) {
				t.Errorf("due %v, want %v", got.Due, tc.want)
			}
			if got.Due.Location() != ny {
				t.Errorf("due in %v, want the practice zone", got.Due.Location())
			}
			if !strings.Contains(got.Rule, tc.rule) {
				t.Errorf("rule %q does not mention %q", got.Rule, tc.rule)
			}
		})
	}
}

// TestPracticeClosedDaysDoNotExtendPayerWindows: the practice closes the
// Friday after Thanksgiving and Christmas Eve. A payer's business-day
// windows (peer-to-peer, a traditional-Medicare decision) run on the
// federal calendar all the same; the practice's own work (service date at
// risk) still skips its closed days.
func TestPracticeClosedDaysDoNotExtendPayerWindows(t *testing.T) {
	cal := schedules.NewCalendar(newYork(t), []authpilot.Date{day(t, "2026-11-27"), day(t, "2026-12-24")})
	rules := schedules.DefaultRules()
	now := at(t, "2026-11-21 09:00")

	denied := phiCase(t)
	denied.Status = authpilot.StatusDenied
	denied.Determination = &authpilot.Determination{Status: authpilot.StatusDenied, NoticeDate: day(t, "2026-11-20")}
	// Nov 23, 24, 25, (26 Thanksgiving), 27, 30, Dec 1, 2: the 7th federal business day is Dec 2.
	if got := find(rules.Compute(denied, cal, now), authpilot.DeadlinePeerToPeer); len(got) != 1 || !got[0].Due.Equal(at(t, "2026-12-02 23:59:59")) {
		t.Errorf("peer-to-peer = %v, want Dec 2 end of day (the practice's closed Nov 27 does not count)", got)
	}

	// A payer that sets its own closed day: its window skips it.
	ownCal := schedules.DefaultRules()
	ownCal.Payers = map[string]schedules.PayerRules{"acme-ma": {ClosedDays: []authpilot.Date{day(t, "2026-11-27")}}}
	if got := find(ownCal.Compute(denied, cal, now), authpilot.DeadlinePeerToPeer); len(got) != 1 || !got[0].Due.Equal(at(t, "2026-12-03 23:59:59")) {
		t.Errorf("peer-to-peer with the payer's own closed day = %v, want Dec 3 end of day", got)
	}

	tm := phiCase(t)
	tm.PlanType = authpilot.PlanTraditionalMedicare
	tm.SubmittedAt = ptr(at(t, "2026-11-20 10:30"))
	if got := find(rules.Compute(tm, cal, now), authpilot.DeadlineDecisionDue); len(got) != 1 || !got[0].Due.Equal(at(t, "2026-12-07 10:30")) {
		t.Errorf("decision due = %v, want Dec 7 10:30 (10 federal business days)", got)
	}

	pending := phiCase(t)
	pending.ServiceDate = day(t, "2026-12-02")
	// Dec 1, 30 Nov, (27 closed), (26 holiday), 25, 24, 23: 5 practice business days before Dec 2 is Nov 23.
	if got := find(rules.Compute(pending, cal, now), authpilot.DeadlineServiceAtRisk); len(got) != 1 || !got[0].Due.Equal(at(t, "2026-11-23 00:00")) {
		t.Errorf("service at risk = %v, want Nov 23 (the practice's closed Nov 27 counts)", got)
	}
}

func TestComputeClosedAndSorted(t *testing.T) {
	cal := schedules.NewCalendar(newYork(t), nil)
	rules := schedules.DefaultRules()
	for _, st := range []authpilot.Status{authpilot.StatusCancelled, authpilot.StatusWithdrawn, authpilot.StatusExpired, authpilot.StatusNotRequired} {
		t.Run(string(st), func(t *testing.T) {
			c := phiCase(t)
			c.Status = st
			c.SubmittedAt = ptr(at(t, "2026-11-20 10:30"))
			c.ServiceDate = day(t, "2026-12-01")
			if ds := rules.Compute(c, cal, at(t, "2026-11-21 09:00")); len(ds) != 0 {
				t.Fatalf("closed case has deadlines %v", ds)
			}
		})
	}
	// A request the payer refused is owed no decision: no decision-due or
	// follow-up deadline, but its service date is still at risk.
	t.Run("rejected", func(t *testing.T) {
		c := phiCase(t)
		c.Status = authpilot.StatusRejected
		c.SubmittedAt = ptr(at(t, "2026-11-20 10:30"))
		c.ServiceDate = day(t, "2026-12-01")
		ds := rules.Compute(c, cal, at(t, "2026-11-21 09:00"))
		if len(ds) != 1 || ds[0].Kind != authpilot.DeadlineServiceAtRisk {
			t.Fatalf("rejected case deadlines %v, want only service_date_at_risk", ds)
		}
	})
	t.Run("soonest first", func(t *testing.T) {
		c := phiCase(t)
		c.SubmittedAt = ptr(at(t, "2026-11-20 10:30"))
		c.ServiceDate = day(t, "2026-12-01")
		ds := rules.Compute(c, cal, at(t, "2026-11-21 09:00"))
		want := []authpilot.DeadlineKind{authpilot.DeadlineServiceAtRisk, authpilot.DeadlineDecisionDue, authpilot.DeadlineFollowUp}
		if len(ds) != len(want) {
			t.Fatalf("got %v", ds)
		}
		for i, k := range want {
			if ds[i].Kind != k {
				t.Errorf("deadline %d is %s, want %s", i, ds[i].Kind, k)
			}
		}
	})
}
