package run

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authpilot/authpilot/schedules/clocktest"
)

// TestLimiterSpacing: on a fake clock, 30 requests a minute admit the
// first at once and each next one 2 s after the one before; 0 is no limit.
func TestLimiterSpacing(t *testing.T) {
	if NewLimiter(0, nil) != nil {
		t.Fatal("requests_per_minute 0 built a limiter")
	}
	var nilLim *Limiter
	if err := nilLim.Wait(context.Background()); err != nil {
		t.Fatalf("nil limiter: %v", err)
	}
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clk := clocktest.New(start)
	l := NewLimiter(30, clk)
	var waits []time.Duration
	l.Waited = func(d time.Duration) { waits = append(waits, d) }
	var admitted []time.Time
	for i := range 4 {
		done := make(chan error, 1)
		go func() { done <- l.Wait(context.Background()) }()
		if i > 0 {
			clk.BlockUntil(1) // the request waits for its slot
			due, _ := clk.NextDue()
			clk.Set(due)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		admitted = append(admitted, clk.Now())
	}
	for i := 1; i < len(admitted); i++ {
		if gap := admitted[i].Sub(admitted[i-1]); gap < 2*time.Second {
			t.Errorf("request %d admitted %s after the one before, want at least 2s", i, gap)
		}
	}
	if len(waits) != 3 {
		t.Errorf("waited %d times, want 3 (the first request goes at once)", len(waits))
	}
}

// TestLimiterCancel: a wait cut short by its context returns the
// context's error.
func TestLimiterCancel(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	l := NewLimiter(1, clk)
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
