package schedules_test

import (
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/schedules"
)

func TestCalendarBusinessDays(t *testing.T) {
	c := schedules.NewCalendar(newYork(t), []authpilot.Date{day(t, "2026-12-24"), day(t, "2026-12-31")})
	tests := []struct {
		day      string
		business bool
		why      string
	}{
		{"2026-01-01", false, "New Year's Day"},
		{"2026-01-19", false, "Martin Luther King Jr. Day"},
		{"2026-02-16", false, "Presidents' Day"},
		{"2026-05-25", false, "Memorial Day"},
		{"2026-06-19", false, "Juneteenth"},
		{"2026-07-03", false, "Independence Day (observed)"}, // Jul 4 2026 is a Saturday
		{"2026-07-04", false, "Independence Day"},
		{"2026-07-02", true, ""},
		{"2026-07-06", true, ""},
		{"2026-09-07", false, "Labor Day"},
		{"2026-10-12", false, "Columbus Day"},
		{"2026-11-11", false, "Veterans Day"},
		{"2026-11-26", false, "Thanksgiving Day"},
		{"2026-11-27", true, ""}, // day after Thanksgiving is not federal
		{"2026-12-25", false, "Christmas Day"},
		{"2026-12-24", false, "practice closed"},
		{"2026-12-31", false, "practice closed"},
		{"2026-11-21", false, ""}, // Saturday
		{"2026-11-22", false, ""}, // Sunday
		{"2026-11-23", true, ""},
		{"2021-12-31", false, "New Year's Day (observed)"},   // Jan 1 2022 is a Saturday
		{"2027-07-05", false, "Independence Day (observed)"}, // Jul 4 2027 is a Sunday
		{"2020-06-19", true, ""},                             // before Juneteenth became federal
	}
	for _, tc := range tests {
		t.Run(tc.day, func(t *testing.T) {
			d := day(t, tc.day)
			if got := c.IsBusinessDay(d); got != tc.business {
				t.Errorf("IsBusinessDay = %v, want %v (%s)", got, tc.business, tc.why)
			}
		})
	}
}

func TestAddBusinessDays(t *testing.T) {
	ny := newYork(t)
	c := schedules.NewCalendar(ny, []authpilot.Date{day(t, "2026-12-24")})
	tests := []struct {
		name string
		from time.Time
		n    int
		want time.Time
	}{
		{"zero keeps the time", at(t, "2026-11-21 10:00"), 0, at(t, "2026-11-21 10:00")},
		{"over Thanksgiving", at(t, "2026-11-25 10:00"), 1, at(t, "2026-11-27 10:00")},
		{"Friday before Thanksgiving week, 7 days", at(t, "2026-11-20 16:30"), 7, at(t, "2026-12-02 16:30")},
		{"over the observed Jul 3", at(t, "2026-07-02 09:15"), 1, at(t, "2026-07-06 09:15")},
		{"from a Saturday", at(t, "2026-11-21 08:00"), 1, at(t, "2026-11-23 08:00")},
		{"over Christmas and a closed day", at(t, "2026-12-23 12:00"), 1, at(t, "2026-12-28 12:00")},
		{"backwards over a weekend", at(t, "2026-11-23 00:00"), -1, at(t, "2026-11-20 00:00")},
		{"backwards over Thanksgiving", at(t, "2026-11-30 00:00"), -5, at(t, "2026-11-20 00:00")},
		{"across the DST change keeps clock time", at(t, "2026-10-30 14:00"), 2, at(t, "2026-11-03 14:00")},
		// 03:00 UTC on Thanksgiving is 22:00 on Wednesday in New York.
		{"input in UTC is read in the practice zone", time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC), 1, at(t, "2026-11-27 22:00")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := c.AddBusinessDays(tc.from, tc.n)
			if !got.Equal(tc.want) {
				t.Errorf("AddBusinessDays(%v, %d) = %v, want %v", tc.from, tc.n, got, tc.want)
			}
			if tc.n != 0 && got.Location() != ny {
				t.Errorf("result in %v, want the practice zone", got.Location())
			}
		})
	}
}
