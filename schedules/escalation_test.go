package schedules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/schedules"
)

// TestComputeEscalation: the deadlines derive from the case's escalation
// records (issue 11): the ERISA clock pauses from an information request
// until its response, an extension moves the decision, a scheduled
// peer-to-peer replaces its window with a reminder, an overturn or an
// approval ends the peer-to-peer and appeal deadlines, an appeal filed has
// its own decision clock.
func TestComputeEscalation(t *testing.T) {
	cal := schedules.NewCalendar(newYork(t), nil)
	rules := schedules.DefaultRules()
	now := at(t, "2026-11-25 12:00")
	submitted := at(t, "2026-11-02 09:00")
	denied := func(c *authpilot.Case) {
		c.Status = authpilot.StatusDenied
		c.Determination = &authpilot.Determination{Status: authpilot.StatusDenied, NoticeDate: day(t, "2026-11-20")}
	}
	tests := []struct {
		name  string
		setup func(c *authpilot.Case)
		// want maps a kind to its due time ("" = absent); kinds not listed
		// are not checked.
		want map[authpilot.DeadlineKind]string
		rule map[authpilot.DeadlineKind]string
	}{
		{"ERISA decision clock runs without a request", func(c *authpilot.Case) { c.PlanType = authpilot.PlanERISA },
			map[authpilot.DeadlineKind]string{authpilot.DeadlineDecisionDue: "2026-11-17 09:00"}, nil},
		{"ERISA clock paused while the request is open", func(c *authpilot.Case) {
			c.PlanType, c.Status = authpilot.PlanERISA, authpilot.StatusPended
			c.InfoRequests = []authpilot.InfoRequest{{RequestedAt: at(t, "2026-11-05 09:00"), ResponseDue: day(t, "2026-11-30")}}
		}, map[authpilot.DeadlineKind]string{authpilot.DeadlineDecisionDue: "", authpilot.DeadlineInfoResponse: "2026-11-30 23:59:59"}, nil},
		{"ERISA clock resumes after the response, moved by the pause", func(c *authpilot.Case) {
			c.PlanType = authpilot.PlanERISA
			c.InfoRequests = []authpilot.InfoRequest{{RequestedAt: at(t, "2026-11-05 09:00"), ClosedAt: ptr(at(t, "2026-11-09 09:00"))}}
		}, map[authpilot.DeadlineKind]string{authpilot.DeadlineDecisionDue: "2026-11-21 09:00", authpilot.DeadlineInfoResponse: ""},
			map[authpilot.DeadlineKind]string{authpilot.DeadlineDecisionDue: "clock paused 4d"}},
		{"MA clock keeps running during a request", func(c *authpilot.Case) {
			c.Status = authpilot.StatusPended
			c.InfoRequests = []authpilot.InfoRequest{{RequestedAt: at(t, "2026-11-05 09:00")}}
		}, map[authpilot.DeadlineKind]string{authpilot.DeadlineDecisionDue: "2026-11-09 09:00", authpilot.DeadlineInfoResponse: ""}, nil},
		{"extension moves the decision", func(c *authpilot.Case) {
			c.Extensions = []authpilot.Extension{{At: at(t, "2026-11-06 10:00"), DecisionDue: at(t, "2026-11-23 09:00"), Reason: "x"}}
		}, map[authpilot.DeadlineKind]string{authpilot.DeadlineDecisionDue: "2026-11-23 09:00"},
			map[authpilot.DeadlineKind]string{authpilot.DeadlineDecisionDue: "payer extension"}},
		{"denial: window and appeal filing", denied, map[authpilot.DeadlineKind]string{
			authpilot.DeadlinePeerToPeer: "2026-12-02 23:59:59", authpilot.DeadlineAppeal: "2027-01-24 23:59:59",
			authpilot.DeadlinePeerToPeerCall: "", authpilot.DeadlineAppealDecision: ""}, nil},
		{"P2P scheduled: a reminder replaces the window", func(c *authpilot.Case) {
			denied(c)
			c.PeerToPeers = []authpilot.PeerToPeer{{ScheduledAt: ptr(at(t, "2026-11-27 14:00"))}}
		}, map[authpilot.DeadlineKind]string{authpilot.DeadlinePeerToPeer: "", authpilot.DeadlinePeerToPeerCall: "2026-11-27 14:00",
			authpilot.DeadlineAppeal: "2027-01-24 23:59:59"}, nil},
		{"P2P upheld: appeal filing stays", func(c *authpilot.Case) {
			denied(c)
			c.PeerToPeers = []authpilot.PeerToPeer{{ScheduledAt: ptr(at(t, "2026-11-24 14:00")), Outcome: authpilot.OutcomeUpheld}}
		}, map[authpilot.DeadlineKind]string{authpilot.DeadlinePeerToPeer: "", authpilot.DeadlinePeerToPeerCall: "",
			authpilot.DeadlineAppeal: "2027-01-24 23:59:59"}, nil},
		{"P2P overturned: no P2P or appeal deadline while the payer catches up", func(c *authpilot.Case) {
			denied(c)
			c.PeerToPeers = []authpilot.PeerToPeer{{ScheduledAt: ptr(at(t, "2026-11-24 14:00")), Outcome: authpilot.OutcomeOverturned}}
		}, map[authpilot.DeadlineKind]string{authpilot.DeadlinePeerToPeer: "", authpilot.DeadlinePeerToPeerCall: "",
			authpilot.DeadlineAppeal: "", authpilot.DeadlineAppealDecision: ""}, nil},
		{"appeal filed: its decision clock replaces the filing window", func(c *authpilot.Case) {
			denied(c)
			due, rule := authpilot.AppealDecisionDue(c.PlanType, authpilot.AppealReconsideration, false, at(t, "2026-11-23 10:00"), newYork(t))
			c.Appeals = []authpilot.Appeal{{Level: authpilot.AppealReconsideration, FiledAt: at(t, "2026-11-23 10:00"), DecisionDue: due, DueRule: rule}}
		}, map[authpilot.DeadlineKind]string{authpilot.DeadlineAppeal: "", authpilot.DeadlineAppealDecision: "2026-12-23 10:00"},
			map[authpilot.DeadlineKind]string{authpilot.DeadlineAppealDecision: "422.590"}},
		{"appeal decided: no appeal deadline", func(c *authpilot.Case) {
			denied(c)
			c.Appeals = []authpilot.Appeal{{FiledAt: at(t, "2026-11-23 10:00"), DecisionDue: at(t, "2026-12-23 10:00"), Outcome: authpilot.OutcomeUpheld}}
		}, map[authpilot.DeadlineKind]string{authpilot.DeadlineAppeal: "", authpilot.DeadlineAppealDecision: ""}, nil},
		{"approved after an open appeal: nothing of the appeal alerts", func(c *authpilot.Case) {
			denied(c)
			c.Appeals = []authpilot.Appeal{{FiledAt: at(t, "2026-11-23 10:00"), DecisionDue: at(t, "2026-12-23 10:00")}}
			c.PeerToPeers = []authpilot.PeerToPeer{{ScheduledAt: ptr(at(t, "2026-11-27 14:00"))}}
			c.Status = authpilot.StatusApproved
		}, map[authpilot.DeadlineKind]string{authpilot.DeadlineAppeal: "", authpilot.DeadlineAppealDecision: "",
			authpilot.DeadlinePeerToPeer: "", authpilot.DeadlinePeerToPeerCall: ""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := phiCase(t)
			c.SubmittedAt = &submitted
			c.ServiceDate = day(t, "2027-01-20")
			tt.setup(c)
			ds := rules.Compute(c, cal, now)
			for k, want := range tt.want {
				got := find(ds, k)
				if want == "" {
					if len(got) != 0 {
						t.Errorf("%s: got %v, want none", k, got[0].Due)
					}
					continue
				}
				if len(got) != 1 || !got[0].Due.Equal(at(t, want)) {
					t.Errorf("%s: got %v, want %s", k, got, want)
					continue
				}
				if r := tt.rule[k]; r != "" && !strings.Contains(got[0].Rule, r) {
					t.Errorf("%s rule %q does not say %q", k, got[0].Rule, r)
				}
			}
		})
	}
}

// TestCheckSilenced: an acknowledged deadline never alerts; a snoozed one
// alerts again after the snooze; a deadline that moves alerts again.
func TestCheckSilenced(t *testing.T) {
	rules := schedules.DefaultRules()
	c := phiCase(t)
	d := authpilot.Deadline{Kind: authpilot.DeadlineDecisionDue, Due: at(t, "2026-11-27 10:30")}
	now := at(t, "2026-11-26 12:00") // inside the 24h window
	if n := len(rules.Check(c, []authpilot.Deadline{d}, now)); n != 1 {
		t.Fatalf("before any ack: %d alerts, want 1", n)
	}
	c.DeadlineAcks = []authpilot.DeadlineAck{{Kind: d.Kind, Due: d.Due, Until: ptr(at(t, "2026-11-26 18:00"))}}
	if n := len(rules.Check(c, []authpilot.Deadline{d}, now)); n != 0 {
		t.Errorf("snoozed: %d alerts, want 0", n)
	}
	if n := len(rules.Check(c, []authpilot.Deadline{d}, at(t, "2026-11-26 18:00"))); n != 1 {
		t.Errorf("after the snooze: %d alerts, want 1", n)
	}
	c.DeadlineAcks[0].Until = nil
	if n := len(rules.Check(c, []authpilot.Deadline{d}, at(t, "2026-11-28 18:00"))); n != 0 {
		t.Errorf("acknowledged: %d alerts (missed too), want 0", n)
	}
	moved := d
	moved.Due = d.Due.Add(48 * time.Hour)
	if n := len(rules.Check(c, []authpilot.Deadline{moved}, at(t, "2026-11-28 12:00"))); n != 1 {
		t.Errorf("moved deadline: %d alerts, want 1", n)
	}
}
