package recordings

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/authpilot/authpilot/schedules/clocktest"
)

var t0 = time.Date(2026, 3, 2, 14, 5, 1, 0, time.UTC)

// openStore opens a store in a fresh directory with a fake clock at t0.
func openStore(t *testing.T, opts Options) (*Store, *clocktest.Fake) {
	t.Helper()
	clk := clocktest.New(t0)
	opts.Now = clk.Now
	s, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, clk
}

// finishLoad finishes rec without an error and loads its manifest from s.
func finishLoad(t *testing.T, s *Store, rec *Recording) *Manifest {
	t.Helper()
	if err := rec.Finish(nil); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	m, err := s.Load(rec.ID())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return m
}

// value is one value a test checks, by its name, as text.
type value struct {
	name      string
	got, want any
}

// checkValues checks each value in its own subtest.
func checkValues(t *testing.T, values []value) {
	t.Helper()
	for _, v := range values {
		t.Run(v.name, func(t *testing.T) {
			if g, w := fmt.Sprint(v.got), fmt.Sprint(v.want); g != w {
				t.Errorf("got %s, want %s", g, w)
			}
		})
	}
}

// redactCase is one check of a redactor: with values added, in reads
// as want.
type redactCase struct {
	name   string
	values []string
	in     string
	want   string
}

// checkRedacts runs each case as a subtest through redact, which adds
// the case's values to a fresh redactor and redacts in with it.
func checkRedacts(t *testing.T, tests []redactCase, redact func(values []string, in string) string) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redact(tt.values, tt.in); got != tt.want {
				t.Errorf("redact(%q) with %q = %q, want %q", tt.in, tt.values, got, tt.want)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// pngBytes is the start of a PNG file: enough for a screenshot artifact.
var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

func htmlExchange(method, url string, status int, body string, hdr http.Header) Exchange {
	h := http.Header{"Content-Type": {"text/html; charset=utf-8"}}
	for k, v := range hdr {
		h[k] = v
	}
	return Exchange{
		Method: method, URL: url, Status: status,
		RequestHeaders:  http.Header{"Accept": {"text/html"}},
		ResponseHeaders: h,
		Body:            []byte(body),
		Started:         t0,
		DurationMS:      12,
	}
}
