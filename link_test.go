package authpilot

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLinkProblem(t *testing.T) {
	c := &Case{ID: "C1", Patient: Patient{MemberID: "SHP100234567"}, ServiceLines: []ServiceLine{{Code: "22630"}}}
	tests := []struct {
		name        string
		shown       *Identity
		mustConfirm bool
		want        []string
	}{
		{"nothing read, nothing to confirm", nil, false, nil},
		{"nothing read, must confirm", nil, true, []string{"unverified"}},
		{"empty identity, must confirm", &Identity{}, true, []string{"unverified"}},
		{"agrees", &Identity{MemberID: "SHP100234567"}, true, nil},
		{"another member", &Identity{MemberID: "SHP999"}, false, []string{IdentityMemberID}},
		{"another member, must confirm", &Identity{MemberID: "SHP999"}, true, []string{IdentityMemberID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.LinkProblem(tt.shown, tt.mustConfirm); !slices.Equal(got, tt.want) {
				t.Errorf("LinkProblem = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestObservationLinkProblem(t *testing.T) {
	other := &Identity{MemberID: "SHP999"}
	tests := []struct {
		name string
		c    Case
		o    Observation
		want []string
	}{
		{"untracked case, nothing read", Case{}, Observation{Status: StatusPended}, nil},
		{"tracked case's first poll, nothing read", Case{Tracked: true}, Observation{Status: StatusPended}, []string{"unverified"}},
		{"tracked case read before", Case{Tracked: true, StatusText: "Pended"}, Observation{Status: StatusPended}, nil},
		{"another member", Case{}, Observation{Status: StatusPended, Shown: other}, []string{IdentityMemberID}},
		{"an error links nothing", Case{Tracked: true}, Observation{Err: ErrRetryable, Shown: other}, nil},
		{"an unchanged row links nothing", Case{Tracked: true}, Observation{Unchanged: true, Shown: other}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			c.Patient.MemberID = "SHP100234567"
			if got := c.ObservationLinkProblem(tt.o); !slices.Equal(got, tt.want) {
				t.Errorf("ObservationLinkProblem = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRefuseLink(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("EST", -5*3600))
	for _, tt := range []struct {
		name, where string
		fields      []string
		title       string
	}{
		{"another member at poll", "poll", []string{IdentityMemberID, IdentityCodes}, "(member_id, codes)"},
		{"unverified at find", "find", []string{"unverified"}, "Cannot confirm"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &Case{ID: "C1", ConnectorID: "summit-portal", Status: StatusSubmitting,
				Patient: Patient{FirstName: "Jane", LastName: "Doe", MemberID: "SHP123"}}
			ch := c.RefuseLink("R-9", tt.where, tt.fields, "agent:summit-portal", "rec_1", now)
			if c.Status != StatusSubmitting || c.PayerRef != "" || !strings.Contains(c.LastError, "not applied") {
				t.Errorf("case = %s %q %q", c.Status, c.PayerRef, c.LastError)
			}
			if len(ch.Events) != 1 || ch.Events[0].Type != EventNeedsHuman || !ch.Events[0].At.Equal(now) || ch.Events[0].At.Location() != time.UTC {
				t.Fatalf("events = %+v", ch.Events)
			}
			if len(ch.Alerts) != 1 || ch.Alerts[0].Type != AlertNeedsHuman || ch.Alerts[0].Severity != SeverityCritical ||
				!strings.Contains(ch.Alerts[0].Title, tt.title) || ch.Alerts[0].DedupKey != "identity:C1:"+tt.where+":"+strings.Join(tt.fields, ",") {
				t.Fatalf("alerts = %+v", ch.Alerts)
			}
			a := ch.Alerts[0]
			for _, phi := range []string{"Jane", "Doe", "SHP123"} {
				if strings.Contains(a.Title+a.Action+a.Reason+c.LastError+ch.Events[0].RawText, phi) {
					t.Errorf("refusal carries PHI %q", phi)
				}
			}
			if again := c.RefuseLink("R-9", tt.where, tt.fields, "agent:summit-portal", "rec_2", now); len(again.Events)+len(again.Alerts) != 0 {
				t.Errorf("the same refusal again = %+v", again)
			}
		})
	}
}

func TestApplySubmission(t *testing.T) {
	// 23:30 in New York is the next day in UTC: a decision given at once
	// is noticed on the practice's date.
	ny, _ := time.LoadLocation("America/New_York")
	now := time.Date(2026, 11, 23, 23, 30, 0, 0, ny)
	tests := []struct {
		name       string
		from       Status
		sub        Submission
		letters    []string
		wantErr    error
		wantStatus Status
		wantEvents []EventType
		wantAlerts []AlertType
	}{
		{"submitted", StatusSubmitting, Submission{PayerRef: "R-1", Status: StatusSubmitted, StatusText: "Received"}, nil, nil,
			StatusSubmitted, []EventType{EventSubmitted}, []AlertType{AlertCaseSubmitted}},
		{"no status said", StatusSubmitting, Submission{PayerRef: "R-1"}, nil, nil,
			StatusSubmitted, []EventType{EventSubmitted}, []AlertType{AlertCaseSubmitted}},
		{"approved at once", StatusSubmitting, Submission{PayerRef: "R-1", Status: StatusApproved, StatusText: "Approved",
			Determination: &Determination{AuthNumber: "A1"}}, []string{"abc"}, nil,
			StatusApproved, []EventType{EventSubmitted, EventDocumentStored, EventStatusChanged, EventDeterminationReceived},
			[]AlertType{AlertCaseSubmitted, AlertDeterminationReceived}},
		{"a letter with the receipt", StatusSubmitting, Submission{PayerRef: "R-1"}, []string{"abc"}, nil,
			StatusSubmitted, []EventType{EventSubmitted, EventDocumentStored}, []AlertType{AlertCaseSubmitted}},
		{"no longer submitting", StatusSubmitted, Submission{PayerRef: "R-2"}, nil, ErrConflict, StatusSubmitted, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Case{ID: "C1", Status: tt.from, PayerRef: "R-0", LastError: "earlier"}
			ch, err := c.ApplySubmission(tt.sub, tt.letters, EventSubmitted, "agent:x", "rec_1", now)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if c.Status != tt.wantStatus {
				t.Errorf("status = %s, want %s", c.Status, tt.wantStatus)
			}
			var evs []EventType
			for _, e := range ch.Events {
				evs = append(evs, e.Type)
			}
			var als []AlertType
			for _, a := range ch.Alerts {
				als = append(als, a.Type)
			}
			if !slices.Equal(evs, tt.wantEvents) || !slices.Equal(als, tt.wantAlerts) {
				t.Errorf("events %v alerts %v, want %v %v", evs, als, tt.wantEvents, tt.wantAlerts)
			}
			if err != nil {
				if c.PayerRef != "R-0" || c.LastError != "earlier" {
					t.Errorf("a refused answer changed the case: %q %q", c.PayerRef, c.LastError)
				}
				return
			}
			if c.PayerRef != "R-1" || c.LastError != "" || c.SubmittedAt == nil || !c.SubmittedAt.Equal(now) || c.SubmittedAt.Location() != time.UTC {
				t.Errorf("case = ref %q err %q submitted %v", c.PayerRef, c.LastError, c.SubmittedAt)
			}
			if ch.Alerts[0].PrevStatus != StatusSubmitting || ch.Alerts[0].DedupKey != "submitted:C1" {
				t.Errorf("submitted alert = %+v", ch.Alerts[0])
			}
			if tt.wantStatus.Decided() && c.Determination.NoticeDate != NewDate(2026, 11, 23) {
				t.Errorf("notice date = %v, want the practice's 2026-11-23", c.Determination.NoticeDate)
			}
		})
	}
}
