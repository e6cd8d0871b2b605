package chaos

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// cleanRecords is a run where every promise held: two members at the payer
// portal, one at the PAS API, a letter stored, alerts delivered or queued.
func cleanRecords() *Records {
	return &Records{
		Requests: []SimRequest{
			{Sim: "payer", Ref: "SHP-2026-004201", AuthNumber: "PA1", MemberID: "CH00000001", Codes: []string{"22612"}, ServiceDate: "2027-01-10"},
			// The same member and code on another date is another request.
			{Sim: "payer", Ref: "SHP-2026-004202", AuthNumber: "PA2", MemberID: "CH00000001", Codes: []string{"22612"}, ServiceDate: "2027-02-10"},
			{Sim: "payer", Ref: "SHP-2026-004203", MemberID: "CH00000002", Codes: []string{"22614", "22612"}, ServiceDate: "03/01/2027"},
			{Sim: "pas", Ref: "SHP-PA-000001", AuthNumber: "AUTH000001", MemberID: "CH00000003", Codes: []string{"63030"}, ServiceDate: "2027-01-05"},
		},
		Acked: []Acked{
			{CaseID: "A", Status: 201, IdempotencyKey: "k1"},
			{CaseID: "B", Status: 201, IdempotencyKey: "k2"},
			{CaseID: "B", Status: 200, IdempotencyKey: "k2"}, // a repeat answered with the same case
			{CaseID: "C", Status: 201, IdempotencyKey: "k3"},
			{CaseID: "D", Status: 201, IdempotencyKey: "k4"},
		},
		SeenEvents: map[string][]int64{"A": {1, 2}, "D": {7}},
		Letters:    map[string]map[string]bool{"payer|SHP-2026-004201": {"sha-a": true}},
		Cases: map[string]*StoredCase{
			"A": {ID: "A", Status: "approved", Sim: "payer", PayerRef: "SHP-2026-004201", AuthNumber: "PA1", MemberID: "CH00000001",
				Codes: []string{"22612"}, ServiceDate: "2027-01-10", Events: map[int64]string{1: "case_created", 2: "submitted", 3: "status_changed"},
				Docs: map[string]map[string]bool{"letter": {"sha-a": true}}},
			"B": {ID: "B", Status: "submitted", Sim: "payer", PayerRef: "SHP-2026-004202", MemberID: "ch00000001",
				Codes: []string{"22612"}, ServiceDate: "2027-02-10", Events: map[int64]string{4: "case_created", 5: "submitted"}},
			"C": {ID: "C", Status: "submitted", Sim: "payer", PayerRef: "SHP-2026-004203", MemberID: "CH00000002",
				Codes: []string{"22612", "22614"}, ServiceDate: "2027-03-01", Events: map[int64]string{6: "case_created"}},
			"D": {ID: "D", Status: "approved", Sim: "pas", PayerRef: "SHP-PA-000001", AuthNumber: "AUTH000001", MemberID: "CH00000003",
				Codes: []string{"63030"}, ServiceDate: "2027-01-05", Events: map[int64]string{7: "case_created"}},
		},
		Alerts: map[string]*StoredAlert{
			"al1": {ID: "al1", CaseID: "A", Type: "case_submitted", Routed: true, Deliveries: map[string]string{"ehr": "delivered"}},
			"al2": {ID: "al2", CaseID: "A", Type: "status_changed", Routed: true, Deliveries: map[string]string{"ehr": "pending"}},
			"al3": {ID: "al3", CaseID: "B", Type: "case_submitted", Deliveries: map[string]string{}}, // not routed yet: queued
		},
		Received: map[string]Received{"al1": {ID: "al1", Type: "case_submitted", CaseID: "A"}},
		Sink:     "ehr",
	}
}

// TestCheckFindsEachViolation shows that every check can fail: each case
// breaks one promise in an otherwise clean run and expects exactly that
// check to report it.
func TestCheckFindsEachViolation(t *testing.T) {
	if v := Check(cleanRecords()); len(v) != 0 {
		t.Fatalf("a clean run reports %v", v)
	}
	for _, tc := range []struct {
		name   string
		break_ func(r *Records)
		check  string
		detail string
		// also are other checks the same fault trips by its nature.
		also []string
	}{
		{"a duplicate at the payer portal", func(r *Records) {
			r.Requests = append(r.Requests, SimRequest{Sim: "payer", Ref: "SHP-2026-004209", MemberID: "CH00000001", Codes: []string{"22612"}, ServiceDate: "01/10/2027"})
			r.Cases["E"] = &StoredCase{ID: "E", Sim: "payer", PayerRef: "SHP-2026-004209", MemberID: "CH00000001", Codes: []string{"22612"}, ServiceDate: "2027-01-10",
				Events: map[int64]string{9: "case_created"}}
		}, CheckDuplicate, "SHP-2026-004201 (case A [HTTP 201, Idempotency-Key k1, ]), SHP-2026-004209 (case E [never acknowledged])", nil},
		{"a duplicate at the PAS API (codes in another order)", func(r *Records) {
			r.Requests = append(r.Requests, SimRequest{Sim: "pas", Ref: "SHP-PA-000002", MemberID: "ch00000003", Codes: []string{"63030"}, ServiceDate: "2027-01-05"})
			r.Cases["D"].Status = "denied"
			r.Cases["E"] = &StoredCase{ID: "E", Sim: "pas", PayerRef: "SHP-PA-000002", MemberID: "CH00000003", Codes: []string{"63030"}, ServiceDate: "2027-01-05",
				Events: map[int64]string{9: "case_created"}}
		}, CheckDuplicate, "pas: 2 requests", nil},
		{"an acknowledged case lost", func(r *Records) { delete(r.Cases, "C") }, CheckAckedCase, "case C (HTTP 201)", []string{CheckOrphan}},
		{"an acknowledged case without its created event", func(r *Records) { delete(r.Cases["C"].Events, 6) }, CheckAckedEvent, "case C has no created event", nil},
		{"an event read through the API lost", func(r *Records) { delete(r.Cases["A"].Events, 2) }, CheckAckedEvent, "case A: events 2", nil},
		{"an issued letter not stored", func(r *Records) { r.Cases["A"].Docs = map[string]map[string]bool{"letter": {"other": true}} }, CheckLetter, "case A", nil},
		{"a letter for a request no case holds", func(r *Records) {
			r.Letters["payer|SHP-2026-009999"] = map[string]bool{"x": true}
		}, CheckLetter, "no case holds", nil},
		{"an alert given up", func(r *Records) { r.Alerts["al2"].Deliveries["ehr"] = "dead" }, CheckAlertLost, "alert al2", nil},
		{"an alert marked delivered that never arrived", func(r *Records) { delete(r.Received, "al1") }, CheckAlertLost, "never received", nil},
		{"an alert routed elsewhere", func(r *Records) {
			r.Alerts["al3"].Routed = true
		}, CheckAlertLost, "not to ehr", nil},
		{"a delivered alert gone from the store", func(r *Records) { delete(r.Alerts, "al1") }, CheckAlertGhost, "alert al1", nil},
		{"a case holding another member's request", func(r *Records) { r.Cases["C"].PayerRef = "SHP-2026-004201" }, CheckForeignRef, "case C",
			[]string{CheckLetter, CheckSharedRef, CheckOrphan}},
		{"a case holding its member's request of another date", func(r *Records) {
			r.Cases["B"].PayerRef = "SHP-2026-004201"
		}, CheckWrongReq, "another service date", []string{CheckLetter, CheckSharedRef, CheckOrphan}},
		{"a reference the simulator never issued", func(r *Records) { r.Cases["C"].PayerRef = "SHP-2026-777777" }, CheckUnknownRef, "case C", []string{CheckOrphan}},
		{"an authorization number of another member's request", func(r *Records) { r.Cases["D"].AuthNumber = "PA1" }, CheckForeignRef, "authorization PA1", nil},
		{"an authorization number of the same member's other request", func(r *Records) { r.Cases["B"].AuthNumber = "PA1" }, CheckForeignAuth, "authorization PA1", nil},
		{"an authorization number the request does not have", func(r *Records) { r.Cases["A"].AuthNumber = "PA-made-up" }, CheckForeignAuth, "case A", nil},
		{"two cases holding one request", func(r *Records) {
			r.Cases["E"] = &StoredCase{ID: "E", Sim: "payer", PayerRef: "SHP-2026-004203", MemberID: "CH00000002", Codes: []string{"22612", "22614"},
				ServiceDate: "2027-03-01", Events: map[int64]string{9: "case_created"}}
		}, CheckSharedRef, "cases C, E", nil},
		{"a request no case holds", func(r *Records) {
			r.Cases["C"].PayerRef = ""
			r.Cases["C"].MemberID = "CH00000099"
		}, CheckOrphan, "SHP-2026-004203", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cleanRecords()
			tc.break_(r)
			vs := Check(r)
			found := false
			for _, v := range vs {
				if v.Check == tc.check && strings.Contains(v.Detail, tc.detail) {
					found = true
				}
			}
			if !found {
				t.Fatalf("want %q naming %q; got %v", tc.check, tc.detail, vs)
			}
			for _, v := range vs {
				if v.Check != tc.check && !slices.Contains(tc.also, v.Check) {
					t.Errorf("also reported: %v", v)
				}
			}
		})
	}
}

// TestCheckTellsWaitingFromOrphan: a request no case holds is fine when a
// case for the same member, codes and date stopped for a person.
func TestCheckTellsWaitingFromOrphan(t *testing.T) {
	r := cleanRecords()
	r.Cases["C"].PayerRef = ""
	r.Cases["C"].Status = "submitting"
	if v := Check(r); len(v) != 0 {
		t.Fatalf("a case waiting on a person for its request reports %v", v)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct{ sim, method, path, want string }{
		{"payer", "POST", "/auth/new/submit", classSubmitFinal},
		{"payer", "POST", "/auth/new/services", classSubmitStep},
		{"payer", "GET", "/auth/list", classPoll},
		{"payer", "GET", "/auth/SHP-2026-004201", classPoll},
		{"payer", "GET", "/auth/SHP-2026-004201/letter.pdf", classLetter},
		{"payer", "POST", "/login", ""},
		{"rbm", "POST", "/orders/new", classSubmitFinal},
		{"rbm", "GET", "/orders/new", classSubmitStep},
		{"rbm", "GET", "/orders/status", classPoll},
		{"rbm", "GET", "/orders/CV-7F3K9Q2/letter.pdf", classLetter},
		{"pas", "POST", "/Claim/$submit", classSubmitFinal},
		{"pas", "POST", "/Claim/$inquire", classPoll},
		{"pas", "POST", "/token", ""},
	} {
		r := httptestRequest(tc.method, tc.path)
		if got := classify(tc.sim, r); got != tc.want {
			t.Errorf("%s %s %s = %q, want %q", tc.sim, tc.method, tc.path, got, tc.want)
		}
	}
	if got := letterRef("/orders/CV-7F3K9Q2/letter.pdf"); got != "CV-7F3K9Q2" {
		t.Errorf("letterRef = %q", got)
	}
}

func httptestRequest(method, path string) *http.Request {
	return httptest.NewRequest(method, "http://sim"+path, nil)
}
