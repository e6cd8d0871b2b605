package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
)

// TestBuildReport: per payer and track, the cases submitted in the
// window: decided counts and rates from the first decision, median and
// 90th-percentile turnaround (submitted → first decision), pended, the
// overturn rate after a peer-to-peer, open cases by age; weeks start on
// Monday; a case submitted before the window is left out.
func TestBuildReport(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, ny) // a Monday
	at := func(days, hours int) *time.Time {
		t := now.AddDate(0, 0, days).Add(time.Duration(hours) * time.Hour)
		return &t
	}
	decided := func(st authpilot.Status, t *time.Time) authpilot.Determination {
		return authpilot.Determination{Status: st, DecidedAt: t}
	}
	approved := decided(authpilot.StatusApproved, at(-6, 24))
	denied := decided(authpilot.StatusDenied, at(-5, 72))
	overturned := decided(authpilot.StatusApproved, at(-1, 0))
	cases := []*authpilot.Case{
		{Payer: "summit-ma", Track: authpilot.TrackSurgery, Status: authpilot.StatusApproved, SubmittedAt: at(-6, 0), Determination: &approved, CreatedAt: *at(-7, 0)},
		{Payer: "summit-ma", Track: authpilot.TrackSurgery, Status: authpilot.StatusApproved, SubmittedAt: at(-5, 0), CreatedAt: *at(-5, 0),
			InfoRequests: []authpilot.InfoRequest{{}}, History: []authpilot.Determination{denied}, Determination: &overturned,
			PeerToPeers: []authpilot.PeerToPeer{{Outcome: authpilot.OutcomeOverturned}}},
		{Payer: "summit-ma", Track: authpilot.TrackSurgery, Status: authpilot.StatusSubmitted, SubmittedAt: at(-10, 0), CreatedAt: *at(-10, 0)},
		{Payer: "clearview-rbm", Track: authpilot.TrackImaging, Status: authpilot.StatusSubmitted, SubmittedAt: at(-100, 0), CreatedAt: *at(-100, 0)},
		{Payer: "clearview-rbm", Track: authpilot.TrackImaging, Status: authpilot.StatusReady, CreatedAt: *at(-1, 0)},
	}
	missedAt := func(payer string, track authpilot.Track, due time.Time) authpilot.Alert {
		return authpilot.Alert{Type: authpilot.AlertDeadlineMissed, Payer: payer, Track: track,
			Deadline: &authpilot.Deadline{Kind: authpilot.DeadlinePeerToPeer, Due: due}}
	}
	missed := []authpilot.Alert{
		missedAt("summit-ma", authpilot.TrackSurgery, *at(-4, 0)),
		missedAt("summit-ma", authpilot.TrackSurgery, *at(-10, 0)),
		// A payer and track with no case submitted in the window.
		missedAt("clearview-rbm", authpilot.TrackImaging, *at(-3, 0)),
		// Due before the window.
		missedAt("summit-ma", authpilot.TrackSurgery, *at(-90, 0)),
	}
	rep := buildReport(cases, missed, now.AddDate(0, 0, -84), now, ny)
	if len(rep.Rows) != 2 || rep.Rows[0].Payer != "clearview-rbm" || rep.Rows[0].Submitted != 0 || rep.Rows[0].Missed != 1 {
		t.Fatalf("rows %+v, want clearview-rbm imaging (a missed deadline only) and summit-ma surgery", rep.Rows)
	}
	r := rep.Rows[1]
	if r.Submitted != 3 || r.Decided != 2 || r.Approved != 1 || r.Denied != 1 || r.Pended != 1 ||
		r.Median != 24*time.Hour || r.P90 != 72*time.Hour || r.P2P != 1 || r.P2POverturned != 1 ||
		r.Open != 1 || r.OpenByAge != [4]int{0, 1, 0, 0} || r.Missed != 2 {
		t.Errorf("row %+v", r)
	}
	if got := r.Rate(r.Approved); got != "50%" {
		t.Errorf("approval rate %s", got)
	}
	var weeks []string
	for _, w := range rep.Weeks {
		weeks = append(weeks, fmt.Sprintf("%s:%d/%d", w.Week.Format("2006-01-02"), w.Submitted, w.Missed))
	}
	// Submitted 10 and 6, 5 days ago; missed deadlines due 10 days ago
	// and 4 and 3 days ago (Thursday and Friday last week).
	if want := "2026-11-23:1/1 2026-11-30:2/2"; strings.Join(weeks, " ") != want {
		t.Errorf("weeks %v, want %s", weeks, want)
	}
}
