package fhirpas

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/authpilot/authpilot/payersim/pas"
)

// countingLimiter admits every request at once and counts them.
type countingLimiter struct{ waits atomic.Int64 }

func (l *countingLimiter) Wait(context.Context) error { l.waits.Add(1); return nil }

// TestEveryAttemptPaced: the connector waits on its limiter
// (limits.requests_per_minute) before every HTTP attempt that reaches the
// payer: the token request, and each retry of a $submit the payer
// answered 503 with Retry-After.
func TestEveryAttemptPaced(t *testing.T) {
	lim := &countingLimiter{}
	var onWire atomic.Int64
	h := newHarness(t, harnessConfig{limiter: lim, wrap: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			onWire.Add(1)
			next.ServeHTTP(w, r)
		})
	}})
	s := h.open()
	h.fault(pas.Fault{Kind: pas.Fault503, Op: "submit", Count: 2, RetryAfter: 1})
	h.submit(s, testCase())
	if got := h.sim.Stats().Calls["submit"]; got != 3 {
		t.Fatalf("submit calls = %d, want 3 (two 503s, then 200)", got)
	}
	if w, n := lim.waits.Load(), onWire.Load(); w != n || n < 4 {
		t.Errorf("limiter waited %d times for %d requests on the wire (want one wait per request, at least token + 3 submits)", w, n)
	}
}
