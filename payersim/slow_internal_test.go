package payersim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestFaultSlowPageAndLatency(t *testing.T) {
	tests := []struct {
		name    string
		latency time.Duration
		slow    time.Duration
		path    string
		want    time.Duration
	}{
		{"no delay", 0, 0, "/login", 0},
		{"latency only", 40 * time.Millisecond, 0, "/login", 40 * time.Millisecond},
		{"slow page fault", 0, 2 * time.Second, "/login", 2 * time.Second},
		{"both add up", 40 * time.Millisecond, 2 * time.Second, "/auth/list", 2040 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPayer(PayerOptions{Latency: tc.latency})
			var mu sync.Mutex
			var slept []time.Duration
			p.sleep = func(_ context.Context, d time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				slept = append(slept, d)
			}
			if err := p.SetFaults(Faults{SlowPage: tc.slow}); err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			rec2 := httptest.NewRecorder()
			p.ServeHTTP(rec2, httptest.NewRequest(http.MethodGet, "/static/payer.css", nil))
			mu.Lock()
			defer mu.Unlock()
			if len(slept) != 1 || slept[0] != tc.want {
				t.Errorf("slept %v, want one wait of %v (none for the static asset)", slept, tc.want)
			}
		})
	}
}

func TestSleepContextStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan struct{})
	go func() {
		sleepContext(ctx, time.Hour)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("sleepContext ignored a cancelled context")
	}
}
