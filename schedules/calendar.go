package schedules

import (
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/us"

	"github.com/authpilot/authpilot"
)

// federalHolidays are the eleven US federal holidays (5 U.S.C. 6103). Those
// on a fixed date are observed on the Friday before when they fall on a
// Saturday and on the Monday after when they fall on a Sunday, as rickar/cal
// defines them (New Year's Day on a Saturday is observed on 31 December).
var federalHolidays = []*cal.Holiday{
	us.NewYear,
	us.MlkDay,
	us.PresidentsDay,
	us.MemorialDay,
	us.Juneteenth,
	us.IndependenceDay,
	us.LaborDay,
	us.ColumbusDay,
	us.VeteransDay,
	us.ThanksgivingDay,
	us.ChristmasDay,
}

// Calendar is the practice's business-day calendar: Monday to Friday, less
// the observed US federal holidays and the practice's own closed days, in the
// practice's time zone. It is safe for concurrent use.
type Calendar struct {
	loc    *time.Location
	bc     *cal.BusinessCalendar
	closed map[authpilot.Date]bool
}

// NewCalendar returns the calendar of a practice in loc (UTC when nil) with
// the given extra closed days.
func NewCalendar(loc *time.Location, closed []authpilot.Date) *Calendar {
	if loc == nil {
		loc = time.UTC
	}
	bc := cal.NewBusinessCalendar()
	bc.Name = "US federal"
	bc.AddHoliday(federalHolidays...)
	// Cacheable stays false: rickar/cal's cache is an unguarded map, and
	// the calendar is shared between goroutines.
	c := &Calendar{loc: loc, bc: bc, closed: make(map[authpilot.Date]bool, len(closed))}
	for _, d := range closed {
		c.closed[d] = true
	}
	return c
}

// Federal returns the calendar of the payer's business days: Monday to
// Friday less the observed US federal holidays, in the same zone, without
// the practice's closed days. A payer's windows counted in business days (a
// peer-to-peer window, a traditional-Medicare decision) do not stretch
// because the practice closes.
func (c *Calendar) Federal() *Calendar {
	if len(c.closed) == 0 {
		return c
	}
	return &Calendar{loc: c.loc, bc: c.bc}
}

// PayerCalendar returns the federal calendar plus a payer's own closed
// days, for a payer that sets them; with none it is Federal.
func (c *Calendar) PayerCalendar(closed []authpilot.Date) *Calendar {
	if len(closed) == 0 {
		return c.Federal()
	}
	p := &Calendar{loc: c.loc, bc: c.bc, closed: make(map[authpilot.Date]bool, len(closed))}
	for _, d := range closed {
		p.closed[d] = true
	}
	return p
}

// Location returns the practice's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// noon is d at noon UTC: rickar/cal compares dates by their fields, and
// noon keeps them clear of any zone arithmetic.
func noon(d authpilot.Date) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC)
}

// IsBusinessDay reports whether d is a weekday that is neither an observed
// federal holiday nor a practice closed day.
func (c *Calendar) IsBusinessDay(d authpilot.Date) bool {
	if c.closed[d] {
		return false
	}
	return c.bc.IsWorkday(noon(d))
}

// AddBusinessDays returns t moved n business days (backwards when n < 0) at
// the same clock time in the practice's zone. Day 1 is the first business
// day after t's date, whatever t's date is; n == 0 returns t unchanged.
func (c *Calendar) AddBusinessDays(t time.Time, n int) time.Time {
	if n == 0 {
		return t
	}
	t = t.In(c.loc)
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	d := authpilot.DateOf(t)
	for n > 0 {
		d = d.AddDays(step)
		if c.IsBusinessDay(d) {
			n--
		}
	}
	h, m, s := t.Clock()
	return time.Date(d.Year, d.Month, d.Day, h, m, s, t.Nanosecond(), c.loc)
}

// endOfDay is the last second of d in loc.
func endOfDay(d authpilot.Date, loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 23, 59, 59, 0, loc)
}
