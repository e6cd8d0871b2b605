package pas_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot/payersim/pas"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

func pasNew(t *testing.T, opts pas.Options) (*pas.Server, *clocktest.Fake) {
	t.Helper()
	clock := clocktest.New(time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC))
	opts.Now = clock.Now
	return pas.New(opts), clock
}

type pasReply struct {
	status int
	header http.Header
	body   []byte
}

func (r pasReply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("reply %d is not JSON: %v\n%s", r.status, err, r.body)
	}
	return m
}

func pasDo(h http.Handler, method, path, body string, header map[string]string) pasReply {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return pasReply{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func pasToken(t *testing.T, sim *pas.Server) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=client_credentials&scope=system%2FClaim.write"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(pas.DefaultClientID, pas.DefaultClientSecret)
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token reply %s: %v", rec.Body, err)
	}
	return tok.AccessToken
}

func pasFixture(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func pasAPI(t *testing.T, sim *pas.Server, token, op, body string) pasReply {
	t.Helper()
	return pasDo(sim, http.MethodPost, "/Claim/$"+op, body, map[string]string{
		"Authorization": "Bearer " + token, "Content-Type": "application/fhir+json",
	})
}

// pasClaimResponse returns the ClaimResponse of a response Bundle, checking
// it is the first entry and that its references resolve in the Bundle.
func pasClaimResponse(t *testing.T, bundle map[string]any) map[string]any {
	t.Helper()
	if bundle["resourceType"] != "Bundle" || bundle["type"] != "collection" {
		t.Fatalf("not a collection Bundle: %v", bundle["resourceType"])
	}
	entries := bundle["entry"].([]any)
	first := entries[0].(map[string]any)["resource"].(map[string]any)
	if first["resourceType"] != "ClaimResponse" {
		t.Fatalf("first entry is %v", first["resourceType"])
	}
	resolves := func(ref string) bool {
		for _, e := range entries {
			em := e.(map[string]any)
			res := em["resource"].(map[string]any)
			fu, _ := em["fullUrl"].(string)
			if fu == ref || res["resourceType"].(string)+"/"+pasStr(res["id"]) == ref || strings.HasSuffix(fu, "/"+ref) {
				return true
			}
		}
		return false
	}
	for _, k := range []string{"patient", "insurer", "requestor"} {
		ref := first[k].(map[string]any)["reference"].(string)
		if !resolves(ref) {
			t.Errorf("ClaimResponse.%s %q does not resolve", k, ref)
		}
	}
	return first
}

func pasStr(v any) string { s, _ := v.(string); return s }

// pasActions lists the review action codes of a ClaimResponse's items and
// added items, e.g. ["A1", "A6", "+A1"].
func pasActions(cr map[string]any) []string {
	var out []string
	collect := func(list any, prefix string) {
		items, _ := list.([]any)
		for _, it := range items {
			for _, adj := range it.(map[string]any)["adjudication"].([]any) {
				for _, ext := range adj.(map[string]any)["extension"].([]any) {
					for _, sub := range ext.(map[string]any)["extension"].([]any) {
						sm := sub.(map[string]any)
						if strings.HasSuffix(pasStr(sm["url"]), "extension-reviewActionCode") {
							cc := sm["valueCodeableConcept"].(map[string]any)["coding"].([]any)[0].(map[string]any)
							out = append(out, prefix+pasStr(cc["code"]))
						}
					}
				}
			}
		}
	}
	collect(cr["item"], "")
	collect(cr["addItem"], "+")
	return out
}

func TestToken(t *testing.T) {
	tests := []struct {
		name   string
		method string
		body   string
		basic  [2]string
		status int
		errStr string
	}{
		{name: "basic auth", body: "grant_type=client_credentials", basic: [2]string{pas.DefaultClientID, pas.DefaultClientSecret}, status: 200},
		{name: "form auth", body: "grant_type=client_credentials&client_id=authpilot&client_secret=pas-sim-secret", status: 200},
		{name: "wrong secret", body: "grant_type=client_credentials", basic: [2]string{pas.DefaultClientID, "nope"}, status: 401, errStr: "invalid_client"},
		{name: "no credentials", body: "grant_type=client_credentials", status: 401, errStr: "invalid_client"},
		{name: "other grant", body: "grant_type=password", basic: [2]string{pas.DefaultClientID, pas.DefaultClientSecret}, status: 400, errStr: "unsupported_grant_type"},
		{name: "GET", method: http.MethodGet, status: 405, errStr: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, _ := pasNew(t, pas.Options{TokenTTL: 10 * time.Minute})
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, "/token", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.basic[0] != "" {
				req.SetBasicAuth(url.QueryEscape(tt.basic[0]), url.QueryEscape(tt.basic[1]))
			}
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			var m map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			st := sim.Stats()
			if tt.status == 200 {
				if m["token_type"] != "Bearer" || m["expires_in"] != float64(600) || len(pasStr(m["access_token"])) < 32 {
					t.Errorf("token reply = %v", m)
				}
				if st.TokensIssued != 1 {
					t.Errorf("tokens issued = %d", st.TokensIssued)
				}
				return
			}
			if m["error"] != tt.errStr {
				t.Errorf("error = %v, want %s", m["error"], tt.errStr)
			}
			if st.TokensIssued != 0 || st.Calls["token"] != 1 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestRequiresValidToken(t *testing.T) {
	sim, clock := pasNew(t, pas.Options{TokenTTL: time.Hour})
	body := pasFixture(t, "Bundle-MedicalServicesAuthorizationBundleExample.json")
	tok := pasToken(t, sim)
	steps := []struct {
		name   string
		before func()
		token  string
		status int
	}{
		{"no token", nil, "", 401},
		{"unknown token", nil, "abc", 401},
		{"valid token", nil, tok, 200},
		{"expired on the clock", func() { clock.Advance(61 * time.Minute) }, tok, 401},
		{"fresh token", nil, "", 200},
		{"expired by the admin", func() { sim.ExpireTokens() }, "", 401},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				st.before()
			}
			token := st.token
			if st.name == "fresh token" {
				tok = pasToken(t, sim)
				token = tok
			}
			if st.name == "expired by the admin" {
				token = tok
			}
			r := pasAPI(t, sim, token, "submit", body)
			if r.status != st.status {
				t.Fatalf("status %d, want %d: %s", r.status, st.status, r.body)
			}
			if st.status == 401 && !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	if got := sim.Stats(); got.Unauthorized != 4 || got.Submissions != 1 {
		t.Errorf("stats = %+v", got)
	}
}

// The IG's own request and inquiry examples go through the simulator.
func TestSubmitAndInquireIGExamples(t *testing.T) {
	sim, _ := pasNew(t, pas.Options{})
	tok := pasToken(t, sim)
	r := pasAPI(t, sim, tok, "submit", pasFixture(t, "Bundle-MedicalServicesAuthorizationBundleExample.json"))
	if r.status != 200 || r.header.Get("Content-Type") != "application/fhir+json" {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	if !bytes.HasPrefix(r.body, []byte(`{"resourceType":"Bundle"`)) {
		t.Errorf("resourceType is not written first: %.40s", r.body)
	}
	b := r.json(t)
	cr := pasClaimResponse(t, b)
	if got := pasActions(cr); !reflect.DeepEqual(got, []string{"A1"}) {
		t.Errorf("review actions = %v", got)
	}
	if cr["preAuthRef"] != "SHP-PA-000001" || cr["use"] != "preauthorization" || cr["outcome"] != "complete" {
		t.Errorf("ClaimResponse = %v", cr)
	}
	if id := cr["identifier"].([]any)[0].(map[string]any); id["value"] != "111099" {
		t.Errorf("identifier = %v, want the Claim's 111099", id)
	}
	period := cr["preAuthPeriod"].(map[string]any)
	if period["start"] != "2026-03-02" || period["end"] != "2026-05-31" {
		t.Errorf("preAuthPeriod = %v", period)
	}
	if b["identifier"].(map[string]any)["value"] != "5269367" {
		t.Errorf("bundle identifier = %v", b["identifier"])
	}

	t.Run("repeat is idempotent", func(t *testing.T) {
		again := pasAPI(t, sim, tok, "submit", pasFixture(t, "Bundle-MedicalServicesAuthorizationBundleExample.json"))
		cr2 := pasClaimResponse(t, again.json(t))
		if cr2["preAuthRef"] != cr["preAuthRef"] || !reflect.DeepEqual(cr2["item"], cr["item"]) {
			t.Errorf("repeat answered %v", cr2)
		}
		if st := sim.Stats(); st.Submissions != 1 || st.Calls["submit"] != 2 {
			t.Errorf("stats = %+v", st)
		}
		reqs := sim.Requests()
		want := pas.Request{Reference: "SHP-PA-000001", AuthNumber: "AUTH000001", BundleID: "5269367", Trace: "111099",
			MemberID: "1122334455", Codes: []string{"99212"}, ServiceDate: "2005-05-10", Fate: pas.Approve}
		if len(reqs) != 1 {
			t.Fatalf("requests = %+v, want one", reqs)
		}
		reqs[0].SubmittedAt = time.Time{}
		if !reflect.DeepEqual(reqs[0], want) {
			t.Errorf("request = %+v, want %+v", reqs[0], want)
		}
	})
	t.Run("inquiry example finds it", func(t *testing.T) {
		r := pasAPI(t, sim, tok, "inquire", pasFixture(t, "Bundle-PASClaimInquiryBundleExample.json"))
		if r.status != 200 {
			t.Fatalf("inquire: %d %s", r.status, r.body)
		}
		p := r.json(t)
		params, _ := p["parameter"].([]any)
		if p["resourceType"] != "Parameters" || len(params) != 1 {
			t.Fatalf("reply = %s", r.body)
		}
		prm := params[0].(map[string]any)
		if prm["name"] != "return" {
			t.Errorf("parameter name = %v", prm["name"])
		}
		ib := prm["resource"].(map[string]any)
		icr := pasClaimResponse(t, ib)
		if icr["preAuthRef"] != "SHP-PA-000001" || !strings.HasSuffix(pasStr(icr["meta"].(map[string]any)["profile"].([]any)[0]), "profile-claiminquiryresponse") {
			t.Errorf("inquiry ClaimResponse = %v", icr)
		}
		if st := sim.Stats(); st.Inquiries != 1 {
			t.Errorf("inquiries = %d", st.Inquiries)
		}
	})
	t.Run("unknown inquiry answers no Bundle", func(t *testing.T) {
		body := strings.Replace(pasFixture(t, "Bundle-PASClaimInquiryBundleExample.json"), `"value":"111099"`, `"value":"999999"`, 1)
		if body == pasFixture(t, "Bundle-PASClaimInquiryBundleExample.json") {
			t.Fatal("fixture changed: identifier not found")
		}
		p := pasAPI(t, sim, tok, "inquire", body).json(t)
		if p["resourceType"] != "Parameters" || p["parameter"] != nil {
			t.Errorf("reply = %v", p)
		}
	})
	t.Run("surgical example accepted", func(t *testing.T) {
		r := pasAPI(t, sim, tok, "submit", pasFixture(t, "Bundle-SurgicalRequestBundleExample.json"))
		if r.status != 200 {
			t.Fatalf("submit: %d %s", r.status, r.body)
		}
		pasClaimResponse(t, r.json(t))
	})
}

func TestSubmitValidation(t *testing.T) {
	base := pasFixture(t, "Bundle-MedicalServicesAuthorizationBundleExample.json")
	mutate := func(f func(b map[string]any)) string {
		var b map[string]any
		if err := json.Unmarshal([]byte(base), &b); err != nil {
			t.Fatal(err)
		}
		f(b)
		out, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	claim := func(b map[string]any) map[string]any {
		return b["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	}
	tests := []struct {
		name, body, want string
	}{
		{"not json", "<xml/>", "not a FHIR resource"},
		{"not a bundle", `{"resourceType":"Claim"}`, "expected a Bundle"},
		{"transaction", mutate(func(b map[string]any) { b["type"] = "transaction" }), "Bundle.type must be collection"},
		{"no identifier", mutate(func(b map[string]any) { delete(b, "identifier") }), "Bundle.identifier missing"},
		{"claim not first", mutate(func(b map[string]any) {
			e := b["entry"].([]any)
			e[0], e[1] = e[1], e[0]
		}), "Bundle.entry[0] must be the Claim"},
		{"claim use", mutate(func(b map[string]any) { claim(b)["use"] = "claim" }), "Claim.use must be preauthorization"},
		{"unresolved patient", mutate(func(b map[string]any) {
			claim(b)["patient"] = map[string]any{"reference": "Patient/nobody"}
		}), "Claim.patient does not resolve"},
		{"no items", mutate(func(b map[string]any) { delete(claim(b), "item") }), "Claim.item missing"},
		{"no subscriber", mutate(func(b map[string]any) {
			for _, e := range b["entry"].([]any) {
				res := e.(map[string]any)["resource"].(map[string]any)
				if res["resourceType"] == "Coverage" {
					delete(res, "subscriberId")
				}
			}
		}), "Coverage.subscriberId missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, _ := pasNew(t, pas.Options{})
			r := pasAPI(t, sim, pasToken(t, sim), "submit", tt.body)
			if r.status != 400 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			oo := r.json(t)
			issue := oo["issue"].([]any)[0].(map[string]any)
			if oo["resourceType"] != "OperationOutcome" || issue["severity"] != "error" ||
				!strings.Contains(pasStr(issue["diagnostics"]), tt.want) {
				t.Errorf("outcome = %s, want %q", r.body, tt.want)
			}
			if st := sim.Stats(); st.BadRequests != 1 || st.Submissions != 0 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
	t.Run("parameters wrapper accepted", func(t *testing.T) {
		sim, _ := pasNew(t, pas.Options{})
		body := `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":` + base + `}]}`
		if r := pasAPI(t, sim, pasToken(t, sim), "submit", body); r.status != 200 {
			t.Errorf("status %d: %s", r.status, r.body)
		}
	})
}

func TestScenarioFates(t *testing.T) {
	// The IG example: member 1122334455, one line of HCPCS 99212.
	body := pasFixture(t, "Bundle-MedicalServicesAuthorizationBundleExample.json")
	inquiry := pasFixture(t, "Bundle-PASClaimInquiryBundleExample.json")
	tests := []struct {
		name     string
		rules    []pas.Rule
		submit   []string
		inquire  [][]string // actions after each inquiry
		note     string
		addUnits float64
	}{
		{name: "default approve", submit: []string{"A1"}},
		{name: "first match wins",
			rules:  []pas.Rule{{MemberID: "1122334455", Fate: pas.Deny, Reason: "Out of network"}, {Code: "99212", Fate: pas.Approve}},
			submit: []string{"A3"}, note: "Out of network"},
		{name: "unmatched rules fall through to approve",
			rules:  []pas.Rule{{MemberID: "other", Fate: pas.Deny}, {Code: "72148", Fate: pas.Deny}},
			submit: []string{"A1"}},
		{name: "pend then approve after two inquiries",
			rules:   []pas.Rule{{Code: "99212", Fate: pas.Pend, Reason: "Send notes", AfterInquiries: 2, Then: pas.Approve}},
			submit:  []string{"A4"},
			inquire: [][]string{{"A4"}, {"A1"}, {"A1"}}, note: "Send notes"},
		{name: "deny delayed by one inquiry",
			rules:   []pas.Rule{{Fate: pas.Deny, AfterInquiries: 1}},
			submit:  []string{"A4"},
			inquire: [][]string{{"A3"}}},
		{name: "modify fewer units",
			rules:  []pas.Rule{{Fate: pas.Modify, ModifyUnits: 1}},
			submit: []string{"A6", "+A1"}, note: "Authorized as modified", addUnits: 1},
		{name: "partial single line",
			rules:  []pas.Rule{{Fate: pas.Partial}},
			submit: []string{"A2"}, note: "Part of the requested services is not medically necessary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, _ := pasNew(t, pas.Options{Scenario: pas.Scenario{Rules: tt.rules}})
			tok := pasToken(t, sim)
			cr := pasClaimResponse(t, pasAPI(t, sim, tok, "submit", body).json(t))
			if got := pasActions(cr); !reflect.DeepEqual(got, tt.submit) {
				t.Fatalf("submit actions = %v, want %v", got, tt.submit)
			}
			if tt.note != "" {
				notes, _ := cr["processNote"].([]any)
				if len(notes) != 1 || notes[0].(map[string]any)["text"] != tt.note {
					t.Errorf("processNote = %v, want %q", cr["processNote"], tt.note)
				}
			}
			if tt.addUnits > 0 {
				add := cr["addItem"].([]any)[0].(map[string]any)
				if add["quantity"].(map[string]any)["value"] != tt.addUnits || !reflect.DeepEqual(add["itemSequence"], []any{float64(1)}) {
					t.Errorf("addItem = %v", add)
				}
			}
			for i, want := range tt.inquire {
				p := pasAPI(t, sim, tok, "inquire", inquiry).json(t)
				icr := pasClaimResponse(t, p["parameter"].([]any)[0].(map[string]any)["resource"].(map[string]any))
				if got := pasActions(icr); !reflect.DeepEqual(got, want) {
					t.Errorf("inquiry %d actions = %v, want %v", i+1, got, want)
				}
			}
		})
	}
	t.Run("reject answers 400", func(t *testing.T) {
		sim, _ := pasNew(t, pas.Options{Scenario: pas.Scenario{Rules: []pas.Rule{{MemberID: "1122334455", Fate: pas.Reject}}}})
		r := pasAPI(t, sim, pasToken(t, sim), "submit", body)
		if r.status != 400 || !strings.Contains(string(r.body), "Subscriber not found") {
			t.Errorf("reply %d %s", r.status, r.body)
		}
		if st := sim.Stats(); st.BadRequests != 1 || st.Submissions != 0 {
			t.Errorf("stats = %+v", st)
		}
	})
}

func TestScenarioValidate(t *testing.T) {
	tests := []struct {
		name string
		rule pas.Rule
		want string
	}{
		{"unknown fate", pas.Rule{Fate: "maybe"}, `unknown fate "maybe"`},
		{"then without after", pas.Rule{Fate: pas.Pend, Then: pas.Approve}, "then needs after_inquiries"},
		{"then pend", pas.Rule{Fate: pas.Pend, Then: pas.Pend, AfterInquiries: 1}, "is not a decision"},
		{"negative", pas.Rule{Fate: pas.Approve, ValidDays: -1}, "negative number"},
		{"delayed reject", pas.Rule{Fate: pas.Reject, AfterInquiries: 2}, "cannot be delayed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pas.Scenario{Rules: []pas.Rule{tt.rule}}.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	body := pasFixture(t, "Bundle-MedicalServicesAuthorizationBundleExample.json")
	inquiry := pasFixture(t, "Bundle-PASClaimInquiryBundleExample.json")
	tests := []struct {
		name   string
		fault  pas.Fault
		op     string
		want   []int // statuses of consecutive calls
		header string
	}{
		{name: "500 twice", fault: pas.Fault{Kind: pas.Fault500, Count: 2}, op: "submit", want: []int{500, 500, 200}},
		{name: "503 with Retry-After", fault: pas.Fault{Kind: pas.Fault503, RetryAfter: 7}, op: "submit", want: []int{503, 200}, header: "7"},
		{name: "bad request", fault: pas.Fault{Kind: pas.FaultBadRequest, Op: "inquire"}, op: "inquire", want: []int{400, 200}},
		{name: "inquire fault spares submit", fault: pas.Fault{Kind: pas.Fault500, Op: "inquire"}, op: "submit", want: []int{200, 200}},
		{name: "slow then normal", fault: pas.Fault{Kind: pas.FaultSlow, Delay: pas.Duration(time.Millisecond)}, op: "submit", want: []int{200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, _ := pasNew(t, pas.Options{})
			tok := pasToken(t, sim)
			if tt.op == "inquire" {
				pasAPI(t, sim, tok, "submit", body)
			}
			if err := sim.AddFault(tt.fault); err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.want {
				req := body
				if tt.op == "inquire" {
					req = inquiry
				}
				r := pasAPI(t, sim, tok, tt.op, req)
				if r.status != want {
					t.Fatalf("call %d: status %d, want %d: %s", i+1, r.status, want, r.body)
				}
				if want >= 400 {
					if r.json(t)["resourceType"] != "OperationOutcome" {
						t.Errorf("call %d: no OperationOutcome", i+1)
					}
				}
				if i == 0 && tt.header != "" && r.header.Get("Retry-After") != tt.header {
					t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
				}
			}
		})
	}
	t.Run("token fault", func(t *testing.T) {
		sim, _ := pasNew(t, pas.Options{})
		if err := sim.AddFault(pas.Fault{Kind: pas.Fault503, Op: "token"}); err != nil {
			t.Fatal(err)
		}
		r := pasDo(sim, http.MethodPost, "/token", "grant_type=client_credentials&client_id=authpilot&client_secret=pas-sim-secret",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if r.status != 503 {
			t.Errorf("status %d", r.status)
		}
		pasToken(t, sim)
		if st := sim.Stats(); st.FaultsServed != 1 || st.TokensIssued != 1 {
			t.Errorf("stats = %+v", st)
		}
	})
	t.Run("bad faults", func(t *testing.T) {
		sim, _ := pasNew(t, pas.Options{})
		for _, f := range []pas.Fault{{Kind: "boom"}, {Kind: pas.Fault500, Op: "delete"}} {
			if err := sim.AddFault(f); err == nil {
				t.Errorf("AddFault(%+v) accepted", f)
			}
		}
	})
}

func TestAdmin(t *testing.T) {
	sim, _ := pasNew(t, pas.Options{})
	hdr := map[string]string{"Content-Type": "application/json"}
	steps := []struct {
		method, path, body string
		status             int
		contains           string
	}{
		{"PUT", "/_sim/pas/scenario", `{"rules":[{"code":"72148","fate":"pend","after_inquiries":2,"then":"deny","reason":"x"}]}`, 200, `"then":"deny"`},
		{"GET", "/_sim/pas/scenario", "", 200, `"code":"72148"`},
		{"PUT", "/_sim/pas/scenario", `{"rules":[{"fate":"sometimes"}]}`, 400, "unknown fate"},
		{"PUT", "/_sim/pas/scenario", `{"rules":[{"fate":"approve","colour":"red"}]}`, 400, "unknown field"},
		{"POST", "/_sim/pas/faults", `[{"kind":"http_503","retry_after":3,"count":2},{"kind":"slow","delay":"5ms"}]`, 200, `"queued":2`},
		{"POST", "/_sim/pas/faults", `{"kind":"slow","delay":"soon"}`, 400, "duration"},
		{"POST", "/_sim/pas/tokens/expire", "", 200, "expired"},
		{"DELETE", "/_sim/pas/faults", "", 200, "cleared"},
		{"GET", "/_sim/pas/stats", "", 200, `"tokens_issued":0`},
		{"POST", "/_sim/pas/reset", "", 200, "reset"},
		{"GET", "/_sim/pas/nothing", "", 404, "no admin route"},
	}
	for _, st := range steps {
		t.Run(st.method+" "+st.path, func(t *testing.T) {
			r := pasDo(sim, st.method, st.path, st.body, hdr)
			if r.status != st.status || !strings.Contains(string(r.body), st.contains) {
				t.Errorf("%d %s, want %d containing %q", r.status, r.body, st.status, st.contains)
			}
		})
	}
	// The scenario set through the admin endpoint drives the API.
	pasDo(sim, "PUT", "/_sim/pas/scenario", `{"rules":[{"fate":"deny","reason":"Not covered"}]}`, hdr)
	cr := pasClaimResponse(t, pasAPI(t, sim, pasToken(t, sim), "submit",
		pasFixture(t, "Bundle-MedicalServicesAuthorizationBundleExample.json")).json(t))
	if got := pasActions(cr); !reflect.DeepEqual(got, []string{"A3"}) {
		t.Errorf("actions = %v", got)
	}
	var stats pas.Stats
	r := pasDo(sim, "GET", "/_sim/pas/stats", "", nil)
	if err := json.Unmarshal(r.body, &stats); err != nil {
		t.Fatal(err)
	}
	if stats.Submissions != 1 || stats.TokensIssued != 1 || stats.Calls["submit"] != 1 {
		t.Errorf("stats = %+v", stats)
	}
}

// TestClaimUpdate: the IG's homecare request, pended until an update
// (await_update), answered by the IG's Claim Update Bundle (related to the
// prior Claim, which the Bundle includes) carrying two documents, one as a
// DocumentReference and one inline, and a message: the update is recorded
// with both attachments by name and content, the answer is A4 without an
// information request (in review), a repeat of the same Bundle records
// nothing new, the next inquiry shows the scripted approval; an update of
// an unknown request or of another member's is refused.
func TestClaimUpdate(t *testing.T) {
	sim, _ := pasNew(t, pas.Options{Scenario: pas.Scenario{Rules: []pas.Rule{{Code: "G0154", Fate: pas.Pend,
		Reason: "Send the plan of care", AwaitUpdate: true, AfterInquiries: 1, Then: pas.Approve}}}})
	tok := pasToken(t, sim)
	orig := pasAPI(t, sim, tok, "submit", pasFixture(t, "Bundle-HomecareAuthorizationBundleExample.json"))
	cr := pasClaimResponse(t, orig.json(t))
	if cr["processNote"] == nil || pasActions(cr)[0] != "A4" {
		t.Fatalf("original: %v with note %v, want A4 asking for information", pasActions(cr), cr["processNote"])
	}
	inquiry := pasFixture(t, "Bundle-PASClaimInquiryBundleExample.json")
	if cr := pasClaimResponse(t, pasAPI(t, sim, tok, "inquire", inquiry).json(t)["parameter"].([]any)[0].(map[string]any)["resource"].(map[string]any)); cr["processNote"] == nil {
		t.Fatal("still asking for information before the update: no processNote")
	}

	var upd map[string]any
	if err := json.Unmarshal([]byte(pasFixture(t, "Bundle-HomecareAuthorizationUpdateBundleExample.json")), &upd); err != nil {
		t.Fatal(err)
	}
	entries := upd["entry"].([]any)
	claim := entries[0].(map[string]any)["resource"].(map[string]any)
	claim["supportingInfo"] = []any{
		map[string]any{"sequence": 1, "category": map[string]any{"coding": []any{map[string]any{"code": "additionalInformation"}}},
			"valueReference": map[string]any{"reference": "urn:uuid:doc-1"}},
		map[string]any{"sequence": 2, "category": map[string]any{"coding": []any{map[string]any{"code": "additionalInformation"}}},
			"valueAttachment": map[string]any{"contentType": "application/pdf", "title": "wound-photos.pdf", "data": "JVBERi0xLjQgcGhvdG9z"}},
		map[string]any{"sequence": 3, "category": map[string]any{"coding": []any{map[string]any{"code": "freeFormMessage"}}},
			"valueString": "Plan of care attached."},
	}
	upd["entry"] = append(entries, map[string]any{"fullUrl": "urn:uuid:doc-1", "resource": map[string]any{
		"resourceType": "DocumentReference", "id": "doc-1", "status": "current",
		"content": []any{map[string]any{"attachment": map[string]any{"contentType": "application/pdf", "title": "plan-of-care.pdf", "data": "JVBERi0xLjQgcGxhbg=="}}}}})
	body, _ := json.Marshal(upd)
	r := pasAPI(t, sim, tok, "submit", string(body))
	if r.status != 200 {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	cr = pasClaimResponse(t, r.json(t))
	if got := pasActions(cr); got[0] != "A4" || cr["processNote"] != nil || cr["preAuthRef"] != "SHP-PA-000001" {
		t.Fatalf("update answer %v, note %v, ref %v: want A4 in review without a request, of the original", got, cr["processNote"], cr["preAuthRef"])
	}
	if again := pasAPI(t, sim, tok, "submit", string(body)); again.status != 200 {
		t.Fatalf("repeated update: %d", again.status)
	}
	reqs := sim.Requests()
	if len(reqs) != 1 || len(reqs[0].Updates) != 1 {
		t.Fatalf("requests %+v: want one request with one update", reqs)
	}
	u := reqs[0].Updates[0]
	if u.Note != "Plan of care attached." || len(u.Attachments) != 2 || u.Attachments[0].Title != "plan-of-care.pdf" ||
		u.Attachments[1].Title != "wound-photos.pdf" || u.Attachments[0].Size != len("%PDF-1.4 plan") {
		t.Fatalf("update recorded %+v", u)
	}
	if st := sim.Stats(); st.Updates != 1 || st.Submissions != 1 {
		t.Fatalf("stats %+v", st)
	}
	after := pasAPI(t, sim, tok, "inquire", inquiry).json(t)["parameter"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	if got := pasActions(pasClaimResponse(t, after)); got[0] != "A1" {
		t.Fatalf("inquiry after the update: %v, want A1", got)
	}

	unknown := strings.Replace(string(body), `"111099"`, `"999999"`, -1)
	unknown = strings.Replace(unknown, `"A12345"`, `"A99999"`, 1)
	if r := pasAPI(t, sim, tok, "submit", unknown); r.status != 400 || !strings.Contains(string(r.body), "prior request is not known") {
		t.Fatalf("update of an unknown request: %d %s", r.status, r.body)
	}
	other := strings.Replace(string(body), `"1122334455"`, `"5566778899"`, -1)
	other = strings.Replace(other, `"A12345"`, `"A55555"`, 1)
	if r := pasAPI(t, sim, tok, "submit", other); r.status != 400 || !strings.Contains(string(r.body), "subscriber differs") {
		t.Fatalf("update for another member: %d %s", r.status, r.body)
	}
}
