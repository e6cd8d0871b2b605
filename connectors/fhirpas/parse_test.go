package fhirpas

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
)

func date(s string) authpilot.Date {
	d, err := authpilot.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// parsed is what a test expects of one response file.
type parsed struct {
	notFound      bool  // no ClaimResponse at all
	errClass      error // the interpretation fails with this class
	errContains   []string
	status        authpilot.Status
	statusText    string
	payerRef      string
	authNumber    string
	validFrom     string
	validTo       string
	reason        string
	infoRequested string
	approved      []authpilot.ApprovedLine
	noticeDate    string
	hasDet        bool
}

// The IG examples' approved response: item 1 certified in total under
// AUTH0001, valid 2005-05-02..2005-06-02, the authorized detail naming X12
// service type 3 (consultation), one unit.
var referralApproved = parsed{
	status: authpilot.StatusApproved, statusText: "Certified in total",
	payerRef: "AUTH0001", authNumber: "AUTH0001",
	validFrom: "2005-05-02", validTo: "2005-06-02",
	approved:   []authpilot.ApprovedLine{{Code: "3", Units: 1}},
	noticeDate: "2005-05-02", hasDet: true,
}

// The inquiry response: certified, AUTH0001, no validity period given and
// no authorized detail (the requested line is not known without the case).
var inquiryApproved = parsed{
	status: authpilot.StatusApproved, statusText: "Certified in total",
	payerRef: "AUTH0001", authNumber: "AUTH0001",
	noticeDate: "2019-07-20", hasDet: true,
}

// The IG's pending response (A4) asks for no information: the request is
// in review (submitted), not pended, so no more_info_requested alert fires
// with nothing to send; the payer's word stays in the status text.
var referralPended = parsed{
	status: authpilot.StatusSubmitted, statusText: "Pending", payerRef: "PEND0001",
}

// The rejection names no reason and no authorization; the ClaimResponse
// identifier (the requester's trace number echoed) is the only reference.
var referralDenied = parsed{
	status: authpilot.StatusDenied, statusText: "Not Certified", payerRef: "111099",
	noticeDate: "2005-05-02", hasDet: true,
}

// The error response: X12 AAA errors 04 and T4, the latter at the
// requester organization's name.
var referralError = parsed{
	errClass: authpilot.ErrRejected,
	errContains: []string{"error 04", "error T4 at Bundle.entry[1].Organization.name",
		"element 2010A-NM103", "follow-up C"},
}

func TestParseResponseFiles(t *testing.T) {
	tests := map[string]parsed{
		"ClaimResponse-ErrorResponseExample.json":                        referralError,
		"ClaimResponse-PASClaimInquiryResponseExample.json":              inquiryApproved,
		"ClaimResponse-PractitionerRequestorResponseExample.json":        referralApproved,
		"ClaimResponse-PractitionerRequestorPendingResponseExample.json": referralPended,
		"ClaimResponse-RejectionResponseExample.json":                    referralDenied,
		// Item 1 certified with its authorized detail, plus a payer-added
		// item (addItem, sequence 2) certified under the same number.
		"ClaimResponse-PractitionerRequestorAdditionalContentResponseExample.json": {
			status: authpilot.StatusApproved, statusText: "Certified in total",
			payerRef: "AUTH0001", authNumber: "AUTH0001",
			validFrom: "2005-05-02", validTo: "2005-06-02",
			approved:   []authpilot.ApprovedLine{{Code: "3", Units: 1}, {Code: "3", Units: 1}},
			noticeDate: "2005-05-02", hasDet: true,
		},
		"Bundle-ErrorResponseBundleExample.json":                        referralError,
		"Bundle-PASClaimInquiryResponseBundleExample.json":              inquiryApproved,
		"Bundle-ReferralAuthorizationResponseBundleExample.json":        referralApproved,
		"Bundle-ReferralPendingAuthorizationResponseBundleExample.json": referralPended,
		"Bundle-RejectionResponseBundleExample.json":                    referralDenied,
		// A history Bundle whose second entry is the approved response Bundle.
		"Bundle-PASSubscriptionNotification.json": referralApproved,
		// The parameter is named "responseBundle" here, "return" in the
		// OperationDefinition.
		"Parameters-PASClaimInquiryOperationResponseExample.json": inquiryApproved,
		// A notification's Parameters carries no ClaimResponse.
		"Parameters-SubscriptionNotificationParameters.json": {notFound: true},
		"OperationOutcome-InvalidRequestResponse.json": {
			errClass: authpilot.ErrRejected, errContains: []string{"operation outcome: error invalid"},
		},
		"synthetic-modified-response.json": {
			status: authpilot.StatusModified, statusText: "Modified; Certified in total",
			payerRef: "SHP-PA-000077", authNumber: "AUTH-77",
			validFrom: "2026-03-02", validTo: "2026-05-31",
			reason:     "One level authorized instead of two",
			approved:   []authpilot.ApprovedLine{{Code: "22612", Units: 1}},
			noticeDate: "2026-03-02", hasDet: true,
		},
		"synthetic-partial-response.json": {
			status: authpilot.StatusPartiallyApproved, statusText: "Certified in total; Not Certified",
			payerRef: "AUTH-88", authNumber: "AUTH-88",
			validFrom: "2026-03-02", validTo: "2026-06-01",
			reason:     "Additional patient information required",
			noticeDate: "2026-03-02", hasDet: true,
		},
		"synthetic-pended-info-response.json": {
			status: authpilot.StatusPended, statusText: "Pended", payerRef: "PEND-42",
			infoRequested: "Send 6 weeks of physical therapy notes; Justification for Admissions: 18776-5",
			hasDet:        true,
		},
		"synthetic-unknown-action-response.json": {
			errClass: authpilot.ErrPortalChanged, errContains: []string{`unknown review action code "A5"`},
		},
	}
	now := time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			fs, err := extract(data)
			if want.notFound {
				if err != nil || len(fs) != 0 {
					t.Fatalf("extract = %d responses, %v; want none", len(fs), err)
				}
				return
			}
			var r *result
			if err == nil {
				if len(fs) == 0 {
					t.Fatal("no ClaimResponse found")
				}
				r, err = interpret(pick(fs, "01HZX5T0CASE"))
			} else {
				var oe *outcomeError
				if errors.As(err, &oe) {
					err = rejected("response", oe.Error(), nil)
				}
			}
			if want.errClass != nil {
				if !errors.Is(err, want.errClass) {
					t.Fatalf("err = %v, want class %v", err, want.errClass)
				}
				for _, s := range want.errContains {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("err %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("interpret: %v", err)
			}
			check := func(field string, got, want any) {
				t.Helper()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", field, got, want)
				}
			}
			check("status", r.status, want.status)
			check("statusText", r.statusText, want.statusText)
			check("payerRef", r.payerRef, want.payerRef)
			check("authNumber", r.authNumber, want.authNumber)
			check("validFrom", r.validFrom.String(), want.validFrom)
			check("validTo", r.validTo.String(), want.validTo)
			check("reason", r.reason, want.reason)
			check("infoRequested", r.infoRequested, want.infoRequested)
			d := r.determination(nil, now)
			if (d != nil) != want.hasDet {
				t.Fatalf("determination = %+v, want present=%v", d, want.hasDet)
			}
			if d == nil {
				return
			}
			check("determination.Status", d.Status, want.status)
			check("determination.AuthNumber", d.AuthNumber, want.authNumber)
			check("determination.ApprovedLines", d.ApprovedLines, want.approved)
			check("determination.DenialReason", d.DenialReason, want.reason)
			check("determination.InfoRequested", d.InfoRequested, want.infoRequested)
			check("determination.NoticeDate", d.NoticeDate.String(), want.noticeDate)
			if want.status.Decided() && d.DecidedAt == nil {
				t.Error("determination.DecidedAt unset")
			}
		})
	}

	// Every response example of the IG copied into testdata is covered.
	t.Run("coverage", func(t *testing.T) {
		files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			name := filepath.Base(f)
			request := name == "Bundle-SurgicalRequestBundleExample.json" || name == "Bundle-PASClaimInquiryBundleExample.json"
			if _, ok := tests[name]; !ok && !request {
				t.Errorf("%s has no expectation", name)
			}
		}
	})
}

// A requested line approved without an authorized detail counts with the
// case's code and units; a modified line defers to its substitute.
func TestApprovedLinesFromCase(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "ClaimResponse-PASClaimInquiryResponseExample.json"))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := extract(data)
	if err != nil {
		t.Fatal(err)
	}
	r, err := interpret(fs[0])
	if err != nil {
		t.Fatal(err)
	}
	c := &authpilot.Case{ServiceLines: []authpilot.ServiceLine{{Code: "72148", Units: 2}}}
	got := r.approvedLines(c)
	want := []authpilot.ApprovedLine{{Code: "72148", Units: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("approvedLines = %v, want %v", got, want)
	}
}

func TestOverallStatus(t *testing.T) {
	mk := func(codes ...string) []line {
		var ls []line
		for _, c := range codes {
			added := strings.HasPrefix(c, "+")
			c = strings.TrimPrefix(c, "+")
			st, err := authpilot.StatusFromReviewAction(c)
			if err != nil {
				t.Fatal(err)
			}
			ls = append(ls, line{action: c, status: st, added: added})
		}
		return ls
	}
	tests := []struct {
		name  string
		codes []string
		want  authpilot.Status
	}{
		{"no review action", nil, authpilot.StatusSubmitted},
		{"all approved", []string{"A1", "A1"}, authpilot.StatusApproved},
		{"approved and denied", []string{"A1", "A3"}, authpilot.StatusPartiallyApproved},
		{"all denied", []string{"A3", "A3"}, authpilot.StatusDenied},
		{"any pended wins", []string{"A1", "A4", "A3"}, authpilot.StatusPended},
		{"any modified", []string{"A1", "A6"}, authpilot.StatusModified},
		{"partial code", []string{"A2"}, authpilot.StatusPartiallyApproved},
		{"denied line replaced by an added approval", []string{"A3", "+A1"}, authpilot.StatusModified},
		{"added approval next to approvals", []string{"A1", "+A1"}, authpilot.StatusApproved},
		{"contact payer", []string{"A1", "CT"}, authpilot.StatusContactPayer},
		{"not required set aside", []string{"NA", "A1"}, authpilot.StatusApproved},
		{"all not required", []string{"NA", "NA"}, authpilot.StatusNotRequired},
		{"all cancelled", []string{"C"}, authpilot.StatusCancelled},
		{"cancelled and denied", []string{"C", "A3"}, authpilot.StatusDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := overallStatus(mk(tt.codes...)); got != tt.want {
				t.Errorf("overallStatus(%v) = %s, want %s", tt.codes, got, tt.want)
			}
		})
	}
}

func TestExtractRejectsGarbage(t *testing.T) {
	tests := map[string]string{
		"not json":      `<html>maintenance</html>`,
		"patient":       `{"resourceType":"Patient"}`,
		"broken bundle": `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"ClaimResponse","item":"x"}}]}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := extract([]byte(body)); err == nil {
				t.Fatal("extract accepted it")
			}
		})
	}
}

// TestNoticeDateFromCreatedOffset: the IG's practitioner response, made a
// denial without an issue date and created late in the evening at UTC-5:
// the notice date is the payer's date, whatever the practice's zone; a
// created that is a date alone is that day in the practice's zone.
func TestNoticeDateFromCreatedOffset(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "ClaimResponse-PractitionerRequestorResponseExample.json"))
	if err != nil {
		t.Fatal(err)
	}
	denial := strings.NewReplacer(
		`{"url":"http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-itemPreAuthIssueDate","valueDate":"2005-05-02"},`, ``,
		`"code":"A1","display":"Certified in total"`, `"code":"A3","display":"Not Certified"`,
	).Replace(string(data))
	if denial == string(data) {
		t.Fatal("the fixture no longer has the fields this test rewrites")
	}
	ny, _ := time.LoadLocation("America/New_York")
	la, _ := time.LoadLocation("America/Los_Angeles")
	tests := []struct {
		created    string
		zone       *time.Location
		wantNotice authpilot.Date
		wantAt     time.Time
	}{
		{"2026-12-01T23:30:00-05:00", ny, authpilot.NewDate(2026, 12, 1), time.Date(2026, 12, 2, 4, 30, 0, 0, time.UTC)},
		{"2026-12-01T23:30:00-05:00", time.UTC, authpilot.NewDate(2026, 12, 1), time.Date(2026, 12, 2, 4, 30, 0, 0, time.UTC)},
		{"2026-12-01T01:00:00+09:00", la, authpilot.NewDate(2026, 12, 1), time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)},
		{"2026-12-01", ny, authpilot.NewDate(2026, 12, 1), time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.created+" in "+tt.zone.String(), func(t *testing.T) {
			doc := strings.Replace(denial, `"created":"2005-05-02T11:02:00+05:00"`, `"created":"`+tt.created+`"`, 1)
			fs, err := extract([]byte(doc))
			if err != nil || len(fs) == 0 {
				t.Fatalf("extract: %d, %v", len(fs), err)
			}
			r, err := interpret(fs[0])
			if err != nil {
				t.Fatalf("interpret: %v", err)
			}
			if r.status != authpilot.StatusDenied {
				t.Fatalf("status %s, want denied", r.status)
			}
			d := r.determination(nil, time.Date(2026, 12, 5, 12, 0, 0, 0, tt.zone))
			if d.NoticeDate != tt.wantNotice || d.DecidedAt == nil || !d.DecidedAt.Equal(tt.wantAt) {
				t.Errorf("notice %s, decided %v; want %s, %v", d.NoticeDate, d.DecidedAt, tt.wantNotice, tt.wantAt)
			}
		})
	}
}
