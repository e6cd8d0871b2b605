package authpilot

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestApply(t *testing.T) {
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		from       Status
		obs        Observation
		letters    []string
		wantStatus Status
		wantEvents []EventType
		wantAlerts []AlertType
		check      func(t *testing.T, c *Case)
		// checkChanges looks at the events and alerts of the first apply.
		checkChanges func(t *testing.T, ch Changes)
	}{
		{
			name: "approved with determination", from: StatusSubmitted,
			obs: Observation{Status: StatusApproved, StatusText: "Approved",
				Determination: &Determination{AuthNumber: "A123", ValidFrom: NewDate(2026, 11, 23), ValidTo: NewDate(2027, 2, 21)}},
			letters:    []string{"abc"},
			wantStatus: StatusApproved,
			wantEvents: []EventType{EventDocumentStored, EventStatusChanged, EventDeterminationReceived},
			wantAlerts: []AlertType{AlertDeterminationReceived},
			check: func(t *testing.T, c *Case) {
				d := c.Determination
				if d == nil || d.AuthNumber != "A123" || d.ValidTo != (NewDate(2027, 2, 21)) || d.Letters[0] != "abc" || d.DecidedAt == nil || d.NoticeDate.IsZero() {
					t.Fatalf("determination = %+v", d)
				}
			},
		},
		{
			name: "pended asks for info", from: StatusSubmitted,
			obs: Observation{Status: StatusPended, StatusText: "Pending - Additional Information Requested",
				Determination: &Determination{InfoRequested: "6 weeks of PT notes"}},
			wantStatus: StatusPended,
			wantEvents: []EventType{EventStatusChanged, EventMoreInfoRequested},
			wantAlerts: []AlertType{AlertMoreInfoRequested},
		},
		{
			name: "denied carries reason", from: StatusPended,
			obs: Observation{Status: StatusDenied, StatusText: "Denied",
				Determination: &Determination{DenialReason: "Conservative care not documented"}},
			wantStatus: StatusDenied,
			wantEvents: []EventType{EventStatusChanged, EventDeterminationReceived},
			wantAlerts: []AlertType{AlertDeterminationReceived},
			check: func(t *testing.T, c *Case) {
				if c.Determination.DenialReason == "" {
					t.Fatal("no denial reason")
				}
			},
		},
		{
			name: "unchanged row", from: StatusSubmitted,
			obs:        Observation{Status: StatusSubmitted, Unchanged: true},
			wantStatus: StatusSubmitted,
		},
		{
			name: "illegal report becomes needs_human", from: StatusApproved,
			obs:        Observation{Status: StatusSubmitted, StatusText: "In Review"},
			wantStatus: StatusApproved,
			wantEvents: []EventType{EventNeedsHuman},
			wantAlerts: []AlertType{AlertNeedsHuman},
		},
		{
			name: "per-case error recorded once", from: StatusSubmitted,
			obs:        Observation{Err: &Error{Class: ErrRetryable, Step: "poll.detail"}},
			wantStatus: StatusSubmitted,
			wantEvents: []EventType{EventConnectorError},
			check: func(t *testing.T, c *Case) {
				if !strings.Contains(c.LastError, "temporary failure") {
					t.Fatalf("LastError = %q", c.LastError)
				}
			},
		},
		{
			name: "per-case page mismatch is portal_changed", from: StatusSubmitted,
			obs:        Observation{Err: &Error{Class: ErrPortalChanged, Step: "poll.detail"}},
			wantStatus: StatusSubmitted,
			wantEvents: []EventType{EventPortalChanged},
			wantAlerts: []AlertType{AlertPortalChanged},
			check: func(t *testing.T, c *Case) {
				if !strings.Contains(c.LastError, "portal changed") {
					t.Fatalf("LastError = %q", c.LastError)
				}
			},
		},
		{
			// Issue 10 item 4: wording missing from status_map was a
			// connector_error event and no alert.
			name: "unmapped wording is portal_changed naming text, step and case", from: StatusApproved,
			obs: Observation{StatusText: "Under Medical Director Review",
				Err: &Error{Class: ErrPortalChanged, Step: "poll.list.fields.status", Err: ErrUnmappedStatus}},
			wantStatus: StatusApproved,
			wantEvents: []EventType{EventPortalChanged},
			wantAlerts: []AlertType{AlertPortalChanged},
			check: func(t *testing.T, c *Case) {
				if !strings.Contains(c.LastError, `"Under Medical Director Review"`) {
					t.Fatalf("LastError = %q", c.LastError)
				}
			},
			checkChanges: func(t *testing.T, ch Changes) {
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
			c := &Case{ID: "C1", Payer: "summit-ma", ConnectorID: "summit-portal", Track: TrackSurgery, Status: tt.from,
				Patient: Patient{FirstName: "Jane", LastName: "Doe", MemberID: "SHP123"}}
			ch := c.Apply(tt.obs, tt.letters, "agent:x", "rec_1", now)
			if c.Status != tt.wantStatus {
				t.Fatalf("status = %s, want %s", c.Status, tt.wantStatus)
			}
			var evs []EventType
			for _, e := range ch.Events {
				evs = append(evs, e.Type)
				if e.Recording != "rec_1" || e.CaseID != "C1" {
					t.Errorf("event %s not linked: %+v", e.Type, e)
				}
			}
			if !slices.Equal(evs, tt.wantEvents) {
				t.Errorf("events = %v, want %v", evs, tt.wantEvents)
			}
			var als []AlertType
			for _, a := range ch.Alerts {
				als = append(als, a.Type)
				for _, phi := range []string{"Jane", "Doe", "SHP123"} {
					if strings.Contains(a.Title+a.Action+a.Reason, phi) {
						t.Errorf("alert carries PHI %q", phi)
					}
				}
			}
			if !slices.Equal(als, tt.wantAlerts) {
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
			again := c.Apply(tt.obs, tt.letters, "agent:x", "rec_2", now)
			for _, a := range again.Alerts {
				if a.DedupKey == "" {
					t.Errorf("re-applying raised %s again", a.Type)
				}
			}
			for _, e := range again.Events {
				if e.Type == EventStatusChanged || e.Type == EventConnectorError || e.Type == EventPortalChanged || e.Type == EventDocumentStored {
					t.Errorf("re-applying appended %s again", e.Type)
				}
			}
		})
	}
}

func TestNoOp(t *testing.T) {
	base := func() *Case { return &Case{ID: "C1", Status: StatusSubmitted} }
	tests := []struct {
		name string
		c    func(*Case)
		o    Observation
		want bool
	}{
		{"same status, unchanged row", nil, Observation{Status: StatusSubmitted, Unchanged: true}, true},
		{"detail read", nil, Observation{Status: StatusSubmitted}, false},
		{"other status", nil, Observation{Status: StatusPended, Unchanged: true}, false},
		{"new payer ref", nil, Observation{Status: StatusSubmitted, Unchanged: true, PayerRef: "R1"}, false},
		{"a letter to store", nil, Observation{Status: StatusSubmitted, Unchanged: true, Files: []File{{Name: "l.pdf"}}}, false},
		{"an error to record", nil, Observation{Unchanged: true, Err: ErrRetryable}, false},
		{"an error to clear", func(c *Case) { c.LastError = "x" }, Observation{Status: StatusSubmitted, Unchanged: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			if tt.c != nil {
				tt.c(c)
			}
			if got := c.NoOp(tt.o); got != tt.want {
				t.Errorf("NoOp = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestApplyChangedDecisionStartsAfresh: a denial the payer overturns (seen
// by the watch) keeps the denial in History and gives the approval its own
// determination: no denial reason, the new notice date and decision time,
// and only the letter read with it.
func TestApplyChangedDecisionStartsAfresh(t *testing.T) {
	decided := time.Date(2026, 12, 9, 14, 0, 0, 0, time.UTC)
	c := &Case{ID: "c1", Status: StatusDenied, Determination: &Determination{Status: StatusDenied, DenialReason: "Fewer than 4 weeks of PT",
		DecidedAt: &decided, NoticeDate: NewDate(2026, 12, 9), Letters: []string{"denial-letter"}}}
	now := time.Date(2026, 12, 14, 9, 0, 0, 0, time.UTC)
	c.Apply(Observation{CaseID: "c1", Status: StatusApproved, StatusText: "Approved",
		Determination: &Determination{AuthNumber: "PA1", ValidFrom: NewDate(2026, 12, 11), ValidTo: NewDate(2027, 3, 11)}},
		[]string{"approval-letter"}, "agent:summit-portal", "", now)
	d := c.Determination
	if c.Status != StatusApproved || d.AuthNumber != "PA1" || d.DenialReason != "" || d.NoticeDate != NewDate(2026, 12, 14) ||
		d.DecidedAt == nil || !d.DecidedAt.Equal(now) || !slices.Equal(d.Letters, []string{"approval-letter"}) {
		t.Errorf("the approval's determination = %+v", d)
	}
	if len(c.History) != 1 || c.History[0].DenialReason == "" || !slices.Equal(c.History[0].Letters, []string{"denial-letter"}) {
		t.Errorf("history = %+v, want the denial with its letter", c.History)
	}
}
