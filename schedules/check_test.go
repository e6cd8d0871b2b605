package schedules_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/schedules"
)

func TestCheckWindows(t *testing.T) {
	rules := schedules.DefaultRules() // leads 48h, 24h
	due := at(t, "2026-11-27 10:30")
	ds := []authpilot.Deadline{{Kind: authpilot.DeadlineDecisionDue, Due: due, Rule: "r"}}
	tests := []struct {
		name     string
		now      time.Time
		typ      authpilot.AlertType // "" = no alert
		phase    string
		severity authpilot.Severity
		title    string
	}{
		{name: "well before", now: due.Add(-72 * time.Hour)},
		{name: "just before the 48h window", now: due.Add(-48*time.Hour - time.Nanosecond)},
		{name: "48h window opens", now: due.Add(-48 * time.Hour), typ: authpilot.AlertDeadlineApproaching,
			phase: "lead=48h", severity: authpilot.SeverityInfo, title: "Payer decision due in 48h"},
		{name: "inside the 48h window", now: due.Add(-25 * time.Hour), typ: authpilot.AlertDeadlineApproaching,
			phase: "lead=48h", severity: authpilot.SeverityInfo},
		{name: "24h window opens", now: due.Add(-24 * time.Hour), typ: authpilot.AlertDeadlineApproaching,
			phase: "lead=24h", severity: authpilot.SeverityWarning, title: "Payer decision due in 24h"},
		{name: "last instant before due", now: due.Add(-time.Nanosecond), typ: authpilot.AlertDeadlineApproaching,
			phase: "lead=24h", severity: authpilot.SeverityWarning},
		{name: "at due", now: due, typ: authpilot.AlertDeadlineMissed, phase: "missed",
			severity: authpilot.SeverityCritical, title: "Payer decision overdue"},
		{name: "long after", now: due.Add(30 * 24 * time.Hour), typ: authpilot.AlertDeadlineMissed, phase: "missed",
			severity: authpilot.SeverityCritical},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := one(t, "alerts", rules.Check(phiCase(t), ds, tc.now), tc.typ != "")
			if !ok {
				return
			}
			if a.Type != tc.typ || a.Severity != tc.severity {
				t.Errorf("type %s severity %s, want %s %s", a.Type, a.Severity, tc.typ, tc.severity)
			}
			if want := "deadline/01JD000000000000000000CASE/decision_due/2026-11-27T15:30:00Z/" + tc.phase; a.DedupKey != want {
				t.Errorf("DedupKey %q, want %q", a.DedupKey, want)
			}
			if tc.title != "" && a.Title != tc.title {
				t.Errorf("title %q, want %q", a.Title, tc.title)
			}
			if a.Action == "" || a.Deadline == nil || !a.Deadline.Due.Equal(due) || !a.At.Equal(tc.now) {
				t.Errorf("alert lacks action, deadline or time: %+v", a)
			}
			if a.CaseID == "" || a.Payer != "acme-ma" || a.Track != authpilot.TrackSurgery || a.Status != authpilot.StatusSubmitted || a.ExternalRef != "ORD-7781" {
				t.Errorf("alert lacks case identity: %+v", a)
			}
		})
	}
}

func TestCheckLeadOrderAndDuplicates(t *testing.T) {
	rules := schedules.DefaultRules()
	rules.LeadTimes = []time.Duration{time.Hour, 72 * time.Hour, 0, time.Hour} // unsorted, junk
	due := at(t, "2026-11-27 10:30")
	ds := []authpilot.Deadline{{Kind: authpilot.DeadlineAppeal, Due: due}}
	tests := []struct {
		now   time.Time
		phase string
	}{
		{due.Add(-73 * time.Hour), ""},
		{due.Add(-70 * time.Hour), "lead=3d"},
		{due.Add(-30 * time.Minute), "lead=1h"},
	}
	for _, tc := range tests {
		t.Run(tc.now.Format(time.RFC3339), func(t *testing.T) {
			alerts := rules.Check(phiCase(t), ds, tc.now)
			if tc.phase == "" {
				if len(alerts) != 0 {
					t.Fatalf("alerts %v, want none", alerts)
				}
				return
			}
			if len(alerts) != 1 || !strings.HasSuffix(alerts[0].DedupKey, "/"+tc.phase) {
				t.Fatalf("alerts %v, want one for %s", alerts, tc.phase)
			}
		})
	}
}

func TestCheckFollowUp(t *testing.T) {
	rules := schedules.DefaultRules()
	due := at(t, "2026-11-27 10:30")
	ds := []authpilot.Deadline{{Kind: authpilot.DeadlineFollowUp, Due: due}}
	if a := rules.Check(phiCase(t), ds, due.Add(-time.Minute)); len(a) != 0 {
		t.Fatalf("follow-up alert before due: %v", a)
	}
	for _, now := range []time.Time{due, due.Add(6 * 24 * time.Hour)} {
		a := rules.Check(phiCase(t), ds, now)
		if len(a) != 1 {
			t.Fatalf("got %d alerts at %v, want 1", len(a), now)
		}
		if a[0].Type != authpilot.AlertDeadlineApproaching || !strings.HasSuffix(a[0].DedupKey, "/due") ||
			!strings.Contains(strings.ToLower(a[0].Action), "follow up with the payer") {
			t.Errorf("follow-up alert %+v", a[0])
		}
	}
}

func TestCheckAuthorizationExpiry(t *testing.T) {
	cal := schedules.NewCalendar(newYork(t), nil)
	validTo := day(t, "2026-12-15")
	end := at(t, "2026-12-15 23:59:59")
	tests := []struct {
		name        string
		serviceDate string
		warn        *time.Duration // payer override
		now         time.Time
		phase       string // "" = none
		severity    authpilot.Severity
		title       string
	}{
		{name: "covers the service date: silent before", serviceDate: "2026-12-10", now: end.Add(-24 * time.Hour)},
		{name: "covers the service date: silent after", serviceDate: "2026-12-10", now: end.Add(time.Hour)},
		{name: "no service date: before the warning", now: end.Add(-15 * 24 * time.Hour)},
		{name: "no service date: warning", now: end.Add(-14 * 24 * time.Hour), phase: "lead=14d",
			severity: authpilot.SeverityInfo, title: "Authorization expires in 14d"},
		{name: "no service date: expired", now: end, phase: "missed", severity: authpilot.SeverityCritical, title: "Authorization expired"},
		{name: "lapses before service: at once", serviceDate: "2027-01-12", now: at(t, "2026-11-20 12:00"),
			phase: "before-service", severity: authpilot.SeverityWarning, title: "Approval expires before the planned service date"},
		{name: "lapses before service: warning window", serviceDate: "2027-01-12", now: end.Add(-13 * 24 * time.Hour),
			phase: "lead=14d", severity: authpilot.SeverityInfo, title: "Authorization expires in 14d, before the planned service date"},
		{name: "lapses before service: payer warning 24h", serviceDate: "2027-01-12", warn: ptr(24 * time.Hour), now: end.Add(-2 * time.Hour),
			phase: "lead=24h", severity: authpilot.SeverityWarning},
		{name: "lapses before service: payer warning not yet", serviceDate: "2027-01-12", warn: ptr(24 * time.Hour), now: end.Add(-13 * 24 * time.Hour),
			phase: "before-service", severity: authpilot.SeverityWarning},
		{name: "lapses before service: expired", serviceDate: "2027-01-12", now: end.Add(24 * time.Hour),
			phase: "missed", severity: authpilot.SeverityCritical},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules := schedules.DefaultRules()
			if tc.warn != nil {
				rules.Payers = map[string]schedules.PayerRules{"acme-ma": {AuthExpiryWarning: tc.warn}}
			}
			c := phiCase(t)
			c.Status = authpilot.StatusApproved
			c.Determination = &authpilot.Determination{Status: authpilot.StatusApproved, AuthNumber: "A1", ValidTo: validTo}
			if tc.serviceDate != "" {
				c.ServiceDate = day(t, tc.serviceDate)
			}
			ds := rules.Compute(c, cal, tc.now)
			if len(find(ds, authpilot.DeadlineAuthExpiry)) != 1 {
				t.Fatalf("deadlines %v lack authorization_expiry", ds)
			}
			a, ok := one(t, "alerts", rules.Check(c, ds, tc.now), tc.phase != "")
			if !ok {
				return
			}
			if !strings.HasSuffix(a.DedupKey, "/"+tc.phase) || a.Severity != tc.severity {
				t.Errorf("key %q severity %s, want phase %s severity %s", a.DedupKey, a.Severity, tc.phase, tc.severity)
			}
			if tc.title != "" && a.Title != tc.title {
				t.Errorf("title %q, want %q", a.Title, tc.title)
			}
		})
	}
}

func TestAlertsCarryNoPHI(t *testing.T) {
	cal := schedules.NewCalendar(newYork(t), nil)
	rules := schedules.DefaultRules()
	c := phiCase(t)
	c.Status = authpilot.StatusDenied
	c.SubmittedAt = ptr(at(t, "2026-11-01 10:00"))
	c.ServiceDate = day(t, "2026-11-30")
	c.Determination = &authpilot.Determination{Status: authpilot.StatusDenied, NoticeDate: day(t, "2026-11-10")}
	now := at(t, "2027-06-01 09:00") // everything missed
	ds := rules.Compute(c, cal, now)
	alerts := rules.Check(c, ds, now)
	if len(alerts) != 2 { // peer-to-peer, appeal (a decided case's service date is not at risk)
		t.Fatalf("got %d alerts, want 2: %v", len(alerts), alerts)
	}
	phi := []string{"Zebediah", "Quillfeather", "1957", "XQZ998877", "22633", "M43.16", "M4316", "2026-11-30"}
	for _, a := range alerts {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b) + a.DedupKey
		for _, p := range phi {
			if strings.Contains(text, p) {
				t.Errorf("alert %s leaks %q: %s", a.Type, p, text)
			}
		}
	}
}

func TestDigest(t *testing.T) {
	now := at(t, "2026-11-23 08:00")
	d := func(s string) *authpilot.Deadline {
		return &authpilot.Deadline{Kind: authpilot.DeadlineDecisionDue, Due: at(t, s)}
	}
	items := []authpilot.DigestItem{
		{CaseID: "c", Deadline: d("2026-11-27 10:30")},
		{CaseID: "z"},
		{CaseID: "b", Deadline: d("2026-11-20 10:30")},
		{CaseID: "a", Deadline: d("2026-11-27 10:30")},
	}
	a := schedules.Digest(now, items)
	var got []string
	for _, it := range a.Items {
		got = append(got, it.CaseID)
	}
	if strings.Join(got, ",") != "b,a,c,z" {
		t.Errorf("items in order %v, want b,a,c,z", got)
	}
	if items[0].CaseID != "c" {
		t.Error("Digest reordered the caller's slice")
	}
	if a.Type != authpilot.AlertDigest || a.Severity != authpilot.SeverityInfo || !a.At.Equal(now) {
		t.Errorf("digest %+v", a)
	}
	if a.Title != "Daily digest: 4 open items, 1 past due" {
		t.Errorf("title %q", a.Title)
	}
	if a.DedupKey != "digest/2026-11-23" {
		t.Errorf("DedupKey %q", a.DedupKey)
	}
	if e := schedules.Digest(now, nil); e.Title != "Daily digest: 0 open items" || len(e.Items) != 0 {
		t.Errorf("empty digest %+v", e)
	}
}

// TestServiceAtRiskTitle: the service-at-risk alert is due days before the
// service; its title says so rather than reading as the service date.
func TestServiceAtRiskTitle(t *testing.T) {
	cal := schedules.NewCalendar(newYork(t), nil)
	rules := schedules.DefaultRules()
	c := phiCase(t)
	c.ServiceDate = day(t, "2026-12-01")
	for _, tc := range []struct{ now, want string }{
		{"2026-11-21 09:00", "Service date at risk in 48h (5 business days before the service): not authorized yet"},
		{"2026-11-23 09:00", "Service date at risk: still not authorized 5 business days before the service"},
	} {
		now := at(t, tc.now)
		alerts := rules.Check(c, find(rules.Compute(c, cal, now), authpilot.DeadlineServiceAtRisk), now)
		if len(alerts) != 1 || alerts[0].Title != tc.want {
			t.Errorf("at %s: alerts %v, want one titled %q", tc.now, alerts, tc.want)
		}
	}
}

// TestCheckLeadTimesPerKind: an appeal is prepared a week ahead while a
// decision is chased two days ahead; a kind without its own list keeps the
// default.
func TestCheckLeadTimesPerKind(t *testing.T) {
	rules := schedules.DefaultRules() // 48h, 24h
	rules.KindLeadTimes = map[authpilot.DeadlineKind][]time.Duration{
		authpilot.DeadlineAppeal: {2 * schedules.Day, 7 * schedules.Day},
	}
	due := at(t, "2027-01-24 23:59:59")
	tests := []struct {
		kind  authpilot.DeadlineKind
		now   time.Time
		phase string // "" = no alert
	}{
		{authpilot.DeadlineAppeal, due.Add(-8 * schedules.Day), ""},
		{authpilot.DeadlineAppeal, due.Add(-6 * schedules.Day), "lead=7d"},
		{authpilot.DeadlineAppeal, due.Add(-47 * time.Hour), "lead=48h"},
		{authpilot.DeadlineAppeal, due.Add(-23 * time.Hour), "lead=48h"}, // no 24h for appeals
		{authpilot.DeadlineDecisionDue, due.Add(-6 * schedules.Day), ""},
		{authpilot.DeadlineDecisionDue, due.Add(-23 * time.Hour), "lead=24h"},
	}
	for _, tc := range tests {
		alerts := rules.Check(phiCase(t), []authpilot.Deadline{{Kind: tc.kind, Due: due}}, tc.now)
		switch {
		case tc.phase == "" && len(alerts) != 0:
			t.Errorf("%s at %v: alerts %v, want none", tc.kind, tc.now, alerts)
		case tc.phase != "" && (len(alerts) != 1 || !strings.HasSuffix(alerts[0].DedupKey, "/"+tc.phase)):
			t.Errorf("%s at %v: alerts %v, want one for %s", tc.kind, tc.now, alerts, tc.phase)
		}
	}
}
