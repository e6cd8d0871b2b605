package payersim_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot/payersim"
)

func TestScenarioFates(t *testing.T) {
	tests := []struct {
		name   string
		rule   payersim.Rule
		sub    payersim.Submission
		want   []string // status text of each detail view, in order
		detail map[string]string
		lines  string // the approved lines on the last view: code:requested->approved_code:approved
	}{
		{
			name:  "no rule: approve after one check",
			rule:  payersim.Rule{CPT: "99999", Outcome: payersim.Outcome{Fate: payersim.FateDeny}},
			sub:   simpleSubmission("M100001", "22630"),
			want:  []string{"In Review", "Approved", "Approved"},
			lines: "22630:2->22630:2",
		},
		{
			name:   "approve at once",
			rule:   payersim.Rule{CPT: "22630", Outcome: payersim.Outcome{Fate: payersim.FateApprove, AuthNumber: "PA-FIXED-1"}},
			sub:    simpleSubmission("M100001", "22630"),
			want:   []string{"Approved"},
			detail: map[string]string{"auth-number": "PA-FIXED-1", "valid-from": "03/02/2026", "valid-to": "05/31/2026"},
			lines:  "22630:2->22630:2",
		},
		{
			name:   "deny after three checks, matched by member",
			rule:   payersim.Rule{MemberID: "m100002", Outcome: payersim.Outcome{Fate: payersim.FateDeny, AfterChecks: 3, Reason: "Not medically necessary: no imaging."}},
			sub:    simpleSubmission("M100002", "22630"),
			want:   []string{"In Review", "In Review", "In Review", "Denied"},
			detail: map[string]string{"denial-reason": "Not medically necessary: no imaging."},
			lines:  "22630:2->22630:0",
		},
		{
			name: "pend then approve, matched by free text",
			rule: payersim.Rule{TextContains: "l4-L5", Outcome: payersim.Outcome{
				Fate: payersim.FatePend, AfterChecks: 1, InfoRequest: "Send the MRI report.",
				Then: &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 2},
			}},
			sub:    simpleSubmission("M100003", "63047"),
			want:   []string{"In Review", "Pending - Additional Information Requested", "Pending - Additional Information Requested", "Approved"},
			detail: map[string]string{},
			lines:  "63047:2->63047:2",
		},
		{
			name:   "pend without follow-up stays pended",
			rule:   payersim.Rule{Outcome: payersim.Outcome{Fate: payersim.FatePend}},
			sub:    simpleSubmission("M100004", "72148"),
			want:   []string{"Pending - Additional Information Requested", "Pending - Additional Information Requested"},
			detail: map[string]string{"info-requested": "Please submit physical therapy notes documenting at least 6 weeks of conservative treatment and the most recent imaging report."},
		},
		{
			name: "partial by code",
			rule: payersim.Rule{CPT: "22840", Outcome: payersim.Outcome{Fate: payersim.FatePartial, ApprovedUnits: map[string]int{"22840": 1}}},
			sub: payersim.Submission{MemberID: "M100005", Lines: []payersim.ServiceLine{
				{Code: "22630", Units: 1}, {Code: "22840", Units: 3},
			}},
			want:  []string{"Partially Approved"},
			lines: "22630:1->22630:1 22840:3->22840:1",
		},
		{
			// A scenario that cuts the primary code cannot leave its
			// add-ons approved: no payer approves a device or an extra
			// level without the fusion.
			name: "partial never approves an add-on without its primary",
			rule: payersim.Rule{CPT: "22612", Outcome: payersim.Outcome{Fate: payersim.FatePartial, ApprovedUnits: map[string]int{"22612": 0}}},
			sub: payersim.Submission{MemberID: "M100010", Lines: []payersim.ServiceLine{
				{Code: "22612", Units: 1, Detail: "L4-L5"}, {Code: "22614", Units: 1, Detail: "L5-S1"}, {Code: "22853", Units: 2, Detail: "L4-L5, L5-S1"},
			}},
			want:  []string{"Partially Approved"},
			lines: "22612:1->22612:0 22614:1->22614:0 22853:2->22853:0",
		},
		{
			name:  "partial without units halves",
			rule:  payersim.Rule{Outcome: payersim.Outcome{Fate: payersim.FatePartial}},
			sub:   simpleSubmission("M100006", "97110"),
			want:  []string{"Partially Approved"},
			lines: "97110:2->97110:1",
		},
		{
			name:   "modify to another code",
			rule:   payersim.Rule{CPT: "22633", Outcome: payersim.Outcome{Fate: payersim.FateModify, ApprovedCodes: map[string]string{"22633": "22630"}, Reason: "Approved as single-level fusion."}},
			sub:    simpleSubmission("M100007", "22633"),
			want:   []string{"Approved - Modified"},
			detail: map[string]string{"decision-note": "Approved as single-level fusion."},
			lines:  "22633:2->22630:2",
		},
		{
			name:   "cancel",
			rule:   payersim.Rule{Outcome: payersim.Outcome{Fate: payersim.FateCancel, AfterChecks: 1}},
			sub:    simpleSubmission("M100008", "22630"),
			want:   []string{"In Review", "Cancelled"},
			detail: map[string]string{"decision-note": "The request was cancelled by the health plan as a duplicate of an existing request."},
		},
		{
			name: "not required",
			rule: payersim.Rule{CPT: "20610", Outcome: payersim.Outcome{Fate: payersim.FateNotRequired}},
			sub:  simpleSubmission("M100009", "20610"),
			want: []string{"No Authorization Required"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newPayerEnv(t, payersim.PayerOptions{})
			if err := e.portal.SetScenario(payersim.Scenario{Rules: []payersim.Rule{tc.rule}}); err != nil {
				t.Fatal(err)
			}
			ref := seed(t, e.portal, tc.sub)
			e.loginPayer()
			var last page
			for i, want := range tc.want {
				var got string
				got, last = statusOf(e, ref)
				if got != want {
					t.Fatalf("view %d: status %q, want %q", i+1, got, want)
				}
			}
			for id, want := range tc.detail {
				if got := mustText(t, last, id); got != want {
					t.Errorf("#%s = %q, want %q", id, got, want)
				}
			}
			r, ok := e.portal.Request(ref)
			if !ok {
				t.Fatalf("Request(%q) not found", ref)
			}
			if r.Checks != len(tc.want) {
				t.Errorf("checks %d, want %d", r.Checks, len(tc.want))
			}
			var lines []string
			for _, d := range r.Decisions {
				lines = append(lines, fmt.Sprintf("%s:%d->%s:%d", d.Code, d.RequestedUnits, d.ApprovedCode, d.ApprovedUnits))
			}
			if got := strings.Join(lines, " "); got != tc.lines {
				t.Errorf("decisions %q, want %q", got, tc.lines)
			}
			hasLetter := hasID(last.body, "letter-link")
			wantLetter := r.Status != payersim.StatusInReview && r.Status != payersim.StatusPended && r.Status != payersim.StatusCancelled
			if hasLetter != wantLetter {
				t.Errorf("letter link %v, want %v for %s", hasLetter, wantLetter, r.Status)
			}
			if approved := r.Status == payersim.StatusApproved || r.Status == payersim.StatusPartiallyApproved || r.Status == payersim.StatusModified; approved != (r.AuthNumber != "") {
				t.Errorf("status %s with auth number %q", r.Status, r.AuthNumber)
			}
		})
	}
}

func TestScenarioFirstMatchWinsAndDefault(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	err := e.portal.SetScenario(payersim.Scenario{
		Rules: []payersim.Rule{
			{Name: "fusion for this member", CPT: "22630", MemberID: "M200001", Outcome: payersim.Outcome{Fate: payersim.FateDeny}},
			{Name: "all fusions", CPT: "22630", Outcome: payersim.Outcome{Fate: payersim.FateNotRequired}},
		},
		Default: &payersim.Outcome{Fate: payersim.FateCancel},
	})
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]string{
		seed(t, e.portal, simpleSubmission("M200001", "22630")): "Denied",
		seed(t, e.portal, simpleSubmission("M200002", "22630")): "No Authorization Required",
		seed(t, e.portal, simpleSubmission("M200001", "72148")): "Cancelled",
	}
	e.loginPayer()
	for ref, want := range refs {
		if got, _ := statusOf(e, ref); got != want {
			t.Errorf("%s: %q, want %q", ref, got, want)
		}
	}
	// A request keeps the fate of the scenario it was submitted under.
	if err := e.portal.SetScenario(payersim.Scenario{}); err != nil {
		t.Fatal(err)
	}
	ref := seed(t, e.portal, simpleSubmission("M200001", "22630"))
	if got, _ := statusOf(e, ref); got != "In Review" {
		t.Errorf("after reset: %q, want the default In Review", got)
	}
}

func TestScenarioValidate(t *testing.T) {
	tests := []struct {
		name    string
		sc      payersim.Scenario
		wantErr string
	}{
		{"empty is valid", payersim.Scenario{}, ""},
		{"missing fate", payersim.Scenario{Rules: []payersim.Rule{{Name: "x"}}}, `rules[0] "x": fate: missing`},
		{"unknown fate", payersim.Scenario{Rules: []payersim.Rule{{Outcome: payersim.Outcome{Fate: "approved"}}}}, `fate: unknown "approved"`},
		{"negative checks", payersim.Scenario{Default: &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: -1}}, "default: after_checks: -1 is negative"},
		{"then on a denial", payersim.Scenario{Rules: []payersim.Rule{{Outcome: payersim.Outcome{Fate: payersim.FateDeny, Then: &payersim.Outcome{Fate: payersim.FateApprove}}}}}, "only a pend has a follow-up"},
		{"bad follow-up", payersim.Scenario{Rules: []payersim.Rule{{Outcome: payersim.Outcome{Fate: payersim.FatePend, Then: &payersim.Outcome{}}}}}, "then: fate: missing"},
		{"refuse is a fate", payersim.Scenario{Rules: []payersim.Rule{{Outcome: payersim.Outcome{Fate: payersim.FateRefuse, Reason: "Not eligible."}}}}, ""},
		{"delayed refusal", payersim.Scenario{Rules: []payersim.Rule{{Outcome: payersim.Outcome{Fate: payersim.FateRefuse, AfterChecks: 1}}}}, "refuse: the portal refuses at once"},
		{"negative units", payersim.Scenario{Rules: []payersim.Rule{{Outcome: payersim.Outcome{Fate: payersim.FatePartial, ApprovedUnits: map[string]int{"22840": -1}}}}}, "approved_units[22840]: -1 is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := payersim.NewPayer(payersim.PayerOptions{})
			err := p.SetScenario(tc.sc)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestListRowsCountAsChecks(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{PageSize: 2})
	if err := e.portal.SetScenario(payersim.Scenario{Default: &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 2}}); err != nil {
		t.Fatal(err)
	}
	old := seed(t, e.portal, payersim.Submission{MemberID: "M300001", Lines: []payersim.ServiceLine{{Code: "22630"}}, SubmittedAt: testStart.Add(-72 * time.Hour)})
	seed(t, e.portal, simpleSubmission("M300002", "22630"))
	seed(t, e.portal, simpleSubmission("M300003", "22630"))
	e.loginPayer()

	for i := range 2 {
		pg := e.get("/auth/list") // the two newest requests only
		if strings.Count(pg.body, "In Review") != 2 {
			t.Fatalf("list render %d: want 2 rows In Review:\n%s", i+1, pg.body)
		}
	}
	pg := e.get("/auth/list")
	if strings.Count(pg.body, ">Approved<") != 2 {
		t.Errorf("third render: want both rows Approved")
	}
	if r, _ := e.portal.Request(old); r.Checks != 0 || r.Status != payersim.StatusInReview {
		t.Errorf("request on page 2: %d checks, status %s; want 0 and in_review", r.Checks, r.Status)
	}
	if st := e.portal.Stats(); st.ListViews != 3 || st.Checks != 6 {
		t.Errorf("list views %d checks %d, want 3 and 6", st.ListViews, st.Checks)
	}
}

func TestSubmissionValidation(t *testing.T) {
	p := payersim.NewPayer(payersim.PayerOptions{})
	tests := []struct {
		name    string
		sub     payersim.Submission
		wantErr string
	}{
		{"bad member", payersim.Submission{MemberID: "ab", Lines: []payersim.ServiceLine{{Code: "22630"}}}, "member_id"},
		{"no lines", payersim.Submission{MemberID: "ABC123"}, "lines: 0 service lines"},
		{"too many lines", payersim.Submission{MemberID: "ABC123", Lines: make([]payersim.ServiceLine, 6)}, "lines: 6 service lines"},
		{"bad code", payersim.Submission{MemberID: "ABC123", Lines: []payersim.ServiceLine{{Code: "2"}}}, "lines[0].code"},
		{"bad diagnosis", payersim.Submission{MemberID: "ABC123", Lines: []payersim.ServiceLine{{Code: "22630"}}, Diagnoses: []string{"123"}}, "diagnoses[0]"},
		{"bad date", payersim.Submission{MemberID: "ABC123", Lines: []payersim.ServiceLine{{Code: "22630"}}, ServiceDate: "04/20/2026"}, "service_date"},
		{"bad urgency", payersim.Submission{MemberID: "ABC123", Lines: []payersim.ServiceLine{{Code: "22630"}}, Urgency: "now"}, "urgency"},
		{"bad outcome", payersim.Submission{MemberID: "ABC123", Lines: []payersim.ServiceLine{{Code: "22630"}}, Outcome: &payersim.Outcome{Fate: "x"}}, "outcome: fate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.AddRequest(tc.sub); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if n := len(p.Requests()); n != 0 {
		t.Errorf("%d requests stored, want 0", n)
	}
}
