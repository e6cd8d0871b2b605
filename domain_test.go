package authpilot

import (
	"errors"
	"strings"
	"testing"
	"time"

	"encoding/json"
)

func TestTransitions(t *testing.T) {
	tests := []struct {
		from, to Status
		ok       bool
	}{
		{StatusReady, StatusSubmitting, true},
		{StatusSubmitting, StatusSubmitted, true},
		{StatusSubmitting, StatusReady, true},
		{StatusSubmitted, StatusPended, true},
		{StatusPended, StatusApproved, true},
		{StatusSubmitted, StatusDenied, true},
		{StatusDenied, StatusApproved, true}, // overturned on appeal
		{StatusApproved, StatusExpired, true},
		{StatusDraft, StatusApproved, false},
		{StatusReady, StatusApproved, false},
		{StatusSubmitted, StatusReady, false},
		{StatusApproved, StatusPended, false},
		{StatusCancelled, StatusSubmitted, false},
		{StatusExpired, StatusApproved, false},
		{StatusWithdrawn, StatusReady, false},
		{StatusContactPayer, StatusContactPayer, false},
		// A refused request: reached from submitting (after the final
		// click) or ready (refused on an earlier page); left only by a
		// person (re-queue, cancel, withdraw), never by a payer's report.
		{StatusSubmitting, StatusRejected, true},
		{StatusReady, StatusRejected, true},
		{StatusRejected, StatusReady, true},
		{StatusRejected, StatusCancelled, true},
		{StatusRejected, StatusWithdrawn, true},
		{StatusRejected, StatusSubmitting, false},
		{StatusRejected, StatusSubmitted, false},
		{StatusRejected, StatusApproved, false},
		{StatusSubmitted, StatusRejected, false},
		{StatusPended, StatusRejected, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"->"+string(tt.to), func(t *testing.T) {
			err := CheckTransition(tt.from, tt.to)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckTransition = %v, want ok=%v", err, tt.ok)
			}
			var te *TransitionError
			if err != nil && !errors.As(err, &te) {
				t.Fatalf("error %T is not a *TransitionError", err)
			}
		})
	}
}

func TestEveryStatusReachableAndFinalOnesClosed(t *testing.T) {
	reached := map[Status]bool{StatusDraft: true}
	for from, tos := range transitions {
		if !from.Valid() {
			t.Errorf("transition table names unknown status %q", from)
		}
		for _, to := range tos {
			if !to.Valid() {
				t.Errorf("transition %s -> unknown %q", from, to)
			}
			reached[to] = true
		}
	}
	for _, s := range Statuses {
		if !reached[s] {
			t.Errorf("status %s is unreachable", s)
		}
	}
	for _, s := range []Status{StatusCancelled, StatusExpired, StatusWithdrawn} {
		if !s.Final() {
			t.Errorf("%s should be final", s)
		}
	}
}

func TestRejectedIsKnownButNotPending(t *testing.T) {
	st, err := ParseStatus("rejected")
	if err != nil || st != StatusRejected {
		t.Fatalf("ParseStatus(rejected) = %q, %v", st, err)
	}
	if StatusRejected.Pending() || StatusRejected.Decided() || StatusRejected.Authorized() || StatusRejected.Final() {
		t.Fatal("rejected must be neither pending, decided, authorized nor final")
	}
}

func TestReviewActions(t *testing.T) {
	want := map[string]Status{
		"A1": StatusApproved, "A2": StatusPartiallyApproved, "A3": StatusDenied,
		"A4": StatusPended, "A6": StatusModified, "C": StatusCancelled,
		"CT": StatusContactPayer, "NA": StatusNotRequired, " a1 ": StatusApproved,
	}
	for code, st := range want {
		got, err := StatusFromReviewAction(code)
		if err != nil || got != st {
			t.Errorf("StatusFromReviewAction(%q) = %q, %v; want %q", code, got, err, st)
		}
	}
	for _, bad := range []string{"A5", "", "ZZ"} {
		if _, err := StatusFromReviewAction(bad); err == nil {
			t.Errorf("StatusFromReviewAction(%q) succeeded, want error", bad)
		}
	}
}

func TestValidNPI(t *testing.T) {
	for npi, ok := range map[string]bool{
		"1234567893": true, "1245319599": true, "1234567890": false,
		"123456789": false, "12345678931": false, "12345678a3": false, "": false,
	} {
		if got := ValidNPI(npi); got != ok {
			t.Errorf("ValidNPI(%q) = %v, want %v", npi, got, ok)
		}
	}
}

func lumbarFusion() *Case {
	return &Case{
		ExternalRef: "MRN-1001-ORD-7",
		Patient:     Patient{FirstName: "Jane", LastName: "Doe", DOB: Date{1961, 4, 2}, MemberID: "SHP123456789"},
		Payer:       "summit-ma", PlanType: PlanMedicareAdvantage, Track: TrackSurgery,
		OrderingProvider: Provider{NPI: "1234567893", Name: "Dr. A. Surgeon"},
		ServiceLines:     []ServiceLine{{Code: "22612", Units: 1, Level: "L4-L5"}, {Code: "22614", Units: 1, Level: "L5-S1"}},
		Diagnoses:        []string{"m48.062", "M43.16"},
		ServiceDate:      Date{2026, 12, 15},
	}
}

func TestValidateNew(t *testing.T) {
	today := Date{2026, 11, 22}
	tests := []struct {
		name   string
		mutate func(c *Case)
		fields []string // fields expected in the error; none = valid
	}{
		{"valid lumbar fusion", func(c *Case) {}, nil},
		{"npi fails luhn", func(c *Case) { c.OrderingProvider.NPI = "1234567890" }, []string{"ordering_provider.npi"}},
		{"npi not digits", func(c *Case) { c.OrderingProvider.NPI = "12345" }, []string{"ordering_provider.npi"}},
		{"missing patient", func(c *Case) { c.Patient = Patient{} }, []string{"patient.first_name", "patient.last_name", "patient.dob", "patient.member_id"}},
		{"bad cpt", func(c *Case) { c.ServiceLines[1].Code = "2261" }, []string{"service_lines[1].code"}},
		{"hcpcs ok", func(c *Case) { c.ServiceLines[0].Code = "L0631" }, nil},
		{"cat III ok", func(c *Case) { c.ServiceLines[0].Code = "0275T" }, nil},
		{"bad icd", func(c *Case) { c.Diagnoses = []string{"M48.0622X9"} }, []string{"diagnoses[0]"}},
		{"no lines", func(c *Case) { c.ServiceLines = nil }, []string{"service_lines"}},
		{"service date in past", func(c *Case) { c.ServiceDate = Date{2026, 11, 1} }, []string{"service_date"}},
		{"tracked past date ok", func(c *Case) { c.Tracked = true; c.PayerRef = "SHP-2026-000123"; c.ServiceDate = Date{2026, 11, 1} }, nil},
		{"tracked needs ref", func(c *Case) { c.Tracked = true }, []string{"payer_ref"}},
		{"ref without tracked", func(c *Case) { c.PayerRef = "X1" }, []string{"payer_ref"}},
		{"bad enums", func(c *Case) { c.Track = "spine"; c.PlanType = "hmo"; c.Urgency = "asap" }, []string{"track", "plan_type", "urgency"}},
		{"units", func(c *Case) { c.ServiceLines[0].Units = 1000 }, []string{"service_lines[0].units"}},
		{"dob future", func(c *Case) { c.Patient.DOB = Date{2030, 1, 1} }, []string{"patient.dob"}},
		{"bad status", func(c *Case) { c.Status = StatusApproved }, []string{"status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := lumbarFusion()
			tt.mutate(c)
			c.Normalize()
			err := c.ValidateNew(today)
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("ValidateNew: %v", err)
				}
				return
			}
			var ve ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("ValidateNew = %v, want ValidationError", err)
			}
			got := map[string]bool{}
			for _, fe := range ve {
				got[fe.Field] = true
				if fe.Rule == "" {
					t.Errorf("field %s has no rule", fe.Field)
				}
			}
			for _, f := range tt.fields {
				if !got[f] {
					t.Errorf("error %q does not name %s", err, f)
				}
			}
			if len(got) != len(tt.fields) {
				t.Errorf("error names %d fields, want %d: %v", len(got), len(tt.fields), err)
			}
			for _, phi := range []string{"Jane", "Doe", "SHP123456789", "1961"} {
				if strings.Contains(err.Error(), phi) {
					t.Errorf("error %q contains PHI %q", err, phi)
				}
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	c := lumbarFusion()
	c.Normalize()
	if c.Diagnoses[0] != "M48.062" || c.Urgency != UrgencyStandard || c.InitialStatus() != StatusReady {
		t.Fatalf("normalize: %v %v %v", c.Diagnoses, c.Urgency, c.InitialStatus())
	}
	c.Tracked = true
	if c.InitialStatus() != StatusSubmitted {
		t.Fatalf("tracked initial status = %v", c.InitialStatus())
	}
}

func TestDateJSON(t *testing.T) {
	var v struct {
		D Date `json:"d"`
		Z Date `json:"z,omitzero"`
	}
	if err := json.Unmarshal([]byte(`{"d":"2026-12-15"}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.D != (Date{2026, 12, 15}) {
		t.Fatalf("D = %v", v.D)
	}
	b, _ := json.Marshal(v)
	if string(b) != `{"d":"2026-12-15"}` {
		t.Fatalf("marshal = %s", b)
	}
	if err := json.Unmarshal([]byte(`{"d":"12/15/2026"}`), &v); err == nil {
		t.Fatal("want error for non-ISO date")
	}
	if got := (Date{2026, 12, 31}).AddDays(1); got != (Date{2027, 1, 1}) {
		t.Fatalf("AddDays = %v", got)
	}
	if Today(time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC), time.FixedZone("EST", -5*3600)) != (Date{2026, 11, 22}) {
		t.Fatal("Today ignores location")
	}
}

func TestSecretRedacts(t *testing.T) {
	s := Secret("hunter2")
	b, _ := json.Marshal(struct{ S Secret }{s})
	for _, out := range []string{s.String(), s.GoString(), string(b), s.LogValue().String()} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret leaked: %s", out)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Fatal("Reveal")
	}
}
