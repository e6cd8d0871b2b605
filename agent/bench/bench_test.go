package bench

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot/connectors/portal"
)

// A small workload on two portals: the figures the bench reports must be
// consistent with what the simulated portals counted.
func TestRunAgentAndNaive(t *testing.T) {
	if _, err := portal.FindChromium(""); err != nil {
		t.Skipf("no Chromium (run ./scripts/setup): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Cases: 12, Portals: 2, Latency: 20 * time.Millisecond, Sessions: 2, Decided: 0.34,
		Naive: true, SubmitOne: true, Idle: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// 6 cases a portal, 2 of them decided since the last look.
	if res.Decided != 4 || res.Changed != 4 || res.Letters != 4 {
		t.Errorf("decided %d, changed %d, letters %d; want 4 each", res.Decided, res.Changed, res.Letters)
	}
	if res.Logins != 0 {
		t.Errorf("the measured cycle logged in %d times; the warm-up's session is kept", res.Logins)
	}
	// Per portal: the login check (the dashboard: the session is alive),
	// one list page, 2 details.
	if res.PageLoads != 2*(1+1+2) {
		t.Errorf("page loads %d, want %d", res.PageLoads, 2*(1+1+2))
	}
	// Busiest portal: the login check, then the list page, 2 details and 2
	// letters over 2 pages.
	if want := (1 + 5.0/2) * 0.020; math.Abs(res.LowerBound-want) > 1e-9 {
		t.Errorf("lower bound %.4f s, want %.4f", res.LowerBound, want)
	}
	if res.Wall <= 0 || math.Abs(res.RatioToBound-res.Wall/res.LowerBound) > 1e-9 {
		t.Errorf("ratio %.3f for wall %.3f and bound %.3f", res.RatioToBound, res.Wall, res.LowerBound)
	}
	// The bot logs in for every case and opens its detail page.
	if res.NaiveLogins != 12 || res.NaivePageLoads < 12*2 {
		t.Errorf("naive: %d logins, %d page loads; want 12 and at least 24", res.NaiveLogins, res.NaivePageLoads)
	}
	if math.Abs(res.PageLoadsFactor-float64(res.NaivePageLoads)/float64(res.PageLoads)) > 1e-9 ||
		math.Abs(res.NaiveSpeedup-res.NaiveWall/res.Wall) > 1e-9 {
		t.Errorf("factors: loads %.2f (%d/%d), speedup %.2f (%.2f/%.2f)", res.PageLoadsFactor, res.NaivePageLoads, res.PageLoads,
			res.NaiveSpeedup, res.NaiveWall, res.Wall)
	}
	if res.SubmitOne <= 0 || res.AgentPeakRSS <= 0 || res.ChromiumPeakRSS <= 0 || res.AgentIdleRSS <= 0 {
		t.Errorf("submit %.2f s, agent peak %.1f MiB, Chromium peak %.1f MiB, idle %.1f MiB: want all measured",
			res.SubmitOne, res.AgentPeakRSS, res.ChromiumPeakRSS, res.AgentIdleRSS)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"ratio_to_bound":`, `"naive_speedup":`, `"lower_bound_s":`, `"page_loads":`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
}

func TestFlowFor(t *testing.T) {
	tests := []struct {
		name          string
		naive, inTabs bool
		want, notWant []string
	}{
		{"agent, fetched", false, false, []string{"fetch: true", "page_url:", "\n    list:", "\n    detail:", "keep_cookies: true", "base_url: http://sim"}, nil},
		{"agent, in tabs", false, true, []string{"page_url:", "\n    list:", "keep_cookies: true"}, []string{"fetch: true"}},
		{"naive bot", true, true, []string{"\n    lookup:", "keep_cookies: false"}, []string{"fetch: true", "\n    list:", "\n    detail:"}},
	}
	for _, tt := range tests {
		b, err := flowFor("http://sim", 4, tt.naive, tt.inTabs)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s: flow lacks %q", tt.name, w)
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(string(b), w) {
				t.Errorf("%s: flow still has %q", tt.name, w)
			}
		}
		if !strings.Contains(string(b), "pages: 4") {
			t.Errorf("%s: limits.pages not set", tt.name)
		}
	}
}
