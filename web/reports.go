package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/authpilot/authpilot"
)

// Report is the practice manager's view of how payers answer: per payer
// and track, and per week, over the cases submitted since a date.
type Report struct {
	Since time.Time
	Rows  []ReportRow
	Weeks []ReportRow
	// MaxMedian scales the chart's bars.
	MaxMedian time.Duration
}

// ReportRow is one payer and track (or one week, Week set): the cases
// submitted in the window and what became of them.
type ReportRow struct {
	Payer string
	Track authpilot.Track
	Week  time.Time

	Submitted, Decided                int
	Approved, Partial, Denied, Pended int
	Median, P90                       time.Duration
	P2P, P2POverturned                int
	Appeals, AppealsOverturned        int
	Open                              int
	OpenByAge                         [4]int // under 7 days, 7-13, 14-29, 30 and more
	// Missed is the deadlines that passed unmet (a deadline_missed
	// alert), counted in the week they fell due.
	Missed      int
	turnarounds []time.Duration
}

// Rate is n of the row's decided cases, in percent.
func (r ReportRow) Rate(n int) string {
	if r.Decided == 0 {
		return "—"
	}
	return strconv.Itoa((100*n+r.Decided/2)/r.Decided) + "%"
}

// Of is part of whole in percent ("—" when whole is 0).
func Of(part, whole int) string {
	if whole == 0 {
		return "—"
	}
	return strconv.Itoa((100*part+whole/2)/whole) + "%"
}

// firstDecision is the case's first determination (History keeps those a
// later one replaced, oldest first).
func firstDecision(c *authpilot.Case) *authpilot.Determination {
	if len(c.History) > 0 {
		return &c.History[0]
	}
	return c.Determination
}

// add counts c, submitted in the window, into r.
func (r *ReportRow) add(c *authpilot.Case, now time.Time) {
	r.Submitted++
	if len(c.InfoRequests) > 0 {
		r.Pended++
	}
	if d := firstDecision(c); d != nil && d.DecidedAt != nil && d.Status.Decided() {
		r.Decided++
		r.turnarounds = append(r.turnarounds, d.DecidedAt.Sub(*c.SubmittedAt))
		switch d.Status {
		case authpilot.StatusApproved, authpilot.StatusNotRequired:
			r.Approved++
		case authpilot.StatusPartiallyApproved, authpilot.StatusModified:
			r.Partial++
		case authpilot.StatusDenied:
			r.Denied++
		}
	}
	for _, p := range c.PeerToPeers {
		if p.Outcome != "" && p.Outcome != authpilot.OutcomeNotHeld {
			r.P2P++
			if p.Outcome == authpilot.OutcomeOverturned || p.Outcome == authpilot.OutcomeModified {
				r.P2POverturned++
			}
		}
	}
	for _, a := range c.Appeals {
		if a.Outcome != "" {
			r.Appeals++
			if a.Outcome == authpilot.OutcomeOverturned || a.Outcome == authpilot.OutcomeModified {
				r.AppealsOverturned++
			}
		}
	}
	if !c.Status.Decided() && !c.Status.Closed() {
		r.Open++
		switch days := int(now.Sub(c.CreatedAt).Hours() / 24); {
		case days < 7:
			r.OpenByAge[0]++
		case days < 14:
			r.OpenByAge[1]++
		case days < 30:
			r.OpenByAge[2]++
		default:
			r.OpenByAge[3]++
		}
	}
}

// finish sets the median and 90th percentile turnaround (nearest rank).
func (r *ReportRow) finish() {
	if len(r.turnarounds) == 0 {
		return
	}
	slices.Sort(r.turnarounds)
	rank := func(p int) time.Duration {
		i := (p*len(r.turnarounds) + 99) / 100
		return r.turnarounds[max(i, 1)-1]
	}
	r.Median, r.P90 = rank(50), rank(90)
}

// buildReport groups the cases submitted at or after since by payer and
// track and by week (weeks start on Monday in loc), and the missed
// deadlines (deadline_missed alerts) due at or after since by payer and
// track and by the week they fell due.
func buildReport(cases []*authpilot.Case, missed []authpilot.Alert, since, now time.Time, loc *time.Location) Report {
	rep := Report{Since: since}
	byKey := map[string]*ReportRow{}
	byWeek := map[time.Time]*ReportRow{}
	rowOf := func(payer string, track authpilot.Track) *ReportRow {
		k := payer + "\x00" + string(track)
		if byKey[k] == nil {
			byKey[k] = &ReportRow{Payer: payer, Track: track}
		}
		return byKey[k]
	}
	weekOf := func(t time.Time) *ReportRow {
		t = t.In(loc)
		wk := time.Date(t.Year(), t.Month(), t.Day()-(int(t.Weekday())+6)%7, 0, 0, 0, 0, loc)
		if byWeek[wk] == nil {
			byWeek[wk] = &ReportRow{Week: wk}
		}
		return byWeek[wk]
	}
	for _, c := range cases {
		if c.SubmittedAt == nil || c.SubmittedAt.Before(since) {
			continue
		}
		rowOf(c.Payer, c.Track).add(c, now)
		weekOf(*c.SubmittedAt).add(c, now)
	}
	for _, a := range missed {
		if a.Type != authpilot.AlertDeadlineMissed || a.Deadline == nil || a.Deadline.Due.Before(since) {
			continue
		}
		rowOf(a.Payer, a.Track).Missed++
		weekOf(a.Deadline.Due).Missed++
	}
	for _, r := range byKey {
		r.finish()
		rep.Rows = append(rep.Rows, *r)
		rep.MaxMedian = max(rep.MaxMedian, r.Median)
	}
	slices.SortFunc(rep.Rows, func(a, b ReportRow) int {
		if a.Payer != b.Payer {
			return cmpString(a.Payer, b.Payer)
		}
		return cmpString(string(a.Track), string(b.Track))
	})
	for _, r := range byWeek {
		r.finish()
		rep.Weeks = append(rep.Weeks, *r)
	}
	slices.SortFunc(rep.Weeks, func(a, b ReportRow) int { return a.Week.Compare(b.Week) })
	return rep
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// report reads every case and builds the report since the "since" date
// of r (default 12 weeks ago).
func (s *Site) report(w http.ResponseWriter, r *http.Request) (Report, bool) {
	loc := s.cfg.Location()
	now := s.now()
	since := now.In(loc).AddDate(0, 0, -84)
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, loc)
		if err != nil {
			s.Fail(w, r, http.StatusBadRequest, "since: must be a date YYYY-MM-DD.")
			return Report{}, false
		}
		since = t
	}
	cases, err := s.st.ListCases(r.Context(), authpilot.CaseFilter{})
	if err != nil {
		s.log.Error("list cases for the report failed", "err", err)
		s.Fail(w, r, http.StatusInternalServerError, "Could not read the cases.")
		return Report{}, false
	}
	missed, err := s.pages.MissedDeadlines(r.Context(), since)
	if err != nil {
		s.log.Error("list missed deadlines for the report failed", "err", err)
		s.Fail(w, r, http.StatusInternalServerError, "Could not read the missed deadlines.")
		return Report{}, false
	}
	return buildReport(cases, missed, since, now, loc), true
}

func (s *Site) reportsPage(w http.ResponseWriter, r *http.Request) {
	if rep, ok := s.report(w, r); ok {
		s.Render(w, r, http.StatusOK, s.page("reports"), rep)
	}
}

func (s *Site) reportsCSV(w http.ResponseWriter, r *http.Request) {
	rep, ok := s.report(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "report-since-"+rep.Since.Format("2006-01-02")+".csv"))
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"week", "payer", "track", "submitted", "decided", "approved", "partial", "denied", "pended",
		"median_turnaround_hours", "p90_turnaround_hours", "p2p", "p2p_overturned", "appeals", "appeals_overturned", "open", "deadlines_missed"})
	hours := func(d time.Duration) string { return strconv.FormatFloat(d.Hours(), 'f', 1, 64) }
	row := func(week string, x ReportRow) {
		_ = cw.Write([]string{week, x.Payer, string(x.Track), strconv.Itoa(x.Submitted), strconv.Itoa(x.Decided),
			strconv.Itoa(x.Approved), strconv.Itoa(x.Partial), strconv.Itoa(x.Denied), strconv.Itoa(x.Pended),
			hours(x.Median), hours(x.P90), strconv.Itoa(x.P2P), strconv.Itoa(x.P2POverturned), strconv.Itoa(x.Appeals),
			strconv.Itoa(x.AppealsOverturned), strconv.Itoa(x.Open), strconv.Itoa(x.Missed)})
	}
	for _, x := range rep.Rows {
		row("", x)
	}
	for _, x := range rep.Weeks {
		row(x.Week.Format("2006-01-02"), x)
	}
	cw.Flush()
}
