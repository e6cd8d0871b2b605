package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
)

// TestListCasesQuery: a search keeps the matching cases in stored order,
// its limit counts matches (not rows read), and its cursor continues
// after the last match.
func TestListCasesQuery(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	for i, name := range []string{"Quillfeather", "Moss", "quillon", "Abbot", "QUILL"} {
		c := testCase("C" + string(rune('1'+i)))
		c.Patient.LastName = name
		mustCreate(t, s, c)
	}
	ids := func(cs []*authpilot.Case) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	got, err := s.ListCases(ctx, authpilot.CaseFilter{Query: "quill", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), []string{"C1", "C3"}) {
		t.Fatalf("first page: %v", ids(got))
	}
	got, err = s.ListCases(ctx, authpilot.CaseFilter{Query: "quill", Limit: 2, After: "C3"})
	if err != nil || !slices.Equal(ids(got), []string{"C5"}) {
		t.Fatalf("second page: %v %v", ids(got), err)
	}
	got, err = s.ListCases(ctx, authpilot.CaseFilter{Query: "quill", Statuses: []authpilot.Status{authpilot.StatusReady}})
	if err != nil || len(got) != 0 {
		t.Fatalf("search and status: %v %v", ids(got), err)
	}
}

// TestAccessLog: entries are durable, read back in order with the
// store's clock, and cannot be changed or deleted.
func TestAccessLog(t *testing.T) {
	s, clk := openTest(t)
	ctx := context.Background()
	if err := s.LogAccess(ctx, authpilot.Access{Actor: "api", Action: "search", Matched: []string{"patient_name"}, CaseIDs: []string{"C1", "C2"}}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := s.LogAccess(ctx, authpilot.Access{Actor: "cli:ana", Action: "lookup"}); err != nil {
		t.Fatal(err)
	}
	if err := s.LogAccess(ctx, authpilot.Access{Action: "lookup"}); err == nil {
		t.Fatal("an entry without an actor was written")
	}
	all, err := s.AccessLog(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Actor != "api" || !slices.Equal(all[0].CaseIDs, []string{"C1", "C2"}) ||
		!slices.Equal(all[0].Matched, []string{"patient_name"}) || !all[0].At.Equal(newClock().Now()) ||
		all[1].Actor != "cli:ana" || len(all[1].CaseIDs) != 0 || all[1].Matched != nil {
		t.Fatalf("access log: %+v", all)
	}
	if later, _ := s.AccessLog(ctx, newClock().Now().Add(time.Second)); len(later) != 1 {
		t.Fatalf("since: %+v", later)
	}
	for _, q := range []string{"UPDATE access_log SET actor = 'x'", "DELETE FROM access_log"} {
		if _, err := s.w.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// BenchmarkListCasesQuery: a search reads and matches every case; 5,000
// cases is a large practice's open and recent work.
func BenchmarkListCasesQuery(b *testing.B) {
	s, _ := openTest(b)
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 5000 {
		c := testCase(fmt.Sprintf("01CASE%05d", i))
		c.Patient.LastName = fmt.Sprintf("Name%05d", i)
		data, _ := json.Marshal(c)
		if _, err := tx.ExecContext(ctx, `INSERT INTO cases (id, status, payer, connector, version, created_at, updated_at, data)
			VALUES (?, 'draft', 'aetna', 'availity', 1, ?, ?, ?)`, c.ID, fmtTime(time.Now()), fmtTime(time.Now()), string(data)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		got, err := s.ListCases(ctx, authpilot.CaseFilter{Query: "name04999", Limit: 500})
		if err != nil || len(got) != 1 {
			b.Fatalf("%d %v", len(got), err)
		}
	}
}
