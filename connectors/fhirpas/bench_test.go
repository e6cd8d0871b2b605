package fhirpas

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
)

// BenchmarkInquire polls one case per iteration (one Claim/$inquire)
// against the PAS simulator over a real loopback HTTP server. Run it with
// -benchtime=1000x for the 1,000-call figure. It reports:
//
//	calls/s           inquiries per second, end to end
//	handler-µs/call   time inside the simulator's handler
//	overhead-µs/call  everything else: the connector (bundle build, JSON,
//	                  response parsing, retry and token plumbing) plus the
//	                  HTTP client and server stacks over loopback
func BenchmarkInquire(b *testing.B) {
	var handlerNS atomic.Int64
	h := newHarness(b, harnessConfig{quiet: true, wrap: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			next.ServeHTTP(w, r)
			handlerNS.Add(int64(time.Since(start)))
		})
	}})
	s := h.open()
	c := testCase()
	h.submit(s, c)
	cases := []*authpilot.Case{c}
	ctx := context.Background()
	before := h.sim.Stats().Calls["inquire"]
	handlerNS.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		obs, err := s.Poll(ctx, cases)
		if err != nil || obs[0].Err != nil || obs[0].Status != authpilot.StatusApproved {
			b.Fatalf("poll: %v %+v", err, obs)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if calls := h.sim.Stats().Calls["inquire"] - before; calls != b.N {
		b.Fatalf("%d inquiries for %d polls", calls, b.N)
	}
	n := float64(b.N)
	handler := float64(handlerNS.Load())
	b.ReportMetric(n/elapsed.Seconds(), "calls/s")
	b.ReportMetric(handler/n/1e3, "handler-µs/call")
	b.ReportMetric((float64(elapsed.Nanoseconds())-handler)/n/1e3, "overhead-µs/call")
}

// BenchmarkInquireCodec is the connector's own CPU work per inquiry with no
// network: building the inquiry Bundle and parsing a response Bundle.
func BenchmarkInquireCodec(b *testing.B) {
	resp, err := os.ReadFile(filepath.Join("testdata", "Parameters-PASClaimInquiryOperationResponseExample.json"))
	if err != nil {
		b.Fatal(err)
	}
	bl := testBuilder()
	c := testCase()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bl.inquiryBundle(c); err != nil {
			b.Fatal(err)
		}
		fs, err := extract(resp)
		if err != nil {
			b.Fatal(err)
		}
		r, err := interpret(pick(fs, traceNumber(c.ID)))
		if err != nil {
			b.Fatal(err)
		}
		_ = r.determination(c, testNow)
	}
}
