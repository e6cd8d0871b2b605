package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/store"
)

// searchCaseJSON is the lumbar fusion for another patient and order.
func searchCaseJSON(first, last, member, ref string) string {
	s := lumbarFusionJSON("1234567893")
	for old, repl := range map[string]string{`"Rosalind"`: `"` + first + `"`, `"Quillfeather"`: `"` + last + `"`,
		`"SHPQ7781920"`: `"` + member + `"`, `"MRN-88231-ORD-1"`: `"` + ref + `"`} {
		s = strings.Replace(s, old, repl, 1)
	}
	return s
}

// TestAPISearchWritesAccessLog: GET /v1/cases?q= finds cases by patient
// name (any case), member ID, external ref and case ID prefix; every
// search is in the access log with who, what kind of field matched and
// the case IDs returned, and neither that log nor the daemon's log holds
// the text searched for.
func TestAPISearchWritesAccessLog(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	logs := &notifytest.LogBuffer{}
	base, stop := startAgent(t, cfg, logs)
	var ids []string
	for _, b := range []string{
		searchCaseJSON("Rosalind", "Quillfeather", "SHPQ7781920", "MRN-88231-ORD-1"),
		searchCaseJSON("Bartholomew", "Quillon", "SHPX1000001", "MRN-40017-ORD-3"),
		searchCaseJSON("Marisol", "Abernathy", "SHPZ5550123", "MRN-77002-ORD-2"),
	} {
		code, c := do(t, "POST", base+"/v1/cases", testToken, b)
		if code != 201 {
			t.Fatalf("create: %d %v", code, c)
		}
		ids = append(ids, c["id"].(string))
	}
	tests := []struct {
		q       string
		want    []string
		matched []string
	}{
		{"QUILLFEATHER", ids[:1], []string{authpilot.MatchPatientName}},
		{"quill", ids[:2], []string{authpilot.MatchPatientName}},
		{"Abernathy, Marisol", ids[2:], []string{authpilot.MatchPatientName}},
		{"shpx1000001", ids[1:2], []string{authpilot.MatchMemberID}},
		{"mrn-77002", ids[2:], []string{authpilot.MatchExternalRef}},
		{strings.ToLower(ids[1]), ids[1:2], []string{authpilot.MatchID}},
		{"Nobody", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			code, out := do(t, "GET", base+"/v1/cases?q="+url.QueryEscape(tt.q), testToken, "")
			if code != 200 {
				t.Fatalf("%d %v", code, out)
			}
			var got []string
			for _, c := range out["cases"].([]any) {
				got = append(got, c.(map[string]any)["id"].(string))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("found %v, want %v", got, tt.want)
			}
		})
	}
	// A page of a search links to the next page of the same search.
	code, page := do(t, "GET", base+"/v1/cases?q=quill&limit=1", testToken, "")
	next, _ := page["next"].(string)
	if code != 200 || !strings.Contains(next, "q=quill") {
		t.Fatalf("first page: %d %v", code, page)
	}
	if code, page = do(t, "GET", base+next, testToken, ""); code != 200 || len(page["cases"].([]any)) != 1 ||
		page["cases"].([]any)[0].(map[string]any)["id"] != ids[1] {
		t.Fatalf("next page: %d %v", code, page)
	}
	for _, bad := range []string{"", " , ", "quill\x1b[2J", strings.Repeat("a", 101)} {
		if code, out := do(t, "GET", base+"/v1/cases?q="+url.QueryEscape(bad), testToken, ""); code != 400 || !strings.Contains(fmt.Sprint(out["fields"]), "q") {
			t.Fatalf("q=%q: %d %v, want 400 naming q", bad, code, out)
		}
	}
	stop()

	st, err := store.Open(context.Background(), cfg.DataDir, store.WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.AccessLog(context.Background(), ids0Time)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(tests)+2 {
		t.Fatalf("%d access log entries, want %d: %+v", len(entries), len(tests)+2, entries)
	}
	for i, tt := range tests {
		e := entries[i]
		if e.Actor != "token:api-token" || e.Action != "search" || !slices.Equal(e.CaseIDs, append([]string{}, tt.want...)) ||
			!slices.Equal(e.Matched, tt.matched) || e.At.IsZero() {
			t.Errorf("entry %d for %q: %+v, want cases %v matched %v", i, tt.q, e, tt.want, tt.matched)
		}
	}
	b, _ := json.Marshal(entries)
	for _, phi := range []string{"quill", "Quill", "QUILL", "Abernathy", "shpx", "SHPX", "mrn-77002", "Nobody"} {
		if strings.Contains(string(b), phi) {
			t.Errorf("the access log holds the query text %q: %s", phi, b)
		}
		if strings.Contains(logs.String(), phi) {
			t.Errorf("the daemon's log holds %q", phi)
		}
	}
}

// ids0Time reads the whole access log.
var ids0Time time.Time

// TestResolveCase: a case is named by its ID, a unique ID prefix, its
// external ref or its payer ref (any case); an ambiguous name lists the
// candidates; every lookup but a whole ID is in the access log; errors
// never repeat the reference.
func TestResolveCase(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mk := func(id, ext, payerRef string) {
		c := &authpilot.Case{ID: id, ExternalRef: ext, PayerRef: payerRef, Payer: "summit-ma", Status: authpilot.StatusSubmitted,
			Patient: authpilot.Patient{FirstName: "Ada", LastName: "Moss", MemberID: "M1"}}
		if err := st.CreateCase(ctx, c, authpilot.Changes{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("01JAAA0001", "MRN-1-ORD-1", "SUM-555")
	mk("01JAAB0002", "MRN-2-ORD-1", "SUM-777")
	mk("01JBBB0003", "01JAAA", "")
	mk("01JCCC0004", "", "SHP-PA 000123") // a payer's reference may hold a space
	tests := []struct {
		ref, want, err string
		logged         bool
	}{
		{"01JAAA0001", "01JAAA0001", "", false},
		{"01jaab", "01JAAB0002", "", true},
		{"mrn-2-ord-1", "01JAAB0002", "", true},
		{"sum-555", "01JAAA0001", "", true},
		{"shp-pa 000123", "01JCCC0004", "", true},
		{"01JA", "", "2 cases match: 01JAAA0001 (ID prefix), 01JAAB0002 (ID prefix); give the whole case ID", true},
		{"01JAAA", "", "2 cases match: 01JAAA0001 (ID prefix), 01JBBB0003 (external ref)", true},
		{"MRN-3", "", "no case has this ID", true},
		{"Moss", "", "no case has this ID", true}, // a name is a search, not a case's name
		{"", "", "no case matches", false},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			before, _ := st.AccessLog(ctx, ids0Time)
			c, err := ResolveCase(ctx, st, tt.ref, "cli:ana")
			switch {
			case tt.err == "" && (err != nil || c.ID != tt.want):
				t.Fatalf("got %v %v, want %s", c, err, tt.want)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want %q", err, tt.err)
			case tt.err != "" && tt.ref != "" && strings.Contains(err.Error(), tt.ref) && !strings.HasPrefix(tt.ref, "01"):
				t.Fatalf("the error repeats the reference: %v", err)
			}
			var amb *AmbiguousError
			if strings.Contains(tt.err, "cases match") && !errors.As(err, &amb) {
				t.Fatalf("not an AmbiguousError: %T", err)
			}
			if strings.HasPrefix(tt.err, "no case") && !errors.Is(err, authpilot.ErrNotFound) {
				t.Fatalf("not ErrNotFound: %v", err)
			}
			after, _ := st.AccessLog(ctx, ids0Time)
			if logged := len(after) > len(before); logged != tt.logged {
				t.Fatalf("logged %v, want %v", logged, tt.logged)
			}
			if tt.logged && after[len(after)-1].Actor != "cli:ana" {
				t.Fatalf("entry %+v", after[len(after)-1])
			}
		})
	}
}
