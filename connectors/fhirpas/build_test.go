package fhirpas

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
)

var testNow = time.Date(2026, 3, 2, 15, 4, 5, 0, time.UTC)

// testCase is a lumbar fusion request: two CPT lines, one HCPCS implant
// line, two diagnoses.
func testCase() *authpilot.Case {
	return &authpilot.Case{
		ID:       "01HZX5T0CASE",
		Payer:    "Summit Health Plan",
		PlanType: authpilot.PlanMedicareAdvantage,
		Track:    authpilot.TrackSurgery,
		Urgency:  authpilot.UrgencyStandard,
		Patient: authpilot.Patient{
			FirstName: "Rosalind", LastName: "Quimby",
			DOB: date("1961-07-14"), MemberID: "SHP99887766",
		},
		OrderingProvider:  authpilot.Provider{NPI: "1306849450", Name: "Dr. Ada Lin"},
		ServicingProvider: authpilot.Provider{NPI: "1578653290", Name: "Dr. Ben Ortiz"},
		ServiceLines: []authpilot.ServiceLine{
			{Code: "22612", Units: 1, Level: "L4-L5"},
			{Code: "22840", Units: 1, Modifiers: []string{"59"}},
			{Code: "c1889", Units: 2, Laterality: "bilateral"},
		},
		Diagnoses:   []string{"M43.16", "M4806"},
		ServiceDate: date("2026-04-20"),
	}
}

func testBuilder() *builder {
	return &builder{
		insurer:   Insurer{Name: "Summit Health Plan", Identifier: "SHP01"},
		requester: Requester{Name: "Spine Associates", NPI: "1234567893"},
		now:       func() time.Time { return testNow },
	}
}

// generic decodes JSON into maps for structural checks.
func generic(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

type entryInfo struct {
	fullURL string
	rt, id  string
	res     map[string]any
}

func entries(t *testing.T, b map[string]any) []entryInfo {
	t.Helper()
	var out []entryInfo
	list, _ := b["entry"].([]any)
	for _, e := range list {
		em := e.(map[string]any)
		res := em["resource"].(map[string]any)
		fu, _ := em["fullUrl"].(string)
		id, _ := res["id"].(string)
		out = append(out, entryInfo{fullURL: fu, rt: res["resourceType"].(string), id: id, res: res})
	}
	return out
}

// references collects every "reference" string within v.
func references(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && k == "reference" {
				out = append(out, s)
				continue
			}
			out = append(out, references(val)...)
		}
	case []any:
		for _, val := range x {
			out = append(out, references(val)...)
		}
	}
	return out
}

// resolves reports whether ref names an entry: by fullUrl, by Type/id, or
// relative to an absolute fullUrl's base.
func resolves(ref string, es []entryInfo) bool {
	for _, e := range es {
		if e.fullURL == ref || e.rt+"/"+e.id == ref || strings.HasSuffix(e.fullURL, "/"+ref) {
			return true
		}
	}
	return false
}

// builtBeside builds c's bundle with build and reads the IG example it is
// checked against, testdata/fixture, both decoded generically.
func builtBeside(t *testing.T, build func(*authpilot.Case) ([]byte, error), c *authpilot.Case, fixture string) (ours, example map[string]any) {
	t.Helper()
	data, err := build(c)
	if err != nil {
		t.Fatal(err)
	}
	exampleData, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	return generic(t, data), generic(t, exampleData)
}

func TestSubmitBundleStructure(t *testing.T) {
	c := testCase()
	ours, fixture := builtBeside(t, testBuilder().submitBundle, c, "Bundle-SurgicalRequestBundleExample.json")

	t.Run("bundle like the IG request example", func(t *testing.T) {
		for _, k := range []string{"resourceType", "meta", "identifier", "type", "timestamp", "entry"} {
			if _, ok := fixture[k]; !ok {
				t.Fatalf("fixture lacks %s", k)
			}
			if _, ok := ours[k]; !ok {
				t.Errorf("bundle lacks %s", k)
			}
		}
		if ours["type"] != fixture["type"] {
			t.Errorf("type = %v, want %v", ours["type"], fixture["type"])
		}
		if !slices.Equal(profiles(ours), profiles(fixture)) {
			t.Errorf("profile = %v, want %v", profiles(ours), profiles(fixture))
		}
		id := ours["identifier"].(map[string]any)
		if id["value"] != traceNumber(c.ID) || id["system"] == "" {
			t.Errorf("identifier = %v", id)
		}
		if ours["timestamp"] != "2026-03-02T15:04:05Z" {
			t.Errorf("timestamp = %v", ours["timestamp"])
		}
	})

	es := entries(t, ours)
	fes := entries(t, fixture)
	t.Run("claim first, then what it references", func(t *testing.T) {
		if es[0].rt != "Claim" || fes[0].rt != "Claim" {
			t.Fatalf("first entries: ours %s, fixture %s", es[0].rt, fes[0].rt)
		}
		var types []string
		for _, e := range es {
			types = append(types, e.rt)
		}
		want := []string{"Claim", "Patient", "Coverage", "Organization", "Practitioner", "Practitioner", "Organization"}
		if !slices.Equal(types, want) {
			t.Errorf("entry types = %v, want %v", types, want)
		}
	})
	t.Run("fullUrls unique and resolvable", func(t *testing.T) {
		seen := map[string]bool{}
		for _, e := range es {
			if !strings.HasPrefix(e.fullURL, "urn:uuid:") || e.fullURL != "urn:uuid:"+e.id {
				t.Errorf("entry %s: fullUrl %q, id %q", e.rt, e.fullURL, e.id)
			}
			if seen[e.fullURL] {
				t.Errorf("duplicate fullUrl %s", e.fullURL)
			}
			seen[e.fullURL] = true
		}
	})
	t.Run("every reference resolves within the bundle", func(t *testing.T) {
		refs := references(ours)
		if len(refs) < 8 {
			t.Fatalf("only %d references", len(refs))
		}
		for _, r := range refs {
			if !resolves(r, es) {
				t.Errorf("reference %q does not resolve", r)
			}
		}
		// The same resolver accepts the IG example's Claim.
		for _, r := range references(fes[0].res) {
			if !resolves(r, fes) {
				t.Errorf("fixture reference %q does not resolve", r)
			}
		}
	})

	cl := es[0].res
	fcl := fes[0].res
	t.Run("claim carries the fields of the IG example", func(t *testing.T) {
		for _, k := range []string{"identifier", "status", "type", "use", "patient", "created", "insurer",
			"provider", "priority", "insurance", "diagnosis", "item", "careTeam", "extension"} {
			if _, ok := fcl[k]; !ok {
				t.Fatalf("fixture Claim lacks %s", k)
			}
			if _, ok := cl[k]; !ok {
				t.Errorf("Claim lacks %s", k)
			}
		}
		if cl["use"] != "preauthorization" || cl["status"] != "active" {
			t.Errorf("use %v status %v", cl["use"], cl["status"])
		}
		if got := code(cl["priority"]); got != "normal" {
			t.Errorf("priority = %s", got)
		}
		if got := cl["identifier"].([]any)[0].(map[string]any)["value"]; got != traceNumber(c.ID) {
			t.Errorf("Claim.identifier = %v", got)
		}
	})
	t.Run("items", func(t *testing.T) {
		dx := map[float64]string{}
		for _, d := range cl["diagnosis"].([]any) {
			dm := d.(map[string]any)
			cc := dm["diagnosisCodeableConcept"].(map[string]any)["coding"].([]any)[0].(map[string]any)
			if cc["system"] != sysICD10CM {
				t.Errorf("diagnosis system %v", cc["system"])
			}
			dx[dm["sequence"].(float64)] = cc["code"].(string)
		}
		if dx[1] != "M43.16" || dx[2] != "M48.06" {
			t.Errorf("diagnoses = %v", dx)
		}
		items := cl["item"].([]any)
		want := []struct {
			system, code string
			units        float64
		}{{sysCPT, "22612", 1}, {sysCPT, "22840", 1}, {sysHCPCS, "C1889", 2}}
		if len(items) != len(want) {
			t.Fatalf("%d items", len(items))
		}
		for i, it := range items {
			im := it.(map[string]any)
			ps := im["productOrService"].(map[string]any)["coding"].([]any)[0].(map[string]any)
			if ps["system"] != want[i].system || ps["code"] != want[i].code {
				t.Errorf("item %d productOrService = %v", i, ps)
			}
			if q := im["quantity"].(map[string]any)["value"]; q != want[i].units {
				t.Errorf("item %d quantity = %v", i, q)
			}
			if im["servicedDate"] != "2026-04-20" {
				t.Errorf("item %d servicedDate = %v", i, im["servicedDate"])
			}
			if im["sequence"] != float64(i+1) {
				t.Errorf("item %d sequence = %v", i, im["sequence"])
			}
			for _, s := range im["diagnosisSequence"].([]any) {
				if _, ok := dx[s.(float64)]; !ok {
					t.Errorf("item %d diagnosisSequence %v names no diagnosis", i, s)
				}
			}
			if cert := extCode(im, extCertificationType); cert != "I" {
				t.Errorf("item %d certificationType = %q", i, cert)
			}
		}
		// The IG example's item carries the same certificationType extension.
		if cert := extCode(fcl["item"].([]any)[0].(map[string]any), extCertificationType); cert != "I" {
			t.Errorf("fixture certificationType = %q", cert)
		}
		if m := items[1].(map[string]any)["modifier"]; m == nil {
			t.Error("modifier missing")
		}
	})
	t.Run("subscriber, coverage, providers", func(t *testing.T) {
		byType := map[string][]map[string]any{}
		for _, e := range es {
			byType[e.rt] = append(byType[e.rt], e.res)
		}
		if got := byType["Coverage"][0]["subscriberId"]; got != "SHP99887766" {
			t.Errorf("subscriberId = %v", got)
		}
		if got := byType["Patient"][0]["birthDate"]; got != "1961-07-14" {
			t.Errorf("birthDate = %v", got)
		}
		var npis []string
		for _, p := range byType["Practitioner"] {
			npis = append(npis, p["identifier"].([]any)[0].(map[string]any)["value"].(string))
		}
		if !slices.Equal(npis, []string{"1306849450", "1578653290"}) {
			t.Errorf("practitioner NPIs = %v", npis)
		}
		var orgs []string
		for _, o := range byType["Organization"] {
			orgs = append(orgs, o["name"].(string))
		}
		if !slices.Equal(orgs, []string{"Spine Associates", "Summit Health Plan"}) {
			t.Errorf("organizations = %v", orgs)
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		first, err1 := testBuilder().submitBundle(c)
		again, err2 := testBuilder().submitBundle(c)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(first, again) {
			t.Error("two builds of the same case differ")
		}
	})
}

func TestSubmitBundleUrgencyAndRequester(t *testing.T) {
	c := testCase()
	c.Urgency = authpilot.UrgencyExpedited
	c.ServicingProvider = authpilot.Provider{}
	b := testBuilder()
	b.requester = Requester{}
	data, err := b.submitBundle(c)
	if err != nil {
		t.Fatal(err)
	}
	es := entries(t, generic(t, data))
	cl := es[0].res
	if got := code(cl["priority"]); got != "stat" {
		t.Errorf("priority = %s, want stat", got)
	}
	if got := extCode(cl, extLevelOfService); got != "U" {
		t.Errorf("levelOfServiceCode = %s, want U", got)
	}
	// Without a requester organization the ordering practitioner requests.
	prov := cl["provider"].(map[string]any)["reference"].(string)
	for _, e := range es {
		if e.fullURL == prov && e.rt != "Practitioner" {
			t.Errorf("provider is a %s", e.rt)
		}
	}
}

func TestSubmitBundleRejectsBadCase(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *authpilot.Case)
		want   string
	}{
		{"no member ID", func(c *authpilot.Case) { c.Patient.MemberID = "" }, "member ID missing"},
		{"no name", func(c *authpilot.Case) { c.Patient.LastName = "" }, "patient name missing"},
		{"no DOB", func(c *authpilot.Case) { c.Patient.DOB = authpilot.Date{} }, "date of birth missing"},
		{"no lines", func(c *authpilot.Case) { c.ServiceLines = nil }, "no service lines"},
		{"bad code", func(c *authpilot.Case) { c.ServiceLines[1].Code = "ABC" }, "service_lines[1]: code is neither CPT nor HCPCS"},
		{"no diagnosis", func(c *authpilot.Case) { c.Diagnoses = nil }, "no diagnosis"},
		{"bad diagnosis", func(c *authpilot.Case) { c.Diagnoses[1] = "12345" }, "diagnoses[1]: not an ICD-10-CM code"},
		{"bad NPI", func(c *authpilot.Case) { c.OrderingProvider.NPI = "123" }, "ordering provider NPI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCase()
			tt.change(c)
			_, err := testBuilder().submitBundle(c)
			if !errors.Is(err, authpilot.ErrRejected) {
				t.Fatalf("err = %v, want ErrRejected", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to say %q", err, tt.want)
			}
			for _, phi := range []string{"SHP99887766", "Quimby", "Rosalind", "1961-07-14", "22840", "M43.16"} {
				if strings.Contains(err.Error(), phi) {
					t.Errorf("err %q carries PHI %q", err, phi)
				}
			}
		})
	}
}

func TestInquiryBundleStructure(t *testing.T) {
	c := testCase()
	c.PayerRef = "SHP-PA-000123"
	b := testBuilder()
	ours, fixture := builtBeside(t, b.inquiryBundle, c, "Bundle-PASClaimInquiryBundleExample.json")
	if !slices.Equal(profiles(ours), profiles(fixture)) {
		t.Errorf("profile = %v, want %v", profiles(ours), profiles(fixture))
	}
	es, fes := entries(t, ours), entries(t, fixture)
	if es[0].rt != "Claim" || !slices.Equal(profiles(es[0].res), profiles(fes[0].res)) {
		t.Errorf("first entry %s %v, want the inquiry Claim %v", es[0].rt, profiles(es[0].res), profiles(fes[0].res))
	}
	for name, set := range map[string][]entryInfo{"ours": es, "fixture": fes} {
		for _, r := range references(set[0].res) {
			if !resolves(r, set) {
				t.Errorf("%s: reference %q does not resolve", name, r)
			}
		}
		have := map[string]bool{}
		for _, e := range set {
			have[e.rt] = true
		}
		for _, rt := range []string{"Patient", "Coverage", "Organization"} {
			if !have[rt] {
				t.Errorf("%s: no %s entry", name, rt)
			}
		}
	}
	cl := es[0].res
	if got := cl["identifier"].([]any)[0].(map[string]any)["value"]; got != traceNumber(c.ID) {
		t.Errorf("inquiry Claim.identifier = %v, want the request's trace number", got)
	}
	if got := ours["identifier"].(map[string]any)["value"]; got == traceNumber(c.ID) {
		t.Error("inquiry Bundle reuses the request Bundle's identifier")
	}
	item := cl["item"].([]any)[0].(map[string]any)
	found := false
	for _, e := range item["extension"].([]any) {
		em := e.(map[string]any)
		if em["url"] == extAdminRefNumber && em["valueString"] == "SHP-PA-000123" {
			found = true
		}
	}
	if !found {
		t.Error("inquiry item does not carry the payer reference")
	}
	// Two inquiries carry different identifiers.
	data2, err := b.inquiryBundle(c)
	if err != nil {
		t.Fatal(err)
	}
	if generic(t, data2)["identifier"].(map[string]any)["value"] == ours["identifier"].(map[string]any)["value"] {
		t.Error("two inquiries share an identifier")
	}
}

func TestTraceNumber(t *testing.T) {
	tests := []struct {
		id, want string
	}{
		{"01HZX5T0CASE", "01HZX5T0CASE"},
		{"case-7", "case-7"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := traceNumber(tt.id); got != tt.want {
				t.Errorf("traceNumber(%q) = %q", tt.id, got)
			}
		})
	}
	t.Run("long or odd IDs are hashed stably", func(t *testing.T) {
		id := strings.Repeat("x", 60) + " /"
		a, b := traceNumber(id), traceNumber(id)
		if a != b || len(a) > 50 || !tracePattern.MatchString(a) || a == traceNumber(id+"y") {
			t.Errorf("traceNumber = %q, %q", a, b)
		}
	})
}

func profiles(m map[string]any) []string {
	var out []string
	if mt, ok := m["meta"].(map[string]any); ok {
		for _, p := range mt["profile"].([]any) {
			out = append(out, p.(string))
		}
	}
	return out
}

func code(cc any) string {
	m, _ := cc.(map[string]any)
	list, _ := m["coding"].([]any)
	if len(list) == 0 {
		return ""
	}
	s, _ := list[0].(map[string]any)["code"].(string)
	return s
}

func extCode(res map[string]any, url string) string {
	list, _ := res["extension"].([]any)
	for _, e := range list {
		em := e.(map[string]any)
		if em["url"] == url {
			return code(em["valueCodeableConcept"])
		}
	}
	return ""
}
