package authpilot

import (
	"testing"
	"time"
)

func TestWatchDue(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	decided := time.Date(2026, 12, 1, 10, 0, 0, 0, ny)
	week, tail := 7*24*time.Hour, 14*24*time.Hour
	watched := decided.AddDate(0, 0, 7)
	tests := []struct {
		name    string
		status  Status
		service Date
		watched *time.Time
		now     time.Time
		every   time.Duration
		want    bool
	}{
		{"pending cases are not watched", StatusPended, NewDate(2026, 12, 28), nil, decided.AddDate(0, 1, 0), week, false},
		{"denied, before the week is up", StatusDenied, NewDate(2026, 12, 28), nil, time.Date(2026, 12, 7, 23, 59, 0, 0, ny), week, false},
		{"denied, the week is up", StatusDenied, NewDate(2026, 12, 28), nil, decided.AddDate(0, 0, 7), week, true},
		// Whole days are calendar days: the poll a week later sees the case
		// whatever its time of day.
		{"denied, a week later at an earlier poll", StatusDenied, NewDate(2026, 12, 28), nil, time.Date(2026, 12, 8, 9, 0, 0, 0, ny), week, true},
		{"hourly cadence counts hours", StatusDenied, NewDate(2026, 12, 28), nil, decided.Add(5*time.Hour - time.Minute), 5 * time.Hour, false},
		{"approved, a week after the last watch", StatusApproved, NewDate(2026, 12, 28), &watched, watched.AddDate(0, 0, 7), week, true},
		{"approved, a day after the last watch", StatusApproved, NewDate(2026, 12, 28), &watched, watched.AddDate(0, 0, 1), week, false},
		{"modified, on the last day of the tail", StatusModified, NewDate(2026, 12, 3), nil, time.Date(2026, 12, 17, 23, 0, 0, 0, ny), week, true},
		{"partial, the day after the tail", StatusPartiallyApproved, NewDate(2026, 12, 3), nil, time.Date(2026, 12, 18, 0, 30, 0, 0, ny), week, false},
		{"watching off", StatusDenied, NewDate(2026, 12, 28), nil, decided.AddDate(0, 0, 8), 0, false},
		{"expired cases are not watched", StatusExpired, NewDate(2026, 12, 28), nil, decided.AddDate(0, 0, 8), week, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decided
			c := &Case{Status: tt.status, ServiceDate: tt.service, WatchedAt: tt.watched,
				Determination: &Determination{Status: tt.status, DecidedAt: &d}}
			if got := c.WatchDue(tt.now, tt.every, tail); got != tt.want {
				t.Errorf("WatchDue = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLapse(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	from, to := NewDate(2026, 12, 1), NewDate(2026, 12, 30)
	tests := []struct {
		name    string
		status  Status
		service Date
		now     time.Time
		want    bool
	}{
		{"service after the validity, validity ended", StatusApproved, NewDate(2027, 1, 15), time.Date(2026, 12, 31, 0, 1, 0, 0, ny), true},
		{"on the validity's last day", StatusApproved, NewDate(2027, 1, 15), time.Date(2026, 12, 30, 23, 59, 0, 0, ny), false},
		{"service within the validity counts as used", StatusApproved, NewDate(2026, 12, 20), time.Date(2027, 1, 5, 9, 0, 0, 0, ny), false},
		{"modified approval lapses too", StatusModified, NewDate(2027, 1, 15), time.Date(2027, 1, 2, 9, 0, 0, 0, ny), true},
		{"a denial does not expire", StatusDenied, NewDate(2027, 1, 15), time.Date(2027, 1, 2, 9, 0, 0, 0, ny), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Case{ID: "c1", Status: tt.status, ServiceDate: tt.service,
				Determination: &Determination{Status: tt.status, AuthNumber: "A1", ValidFrom: from, ValidTo: to}}
			ch, got := c.Lapse(tt.now)
			if got != tt.want {
				t.Fatalf("Lapse = %v, want %v", got, tt.want)
			}
			if !got {
				if c.Status != tt.status || len(ch.Events)+len(ch.Alerts) != 0 {
					t.Errorf("a case that did not lapse changed: %s, %d events", c.Status, len(ch.Events))
				}
				return
			}
			if c.Status != StatusExpired || len(ch.Events) != 1 || ch.Events[0].To != StatusExpired ||
				len(ch.Alerts) != 1 || ch.Alerts[0].PrevStatus != tt.status || ch.Alerts[0].AuthNumber != "A1" {
				t.Errorf("lapsed: status %s, changes %+v", c.Status, ch)
			}
		})
	}
}
