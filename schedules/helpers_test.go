package schedules_test

import (
	"testing"
	"time"
	_ "time/tzdata" // America/New_York without the system zoneinfo

	"github.com/authpilot/authpilot"
)

func newYork(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatalf("load zone: %v", err)
	}
	return loc
}

// at parses "YYYY-MM-DD HH:MM[:SS]" in New York.
func at(t testing.TB, s string) time.Time {
	t.Helper()
	layout := "2006-01-02 15:04"
	if len(s) == len("2006-01-02 15:04:05") {
		layout = "2006-01-02 15:04:05"
	}
	v, err := time.ParseInLocation(layout, s, newYork(t))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func day(t testing.TB, s string) authpilot.Date {
	t.Helper()
	d, err := authpilot.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func ptr[T any](v T) *T { return &v }

// one checks got against what a table row wants: nothing unless want,
// else exactly one item, which it returns with true. It stops the test
// when got holds anything else.
func one[T any](t *testing.T, what string, got []T, want bool) (T, bool) {
	t.Helper()
	var zero T
	if !want {
		if len(got) != 0 {
			t.Fatalf("%s %v, want none", what, got)
		}
		return zero, false
	}
	if len(got) != 1 {
		t.Fatalf("got %d %s %v, want 1", len(got), what, got)
	}
	return got[0], true
}

// phiCase is a case carrying PHI in every PHI field, so tests can assert
// none of it reaches an alert.
func phiCase(t testing.TB) *authpilot.Case {
	return &authpilot.Case{
		ID:          "01JD000000000000000000CASE",
		ExternalRef: "ORD-7781",
		Patient: authpilot.Patient{
			FirstName: "Zebediah", LastName: "Quillfeather",
			DOB: day(t, "1957-03-14"), MemberID: "XQZ998877",
		},
		Payer:        "acme-ma",
		PlanType:     authpilot.PlanMedicareAdvantage,
		ConnectorID:  "acme-portal",
		Track:        authpilot.TrackSurgery,
		Urgency:      authpilot.UrgencyStandard,
		ServiceLines: []authpilot.ServiceLine{{Code: "22633", Units: 1}},
		Diagnoses:    []string{"M43.16"},
		Status:       authpilot.StatusSubmitted,
	}
}
