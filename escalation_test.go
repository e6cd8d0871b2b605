package authpilot

import (
	"testing"
	"time"
)

func TestWatchEveryDailyWhileEscalationOpen(t *testing.T) {
	week := 7 * 24 * time.Hour
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		c    Case
		want time.Duration
	}{
		{"denied, nothing open", Case{Status: StatusDenied}, week},
		{"denied, P2P scheduled", Case{Status: StatusDenied, PeerToPeers: []PeerToPeer{{ScheduledAt: &at}}}, 24 * time.Hour},
		{"denied, P2P upheld", Case{Status: StatusDenied, PeerToPeers: []PeerToPeer{{Outcome: OutcomeUpheld}}}, week},
		{"denied, P2P overturned, payer not caught up", Case{Status: StatusDenied, PeerToPeers: []PeerToPeer{{Outcome: OutcomeOverturned}}}, 24 * time.Hour},
		{"partial, appeal open", Case{Status: StatusPartiallyApproved, Appeals: []Appeal{{FiledAt: at}}}, 24 * time.Hour},
		{"approved after the overturn", Case{Status: StatusApproved, PeerToPeers: []PeerToPeer{{Outcome: OutcomeOverturned}}}, week},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.WatchEvery(week); got != tt.want {
				t.Errorf("WatchEvery = %v, want %v", got, tt.want)
			}
		})
	}
	if got := (&Case{Status: StatusDenied, Appeals: []Appeal{{}}}).WatchEvery(time.Hour); got != time.Hour {
		t.Errorf("a cadence under a day is kept, got %v", got)
	}
}

func TestAppealDecisionDueAndExtensionLimit(t *testing.T) {
	filed := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		plan      PlanType
		level     AppealLevel
		expedited bool
		want      time.Time
	}{
		{PlanMedicareAdvantage, AppealReconsideration, false, filed.AddDate(0, 0, 30)},
		{PlanMedicareAdvantage, AppealReconsideration, true, filed.Add(72 * time.Hour)},
		{PlanERISA, AppealInternal, false, filed.AddDate(0, 0, 30)},
		{PlanQHP, AppealInternal, false, filed.AddDate(0, 0, 30)},
		{PlanCommercial, AppealExternal, false, filed.AddDate(0, 0, 45)},
	}
	for _, tt := range tests {
		got, rule := AppealDecisionDue(tt.plan, tt.level, tt.expedited, filed, time.UTC)
		if !got.Equal(tt.want) || rule == "" {
			t.Errorf("%s %s expedited=%v: %v (%q), want %v", tt.plan, tt.level, tt.expedited, got, rule, tt.want)
		}
	}
	for plan, want := range map[PlanType]int{PlanMedicareAdvantage: 14, PlanMedicaid: 14, PlanCHIP: 14, PlanERISA: 15} {
		if got, _ := ExtensionLimit(plan); got != want {
			t.Errorf("ExtensionLimit(%s) = %d, want %d", plan, got, want)
		}
	}
}

// TestApplyTracksInformationRequests: a pended observation opens an
// information request with the payer's words and due date; the payer moving
// the case on closes it (the ERISA clock runs again).
func TestApplyTracksInformationRequests(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	c := &Case{ID: "c1", Status: StatusSubmitted, PlanType: PlanERISA}
	c.Apply(Observation{Status: StatusPended, Determination: &Determination{InfoRequested: "PT notes", ResponseDue: NewDate(2026, 12, 10)}}, nil, "agent:x", "", now)
	r := c.OpenInfoRequest()
	if r == nil || r.Asked != "PT notes" || r.ResponseDue != NewDate(2026, 12, 10) || !r.RequestedAt.Equal(now) {
		t.Fatalf("open request = %+v", r)
	}
	if _, open := c.ClockPause(now.Add(-time.Hour)); !open.Equal(now) {
		t.Errorf("ERISA clock not paused from the request: %v", open)
	}
	c.Apply(Observation{Status: StatusSubmitted}, nil, "agent:x", "", now.Add(48*time.Hour))
	if c.OpenInfoRequest() != nil {
		t.Fatal("request still open after the payer moved on")
	}
	if paused, open := c.ClockPause(now.Add(-time.Hour)); paused != 48*time.Hour || !open.IsZero() {
		t.Errorf("pause = %v open %v, want 48h closed", paused, open)
	}
}
