package agent_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot/payersim"
)

// pageLog is the simulator's request log as the portal sees it: when each
// HTML page it served (a navigation, a fetch; not a redirect on the way to
// one, not a stylesheet) was asked for, and how many requests were being
// served at once.
type pageLog struct {
	next http.Handler

	mu       sync.Mutex
	starts   []time.Time
	paths    []string
	inFlight int
	most     int
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (l *pageLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/favicon.ico" || strings.HasPrefix(r.URL.Path, "/static/") || strings.HasPrefix(r.URL.Path, "/_sim/") {
		l.next.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	l.mu.Lock()
	l.inFlight++
	l.most = max(l.most, l.inFlight)
	l.mu.Unlock()
	sw := &statusWriter{ResponseWriter: w}
	l.next.ServeHTTP(sw, r)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	if (sw.code == 0 || sw.code == http.StatusOK) && strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		l.starts = append(l.starts, start)
		l.paths = append(l.paths, r.Method+" "+r.URL.Path)
	}
}

// TestConnectorLimits polls the Summit portal (the example flow, four
// tracked requests whose detail pages are read side by side) under the
// connector's limits in authpilot.yaml, measured from the simulator's side:
// requests_per_minute spaces page loads 60/N seconds apart, and pages: 1
// keeps one page at a time open where the flow's own limit is 2.
func TestConnectorLimits(t *testing.T) {
	needChromium(t)
	tests := []struct {
		name   string
		limits string
		// spacing: page loads two apart in the log are at least spacing
		// apart (2× less the jitter of the trip from the browser to the
		// simulator, a redirect included, which the limiter does not time;
		// unlimited, two detail pages come at once).
		spacing time.Duration
		// most is the most page loads in flight at once (0: unchecked);
		// sideBySide wants two at once.
		most       int
		sideBySide bool
	}{
		// Control: the flow's limits.pages (2) reads details side by side.
		{name: "unlimited", limits: "{retries: 1}", sideBySide: true},
		{name: "pages 1", limits: "{retries: 1, pages: 1}", most: 1},
		// 300 a minute: 200 ms apart.
		{name: "300 requests a minute", limits: "{retries: 1, requests_per_minute: 300}", spacing: 200 * time.Millisecond},
		// The figure: 30 a minute, 2 s apart, so two apart 4 s
		// (less up to 1 s of the trip's jitter). It takes real time: the
		// run's timeouts sit on the agent's clock too, so a fake clock
		// driven from here would race the browser (the limiter's own test,
		// agent/run TestLimiterSpacing, paces 30 a minute on a fake clock).
		{name: "30 requests a minute", limits: "{retries: 1, requests_per_minute: 30}", spacing: 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each page takes 40 ms, so two pages at once overlap.
			sims := startSims(t, payersim.SetOptions{Latency: 40 * time.Millisecond})
			log := &pageLog{next: sims.Payer}
			front := httptest.NewServer(log)
			t.Cleanup(front.Close)
			dir := t.TempDir()
			writeE2EConfig(t, dir, front.URL, sims.RBMURL, alertHook(t, nil).URL)
			cfg := editE2EConfig(t, dir, summitTail, "schedule: {submit: \"\", poll: \"\"}, limits: "+tt.limits+"}")
			a := openAgent(t, cfg)
			for _, m := range []string{"SHPLIMIT01", "SHPLIMIT02", "SHPLIMIT03", "SHPLIMIT04"} {
				trackRequest(t, a, sims, m, &payersim.Outcome{Fate: payersim.FatePend, AfterChecks: 1000})
			}
			log.mu.Lock()
			log.starts, log.most = nil, 0
			log.mu.Unlock()

			res := a.PollNow(context.Background(), nil, "summit-portal")[0]
			if res.Err != nil {
				t.Fatalf("poll: %v", res.Err)
			}

			log.mu.Lock()
			defer log.mu.Unlock()
			if len(log.starts) < 6 {
				t.Fatalf("%d page loads, want at least 6 (login, list, 4 details)", len(log.starts))
			}
			slices.SortFunc(log.starts, time.Time.Compare)
			twoApart := time.Hour
			for i := 2; i < len(log.starts); i++ {
				twoApart = min(twoApart, log.starts[i].Sub(log.starts[i-2]))
			}
			t.Logf("%d page loads in %s, two apart at least %s, at most %d at once",
				len(log.starts), log.starts[len(log.starts)-1].Sub(log.starts[0]).Round(time.Millisecond), twoApart.Round(time.Millisecond), log.most)
			if tt.spacing > 0 && twoApart < tt.spacing {
				t.Errorf("page loads two apart only %s apart, want at least %s (requests_per_minute spaces each %s)", twoApart, tt.spacing, tt.spacing)
			}
			if tt.sideBySide && log.most < 2 {
				t.Errorf("at most %d page load at once, want 2 (the control reads pages side by side)", log.most)
			}
			if tt.most > 0 && log.most > tt.most {
				t.Errorf("%d page loads at once, want at most %d", log.most, tt.most)
			}
		})
	}
}
