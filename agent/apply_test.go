package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
)

func TestApply(t *testing.T) {
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		from       authpilot.Status
		obs        authpilot.Observation
		letters    []string
		wantStatus authpilot.Status
		wantEvents []authpilot.EventType
		wantAlerts []authpilot.AlertType
		check      func(t *testing.T, c *authpilot.Case)
		// checkChanges looks at the events and alerts of the first apply.
		checkChanges func(t *testing.T, ch authpilot.Changes)
	}{
		{
			name: "approved with determination", from: authpilot.StatusSubmitted,
			obs: authpilot.Observation{Status: authpilot.StatusApproved, StatusText: "Approved",
				Determination: &authpilot.Determination{AuthNumber: "A123", ValidFrom: authpilot.NewDate(2026, 11, 23), ValidTo: authpilot.NewDate(2027, 2, 21)}},
			letters:    []string{"abc"},
			wantStatus: authpilot.StatusApproved,
			wantEvents: []authpilot.EventType{authpilot.EventDocumentStored, authpilot.EventStatusChanged, authpilot.EventDeterminationReceived},
			wantAlerts: []authpilot.AlertType{authpilot.AlertDeterminationReceived},
			check: func(t *testing.T, c *authpilot.Case) {
				d := c.Determination
				if d == nil || d.AuthNumber != "A123" || d.ValidTo != (authpilot.NewDate(2027, 2, 21)) || d.Letters[0] != "abc" || d.DecidedAt == nil || d.NoticeDate.IsZero() {
					t.Fatalf("determination = %+v", d)
				}
			},
		},
		{
			name: "pended asks for info", from: authpilot.StatusSubmitted,
			obs: authpilot.Observation{Status: authpilot.StatusPended, StatusText: "Pending - Additional Information Requested",
				Determination: &authpilot.Determination{InfoRequested: "6 weeks of PT notes"}},
			wantStatus: authpilot.StatusPended,
			wantEvents: []authpilot.EventType{authpilot.EventStatusChanged, authpilot.EventMoreInfoRequested},
			wantAlerts: []authpilot.AlertType{authpilot.AlertMoreInfoRequested},
		},
		{
			name: "denied carries reason", from: authpilot.StatusPended,
			obs: authpilot.Observation{Status: authpilot.StatusDenied, StatusText: "Denied",
				Determination: &authpilot.Determination{DenialReason: "Conservative care not documented"}},
			wantStatus: authpilot.StatusDenied,
			wantEvents: []authpilot.EventType{authpilot.EventStatusChanged, authpilot.EventDeterminationReceived},
			wantAlerts: []authpilot.AlertType{authpilot.AlertDeterminationReceived},
			check: func(t *testing.T, c *authpilot.Case) {
				if c.Determination.DenialReason == "" {
					t.Fatal("no denial reason")
				}
			},
		},
		{
			name: "unchanged row", from: authpilot.StatusSubmitted,
			obs:        authpilot.Observation{Status: authpilot.StatusSubmitted, Unchanged: true},
			wantStatus: authpilot.StatusSubmitted,
		},
		{
			name: "illegal report becomes needs_human", from: authpilot.StatusApproved,
			obs:        authpilot.Observation{Status: authpilot.StatusSubmitted, StatusText: "In Review"},
			wantStatus: authpilot.StatusApproved,
			wantEvents: []authpilot.EventType{authpilot.EventNeedsHuman},
			wantAlerts: []authpilot.AlertType{authpilot.AlertNeedsHuman},
		},
		{
			name: "per-case error recorded once", from: authpilot.StatusSubmitted,
			obs:        authpilot.Observation{Err: &authpilot.Error{Class: authpilot.ErrRetryable, Step: "poll.detail"}},
			wantStatus: authpilot.StatusSubmitted,
			wantEvents: []authpilot.EventType{authpilot.EventConnectorError},
			check: func(t *testing.T, c *authpilot.Case) {
				if !strings.Contains(c.LastError, "temporary failure") {
					t.Fatalf("LastError = %q", c.LastError)
				}
			},
		},
		{
			name: "per-case page mismatch is portal_changed", from: authpilot.StatusSubmitted,
			obs:        authpilot.Observation{Err: &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: "poll.detail"}},
			wantStatus: authpilot.StatusSubmitted,
			wantEvents: []authpilot.EventType{authpilot.EventPortalChanged},
			wantAlerts: []authpilot.AlertType{authpilot.AlertPortalChanged},
			check: func(t *testing.T, c *authpilot.Case) {
				if !strings.Contains(c.LastError, "portal changed") {
					t.Fatalf("LastError = %q", c.LastError)
				}
			},
		},
		{
			// Issue 10 item 4: wording missing from status_map was a
			// connector_error event and no alert.
			name: "unmapped wording is portal_changed naming text, step and case", from: authpilot.StatusApproved,
			obs: authpilot.Observation{StatusText: "Under Medical Director Review",
				Err: &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: "poll.list.fields.status", Err: authpilot.ErrUnmappedStatus}},
			wantStatus: authpilot.StatusApproved,
			wantEvents: []authpilot.EventType{authpilot.EventPortalChanged},
			wantAlerts: []authpilot.AlertType{authpilot.AlertPortalChanged},
			check: func(t *testing.T, c *authpilot.Case) {
				if !strings.Contains(c.LastError, `"Under Medical Director Review"`) {
					t.Fatalf("LastError = %q", c.LastError)
				}
			},
			checkChanges: func(t *testing.T, ch authpilot.Changes) {
				a, e := ch.Alerts[0], ch.Events[0]
				if a.Reason != "Under Medical Director Review" || a.CaseID != "C1" || !strings.Contains(a.Title, "poll.list.fields.status") {
					t.Errorf("alert = %+v", a)
				}
				if a.DedupKey != "portal_changed:summit-portal:poll.list.fields.status:under medical director review" {
					t.Errorf("dedup key %q is not the problem's", a.DedupKey)
				}
				if e.RawText != "Under Medical Director Review" || !strings.Contains(string(e.Detail), "poll.list.fields.status") {
					t.Errorf("event = %+v", e)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &authpilot.Case{ID: "C1", Payer: "summit-ma", ConnectorID: "summit-portal", Track: authpilot.TrackSurgery, Status: tt.from,
				Patient: authpilot.Patient{FirstName: "Jane", LastName: "Doe", MemberID: "SHP123"}}
			ch := apply(c, tt.obs, tt.letters, "agent:x", "rec_1", now)
			if c.Status != tt.wantStatus {
				t.Fatalf("status = %s, want %s", c.Status, tt.wantStatus)
			}
			var evs []authpilot.EventType
			for _, e := range ch.Events {
				evs = append(evs, e.Type)
				if e.Recording != "rec_1" || e.CaseID != "C1" {
					t.Errorf("event %s not linked: %+v", e.Type, e)
				}
			}
			if !equalTypes(evs, tt.wantEvents) {
				t.Errorf("events = %v, want %v", evs, tt.wantEvents)
			}
			var als []authpilot.AlertType
			for _, a := range ch.Alerts {
				als = append(als, a.Type)
				for _, phi := range []string{"Jane", "Doe", "SHP123"} {
					if strings.Contains(a.Title+a.Action+a.Reason, phi) {
						t.Errorf("alert carries PHI %q", phi)
					}
				}
			}
			if !equalTypes(als, tt.wantAlerts) {
				t.Errorf("alerts = %v, want %v", als, tt.wantAlerts)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
			if tt.checkChanges != nil {
				tt.checkChanges(t, ch)
			}
			// Applying the same observation again raises nothing new (an
			// alert that repeats carries a dedup key, so the store drops it).
			again := apply(c, tt.obs, tt.letters, "agent:x", "rec_2", now)
			for _, a := range again.Alerts {
				if a.DedupKey == "" {
					t.Errorf("re-applying raised %s again", a.Type)
				}
			}
			for _, e := range again.Events {
				if e.Type == authpilot.EventStatusChanged || e.Type == authpilot.EventConnectorError || e.Type == authpilot.EventPortalChanged || e.Type == authpilot.EventDocumentStored {
					t.Errorf("re-applying appended %s again", e.Type)
				}
			}
		})
	}
}

func equalTypes[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
