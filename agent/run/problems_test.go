package run

import "testing"

func TestNormalizeMessage(t *testing.T) {
	tests := []struct{ a, b string }{
		{"open portal: timeout after 30s (request 8f3a0001, 2026-12-01T09:00:00Z)",
			"open portal: timeout after 31s (request 8f3a0002, 2026-12-01T09:10:00Z)"},
		{"case 01JCASEFLAKY00000000000001: http 503", "case 01JCASEOTHER00000000000009: http 502"},
		{"poll: page 3 of 12 at 14:05", "poll:  page 4 of 12 at 14:15"},
	}
	for _, tt := range tests {
		if NormalizeMessage(tt.a) != NormalizeMessage(tt.b) {
			t.Errorf("%q and %q differ: %q vs %q", tt.a, tt.b, NormalizeMessage(tt.a), NormalizeMessage(tt.b))
		}
	}
	if NormalizeMessage("open portal: timeout") == NormalizeMessage("open portal: http 500") {
		t.Error("different problems normalized alike")
	}
}
