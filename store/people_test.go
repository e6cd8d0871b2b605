package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
)

// TestWorklistPage: cases come soonest next deadline first, those without
// a deadline last in the order stored; the filter applies; offset and
// limit page them and the total counts them all.
func TestWorklistPage(t *testing.T) {
	s, clock := openTest(t)
	ctx := context.Background()
	t0 := clock.Now()
	for _, id := range []string{"c1", "c2", "c3", "c4", "c5"} {
		mustCreate(t, s, testCase(id))
	}
	due := map[string]time.Duration{"c2": 72 * time.Hour, "c3": 24 * time.Hour, "c5": 48 * time.Hour}
	for id, d := range due {
		ds := []authpilot.Deadline{{Kind: authpilot.DeadlineFollowUp, Due: t0.Add(d + 24*time.Hour)}, {Kind: authpilot.DeadlineDecisionDue, Due: t0.Add(d)}}
		if err := s.SetDeadlines(ctx, id, ds); err != nil {
			t.Fatal(err)
		}
	}
	other := testCase("c6")
	other.Payer = "other-payer"
	mustCreate(t, s, other)
	f := authpilot.CaseFilter{Payer: testCase("x").Payer}
	for _, tt := range []struct {
		offset, limit int
		want          []string
	}{
		{0, 10, []string{"c3", "c5", "c2", "c1", "c4"}},
		{1, 2, []string{"c5", "c2"}},
		{4, 2, []string{"c4"}},
		{10, 2, nil},
	} {
		cases, total, err := s.WorklistPage(ctx, f, tt.offset, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cases {
			got = append(got, c.ID)
		}
		if !slices.Equal(got, tt.want) || total != 5 {
			t.Errorf("offset %d limit %d: %v of %d, want %v of 5", tt.offset, tt.limit, got, total, tt.want)
		}
	}
	if err := s.Assign(ctx, "c5", "casey", "pat"); err != nil {
		t.Fatal(err)
	}
	if err := s.Assign(ctx, "nope", "casey", "pat"); !errors.Is(err, authpilot.ErrNotFound) {
		t.Errorf("assigning an unknown case: %v", err)
	}
	for who, want := range map[string][]string{"casey": {"c5"}, authpilot.Unassigned: {"c3", "c2", "c1", "c4"}, "vera": nil} {
		f.Assignee = who
		cases, total, err := s.WorklistPage(ctx, f, 0, 10)
		var got []string
		for _, c := range cases {
			got = append(got, c.ID)
		}
		if err != nil || !slices.Equal(got, want) || total != len(want) {
			t.Errorf("assignee %q: %v of %d (%v), want %v", who, got, total, err, want)
		}
	}
	if err := s.Assign(ctx, "c5", "", "casey"); err != nil {
		t.Fatal(err)
	}
	if who, err := s.Assignee(ctx, "c5"); who != "" || err != nil {
		t.Errorf("after unassigning: %q %v", who, err)
	}
}
