package agent

import (
	"testing"
	"time"

	"github.com/authpilot/authpilot"
)

func TestSameDeadlines(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC)
	due := authpilot.Deadline{Kind: authpilot.DeadlineDecisionDue, Due: t0, Rule: "7 days"}
	p2p := authpilot.Deadline{Kind: authpilot.DeadlinePeerToPeer, Due: t0.Add(48 * time.Hour), Rule: "2 days"}
	tests := []struct {
		name string
		a, b []authpilot.Deadline
		want bool
	}{
		{"both empty", nil, nil, true},
		{"same, other order", []authpilot.Deadline{due, p2p}, []authpilot.Deadline{p2p, due}, true},
		{"same instant, other zone", []authpilot.Deadline{due}, []authpilot.Deadline{{Kind: due.Kind, Due: t0.In(time.FixedZone("EST", -5*3600)), Rule: due.Rule}}, true},
		{"one more", []authpilot.Deadline{due}, []authpilot.Deadline{due, p2p}, false},
		{"moved", []authpilot.Deadline{due}, []authpilot.Deadline{{Kind: due.Kind, Due: t0.Add(time.Hour), Rule: due.Rule}}, false},
		{"other rule", []authpilot.Deadline{due}, []authpilot.Deadline{{Kind: due.Kind, Due: t0, Rule: "72 hours"}}, false},
		{"duplicate against distinct", []authpilot.Deadline{due, due}, []authpilot.Deadline{due, p2p}, false},
	}
	for _, tt := range tests {
		if got := sameDeadlines(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: sameDeadlines = %v, want %v", tt.name, got, tt.want)
		}
	}
}
