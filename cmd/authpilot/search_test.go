package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
)

// TestCaseListSearchAndShowByRef: case list filters by episode and
// searches with -q; case show takes an ID prefix, an external ref or a
// payer ref, and an ambiguous one lists the candidates; searches and
// lookups land in the access log under the person's name, without the
// text searched for.
func TestCaseListSearchAndShowByRef(t *testing.T) {
	dir, cfg := exampleSetup(t)
	one := addCase(t, cfg, writeFile(t, filepath.Join(dir, "a.yaml"), caseYAML("MRN-1-ORD-1", "")+"episode: ep-lumbar-7\n"))
	two := addCase(t, cfg, writeFile(t, filepath.Join(dir, "b.yaml"),
		strings.Replace(caseYAML("MRN-2-ORD-1", ""), "first_name: Sam, last_name: Lee", "first_name: Ana, last_name: Leeds", 1)))

	ids := func(out string) []string {
		var v struct{ Cases []authpilot.Case }
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		var got []string
		for _, c := range v.Cases {
			got = append(got, c.ID)
		}
		return got
	}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--episode", "ep-lumbar-7"}, []string{one}},
		{[]string{"-q", "lee"}, []string{one, two}},
		{[]string{"-q", "LEEDS"}, []string{two}},
		{[]string{"-q", "leeds, ana", "--episode", "ep-lumbar-7"}, nil},
		{[]string{"-q", "mrn-1"}, []string{one}},
	} {
		code, out, errs := run(t, "", append([]string{"case", "list", "--config", cfg, "--json"}, tt.args...)...)
		if code != 0 || !slices.Equal(ids(out), tt.want) {
			t.Fatalf("case list %v: %d %v %s, want %v", tt.args, code, ids(out), errs, tt.want)
		}
	}
	if code, _, errs := run(t, "", "case", "list", "--config", cfg, "-q", ""); code != 2 || !strings.Contains(errs, "-q: must be 1-100 characters") {
		t.Fatalf("empty -q: %d %s", code, errs)
	}

	for _, ref := range []string{one, strings.ToLower(one[:len(one)-3]), "mrn-1-ord-1"} {
		code, out, errs := run(t, "", "case", "show", "--config", cfg, ref)
		if code != 0 || !strings.HasPrefix(out, "Case "+one) {
			t.Fatalf("case show %s: %d %.80s %s", ref, code, out, errs)
		}
	}
	// The two ULIDs share their leading time characters.
	common := one
	for !strings.HasPrefix(two, common) {
		common = common[:len(common)-1]
	}
	code, _, errs := run(t, "", "case", "show", "--config", cfg, common)
	if code != 1 || !strings.Contains(errs, "ambiguous: 2 cases match: "+one+" (ID prefix), "+two+" (ID prefix)") {
		t.Fatalf("ambiguous prefix %q: %d %s", common, code, errs)
	}
	code, _, errs = run(t, "", "case", "show", "--config", cfg, "MRN-9")
	if code != 1 || errs != "no case has this ID, ID prefix, external ref or payer ref" {
		t.Fatalf("no match: %d %q", code, errs)
	}

	log, err := openTestStore(t, cfg).AccessLog(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// 4 searches, 2 lookups that found one, the ambiguous one, the miss;
	// the empty -q and the whole-ID show are not lookups.
	if len(log) != 8 {
		t.Fatalf("%d access log entries, want 8: %+v", len(log), log)
	}
	if e := log[0]; e.Action != "search" || !strings.HasPrefix(e.Actor, "cli") || !slices.Equal(e.Matched, []string{authpilot.MatchPatientName}) ||
		!slices.Equal(e.CaseIDs, []string{one, two}) {
		t.Fatalf("search entry: %+v", e)
	}
	if e := log[5]; e.Action != "lookup" || !slices.Equal(e.Matched, []string{authpilot.MatchExternalRef}) || !slices.Equal(e.CaseIDs, []string{one}) {
		t.Fatalf("lookup entry: %+v", e)
	}
	b, _ := json.Marshal(log)
	for _, phi := range []string{"lee", "Lee", "LEEDS", "mrn", "MRN"} {
		if strings.Contains(string(b), phi) {
			t.Fatalf("the access log holds %q: %s", phi, b)
		}
	}
}

// TestAccessLogCommand: access-log prints who searched and what came back,
// and --since narrows it.
func TestAccessLogCommand(t *testing.T) {
	dir, cfg := exampleSetup(t)
	id := addCase(t, cfg, writeFile(t, filepath.Join(dir, "a.yaml"), caseYAML("MRN-1-ORD-1", "")))
	if code, _, errs := run(t, "", "case", "list", "--config", cfg, "-q", "lee"); code != 0 {
		t.Fatalf("case list -q: %d %s", code, errs)
	}
	code, out, errs := run(t, "", "access-log", "--config", cfg)
	if code != 0 || !strings.Contains(out, "search") || !strings.Contains(out, "patient_name") || !strings.Contains(out, id) ||
		strings.Contains(out, "lee") {
		t.Fatalf("access-log: %d %q %s", code, out, errs)
	}
	code, out, _ = run(t, "", "access-log", "--config", cfg, "--json", "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if code != 0 || strings.TrimSpace(out) != "{\n  \"entries\": []\n}" {
		t.Fatalf("access-log --since later: %d %q", code, out)
	}
	if code, _, errs := run(t, "", "access-log", "--config", cfg, "--since", "last week"); code != 2 || !strings.Contains(errs, "--since: must be") {
		t.Fatalf("bad --since: %d %s", code, errs)
	}
}
