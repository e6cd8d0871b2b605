package notify_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
)

func TestSummarize(t *testing.T) {
	eastern, _ := time.LoadLocation("America/New_York")
	now := time.Date(2026, 11, 23, 23, 0, 0, 0, time.UTC)
	a := authpilot.Alert{
		ID: "01JALERT000000000000000001", Type: authpilot.AlertDeadlineApproaching, Severity: authpilot.SeverityWarning,
		CaseID: "01JCASE0000000000000000001", Payer: "acme-health", Track: authpilot.TrackSurgery,
		Status: authpilot.StatusDenied, PrevStatus: authpilot.StatusPended, Action: "Schedule the peer-to-peer",
		Deadline: &authpilot.Deadline{Kind: authpilot.DeadlinePeerToPeer, Due: time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)},
	}
	s := notify.Summarize(a, nil, now, eastern, 0)
	if s.Title != "Deadline approaching" || s.Severity != "warning" || len(s.Patient) != 0 {
		t.Errorf("summary = %+v", s)
	}
	var facts []string
	for _, f := range s.Facts {
		facts = append(facts, f.Label+": "+f.Value)
	}
	got := strings.Join(facts, "\n")
	want := "Case: 01JCASE0000000000000000001\nPayer: acme-health\nTrack: surgery\nStatus: pended → denied\n" +
		"Deadline: peer-to-peer window closes Tue Nov 24, 5:00 PM EST (in 23h)"
	if got != want {
		t.Errorf("facts:\n%s\nwant:\n%s", got, want)
	}
	withCase := notify.Summarize(a, seeded, now, eastern, 0)
	if len(withCase.Patient) == 0 || withCase.Patient[0].Value != "Quillfeather, Marguerite" {
		t.Errorf("patient = %+v", withCase.Patient)
	}
}

// TestSummarizeServiceDateOnlyWithPHI: the service date, which a
// service-at-risk alert's title does not carry, is shown with the patient
// to a sink that opted in to PHI.
func TestSummarizeServiceDateOnlyWithPHI(t *testing.T) {
	d, err := authpilot.ParseDate("2026-12-01")
	if err != nil {
		t.Fatal(err)
	}
	c := &authpilot.Case{ID: "01CASE", ServiceDate: d, Patient: authpilot.Patient{FirstName: "Ann", LastName: "Lee"}}
	a := authpilot.Alert{Type: authpilot.AlertDeadlineApproaching, CaseID: c.ID, Title: "Service date at risk in 48h"}
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	want := notify.Fact{Label: "Service date", Value: "2026-12-01"}
	if s := notify.Summarize(a, c, now, time.UTC, 0); !slices.Contains(s.Patient, want) {
		t.Errorf("with the case: patient facts %v lack %v", s.Patient, want)
	}
	if s := notify.Summarize(a, nil, now, time.UTC, 0); len(s.Patient) != 0 {
		t.Errorf("without the case: patient facts %v, want none", s.Patient)
	}
}
