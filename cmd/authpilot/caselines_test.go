package main

import (
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
)

// TestCaseShowApprovedVsOrdered: case show lists what was ordered next to
// what the payer authorized, so a modification (one level instead of two,
// a substituted code) is visible without reading the letter.
func TestCaseShowApprovedVsOrdered(t *testing.T) {
	tests := []struct {
		name  string
		lines []authpilot.ServiceLine
		det   *authpilot.Determination
		want  []string // rows, in order; nil: no lines section
	}{
		{
			name:  "modified: fewer units and a substitute",
			lines: []authpilot.ServiceLine{{Code: "63030", Units: 1}, {Code: "63035", Units: 2}, {Code: "22840", Units: 1}},
			det: &authpilot.Determination{Status: authpilot.StatusModified,
				ApprovedLines: []authpilot.ApprovedLine{{Code: "63030", Units: 1}, {Code: "63035", Units: 1}, {Code: "22842", Units: 1}}},
			want: []string{"63030 x1 → x1 approved", "63035 x2 → x1 approved", "22840 x1 → not approved", "22842 (not ordered) → x1 approved"},
		},
		{
			name:  "denied",
			lines: []authpilot.ServiceLine{{Code: "64483", Units: 1}},
			det:   &authpilot.Determination{Status: authpilot.StatusDenied},
			want:  []string{"64483 x1 → not approved"},
		},
		{
			name:  "approved without lines from the payer",
			lines: []authpilot.ServiceLine{{Code: "72148", Units: 1}},
			det:   &authpilot.Determination{Status: authpilot.StatusApproved},
			want:  []string{"the payer listed no approved lines"},
		},
		{
			name:  "pended: nothing decided",
			lines: []authpilot.ServiceLine{{Code: "22612", Units: 1}},
			det:   &authpilot.Determination{Status: authpilot.StatusPended, InfoRequested: "Send PT notes"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &authpilot.Case{ID: "01CASE", Status: tc.det.Status, ServiceLines: tc.lines, Determination: tc.det}
			var b strings.Builder
			printCase(&b, &agent.CaseView{Case: c}, time.UTC)
			out := b.String()
			_, section, found := strings.Cut(out, "Lines (ordered → approved):\n")
			if tc.want == nil {
				if found {
					t.Fatalf("lines section for an undecided case:\n%s", out)
				}
				return
			}
			if !found {
				t.Fatalf("no lines section:\n%s", out)
			}
			var got []string
			for _, l := range strings.Split(section, "\n") {
				if !strings.HasPrefix(l, "  ") {
					break
				}
				got = append(got, strings.TrimSpace(l))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("rows %q, want %q\n%s", got, tc.want, out)
			}
		})
	}
}
