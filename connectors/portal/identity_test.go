package portal

import (
	"errors"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/payersim"
)

// TestSummitFindOnlyTheCasesOwnRequest reproduces issue 10's
// reconciliation report against the payer simulator with Chromium: the
// find flow lists the member's requests for the code and must take only a
// request made since the submission intent whose member, codes and
// service date are the case's — not a sibling case's request (same member
// and code, another service date) and not an older request.
func TestSummitFindOnlyTheCasesOwnRequest(t *testing.T) {
	t.Parallel()
	p := newSummit(t, "")
	s := p.mustOpen()
	c := lumbarFusion(t) // W123456789, 22612 + 22614, 2026-04-20
	intent := p.clock.Now()
	lines := []payersim.ServiceLine{{Code: "22612", Units: 1}, {Code: "22614", Units: 2}}
	add := func(serviceDate string, at time.Time) string {
		t.Helper()
		ref, err := p.sim.AddRequest(payersim.Submission{MemberID: c.Patient.MemberID, DOB: "1961-07-04",
			Lines: lines, Diagnoses: []string{"M43.16"}, ServiceDate: serviceDate, SubmittedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	// Case A: same member and codes, another service date, filed now.
	add("2026-05-18", intent)
	// The same request as the case's, but filed three days before the
	// intent: an earlier request, not this submission.
	add("2026-04-20", intent.Add(-72*time.Hour))
	_, err := s.Find(testCtx(t), c, intent)
	if !errors.Is(err, authpilot.ErrRequestNotFound) {
		t.Fatalf("find with only a sibling's and an older request = %v, want ErrRequestNotFound", err)
	}

	// The case's own request, filed after the intent, is found, with what
	// the page showed of it.
	own := add("2026-04-20", intent.Add(time.Minute))
	sub, err := s.Find(testCtx(t), c, intent)
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	if sub.PayerRef != own {
		t.Fatalf("found %s, want the case's own request %s", sub.PayerRef, own)
	}
	if sub.Shown == nil || sub.Shown.MemberID == "" || sub.Shown.Codes == "" || sub.Shown.ServiceDate == "" {
		t.Fatalf("Shown = %+v, want member, codes and service date", sub.Shown)
	}
	if diff := c.IdentityMismatch(*sub.Shown); len(diff) > 0 {
		t.Fatalf("the found request differs from the case in %v", diff)
	}

	// Two requests that both fit: a person decides.
	add("2026-04-20", intent.Add(2*time.Minute))
	if _, err := s.Find(testCtx(t), c, intent); !errors.Is(err, authpilot.ErrNeedsHuman) {
		t.Fatalf("find with two fitting requests = %v, want ErrNeedsHuman", err)
	}
}

// TestSummitDetailShowsIdentity: the detail page's member ID, codes and
// service date reach the observation, for the agent to check.
func TestSummitDetailShowsIdentity(t *testing.T) {
	t.Parallel()
	p := newSummit(t, "")
	ref, err := p.sim.AddRequest(payersim.Submission{MemberID: "W123456789", DOB: "1961-07-04",
		Lines: []payersim.ServiceLine{{Code: "22612", Units: 1}, {Code: "22614", Units: 2}}, ServiceDate: "2026-04-20"})
	if err != nil {
		t.Fatal(err)
	}
	s := p.mustOpen()
	c := lumbarFusion(t)
	c.PayerRef, c.Status = ref, authpilot.StatusSubmitted
	obs, err := s.Poll(testCtx(t), []*authpilot.Case{c})
	if err != nil || len(obs) != 1 || obs[0].Err != nil {
		t.Fatalf("poll = %+v, %v", obs, err)
	}
	sh := obs[0].Shown
	if sh == nil || sh.MemberID != "******6789" || sh.Codes != "22612, 22614" || sh.ServiceDate != "04/20/2026" {
		t.Fatalf("Shown = %+v", sh)
	}
	if diff := c.IdentityMismatch(*sh); len(diff) > 0 {
		t.Fatalf("own request differs in %v", diff)
	}
	other := *c
	other.Patient.MemberID = "W999996788"
	if diff := other.IdentityMismatch(*sh); len(diff) != 1 || diff[0] != authpilot.IdentityMemberID {
		t.Fatalf("another member's case: mismatch %v", diff)
	}
}

func TestMadeBefore(t *testing.T) {
	since := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		shown string
		want  bool
	}{
		{"", false},
		{"not a date", false},
		{"03/10/2026", false},           // the intent's day
		{"03/09/2026", true},            // the day before ended everywhere by 12:00 UTC
		{"03/08/2026", true},            // two days before
		{"03/10/2026 02:00 PM", false},  // an hour before, zone unknown
		{"03/10/2026 02:00 AM", false},  // 13 h before as UTC, but zone unknown: 14 h allowed
		{"03/09/2026 11:00 PM", true},   // 16 h before as UTC
		{"03/09/2026 09:00 AM", true},   // 30 h before
		{"2026-03-10T14:50:00Z", true},  // exact, 10 min before
		{"2026-03-10T14:58:00Z", false}, // within the clock skew
		{"2026-03-10T10:00:00-05:00", false},
	}
	for _, tt := range tests {
		if got := madeBefore(tt.shown, since); got != tt.want {
			t.Errorf("madeBefore(%q) = %v, want %v", tt.shown, got, tt.want)
		}
	}
	// Early in the UTC day the intent is still the day before in the
	// Americas: that day's requests are kept.
	if madeBefore("03/09/2026", time.Date(2026, 3, 10, 5, 0, 0, 0, time.UTC)) {
		t.Error("a request of the intent's local day was left out")
	}
	if madeBefore("03/01/2026", time.Time{}) {
		t.Error("no intent time: nothing is before it")
	}
}
