package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
)

// TestCreateCaseExternalRefUniquePerPayer: an open case's external_ref is
// unique per payer, enforced by CreateCase; a closed case frees it.
func TestCreateCaseExternalRefUniquePerPayer(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	first := testCase("first")
	first.ExternalRef = "ORD-1"
	mustCreate(t, s, first)
	closed := testCase("closed")
	closed.ExternalRef, closed.Status = "ORD-2", authpilot.StatusWithdrawn
	mustCreate(t, s, closed)

	tests := []struct {
		name, payer, ref string
		wantDup          string
	}{
		{"same payer, same ref", "aetna", "ORD-1", "first"},
		{"another payer", "uhc", "ORD-1", ""},
		{"ref of a closed case", "aetna", "ORD-2", ""},
		{"no ref", "aetna", "", ""},
		{"no ref again", "aetna", "", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCase(fmt.Sprintf("c%d", i))
			c.Payer, c.ExternalRef = tt.payer, tt.ref
			err := s.CreateCase(ctx, c, authpilot.Changes{Events: []authpilot.Event{{Type: authpilot.EventCreated}}})
			var de *authpilot.DuplicateError
			switch {
			case tt.wantDup == "" && err != nil:
				t.Fatalf("CreateCase: %v", err)
			case tt.wantDup != "" && (!errors.As(err, &de) || de.CaseID != tt.wantDup || !errors.Is(err, authpilot.ErrConflict)):
				t.Fatalf("CreateCase: %v, want a DuplicateError naming %s", err, tt.wantDup)
			case tt.wantDup != "":
				if _, err := s.GetCase(ctx, c.ID); !errors.Is(err, authpilot.ErrNotFound) {
					t.Fatalf("the duplicate was stored: %v", err)
				}
			}
		})
	}
}

// TestCreateCaseExternalRefConcurrent: of many concurrent creations with
// one external_ref, exactly one is stored.
func TestCreateCaseExternalRefConcurrent(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, dup := 0, 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := testCase(fmt.Sprintf("c%d", i))
			c.ExternalRef = "ORD-SAME"
			err := s.CreateCase(ctx, c, authpilot.Changes{})
			mu.Lock()
			defer mu.Unlock()
			var de *authpilot.DuplicateError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &de):
				dup++
			default:
				t.Errorf("CreateCase: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || dup != 7 {
		t.Fatalf("%d stored, %d duplicates; want 1 and 7", ok, dup)
	}
	if n := count(t, s, "SELECT COUNT(*) FROM cases WHERE external_ref = 'ORD-SAME'"); n != 1 {
		t.Fatalf("%d cases hold the ref", n)
	}
}

// TestIdempotencyStoredWithTheCase: the key is written in the case's own
// transaction; a second creation under the same key stores nothing.
func TestIdempotencyStoredWithTheCase(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	hash := strings.Repeat("ab", 32)
	rec := &authpilot.IdempotencyRecord{Key: "k-1", Route: "POST /v1/cases", RequestHash: hash, Status: 201}
	c := testCase("one")
	if err := s.CreateCase(ctx, c, authpilot.Changes{Idempotency: rec}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Idempotency(ctx, "k-1")
	if err != nil || got.CaseID != "one" || got.RequestHash != hash || got.Status != 201 || got.Route != "POST /v1/cases" {
		t.Fatalf("Idempotency = %+v, %v", got, err)
	}
	c2 := testCase("two")
	if err := s.CreateCase(ctx, c2, authpilot.Changes{Idempotency: rec}); !errors.Is(err, authpilot.ErrConflict) {
		t.Fatalf("second creation under the key: %v, want ErrConflict", err)
	}
	if _, err := s.GetCase(ctx, "two"); !errors.Is(err, authpilot.ErrNotFound) {
		t.Fatalf("case of the second creation stored: %v", err)
	}
	if _, err := s.Idempotency(ctx, "k-unknown"); !errors.Is(err, authpilot.ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	if err := s.PutIdempotency(ctx, authpilot.IdempotencyRecord{Key: "k-2", Route: "POST /x", RequestHash: hash, Status: 200, Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Idempotency(ctx, "k-2"); err != nil || string(got.Body) != "{}" {
		t.Fatalf("k-2 = %+v, %v", got, err)
	}
}

// TestListCasesCursorOverManyCases: more than 5,000 cases are all
// reachable page by page, newest included, and cases stored while paging
// come after the cursor: nothing is skipped or repeated.
func TestListCasesCursorOverManyCases(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t)
	const n = 5100
	// One transaction for the bulk (the fsync per case of CreateCase would
	// make this slow); the rows are what CreateCase writes.
	err := s.write(ctx, func(tx *sql.Tx) error {
		for i := range n {
			c := testCase(fmt.Sprintf("bulk-%05d", i))
			c.Version, c.CreatedAt, c.UpdatedAt = 1, clk.Now(), clk.Now()
			data, _ := json.Marshal(c)
			if _, err := tx.ExecContext(ctx, `INSERT INTO cases (id, status, payer, connector, track, episode, external_ref, version, created_at, updated_at, data)
				VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`, c.ID, string(c.Status), c.Payer, c.ConnectorID, string(c.Track), c.Episode,
				c.ExternalRef, fmtTime(c.CreatedAt), fmtTime(c.UpdatedAt), string(data)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var order []string
	after := ""
	added := 0
	for page := 0; ; page++ {
		got, err := s.ListCases(ctx, authpilot.CaseFilter{Limit: 1000, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range got {
			seen[c.ID]++
			order = append(order, c.ID)
		}
		if len(got) < 1000 {
			break
		}
		after = got[len(got)-1].ID
		// A case stored while a client pages, with a clock that went
		// backwards: it still comes after the cursor.
		if page < 3 {
			clk.Advance(-time.Hour)
			mustCreate(t, s, testCase(fmt.Sprintf("late-%d", page)))
			added++
		}
	}
	if len(seen) != n+added || len(order) != n+added {
		t.Fatalf("paged through %d distinct of %d listed, want %d", len(seen), len(order), n+added)
	}
	if order[n-1] != fmt.Sprintf("bulk-%05d", n-1) || order[len(order)-1] != "late-2" {
		t.Fatalf("order: ...%v", order[n-2:])
	}
}
