package recordings

import (
	"encoding/json"
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
