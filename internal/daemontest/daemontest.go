// Package daemontest helps tests that run a daemon in-process and talk to
// it over HTTP: Start runs its blocking Run in the background until the
// test ends, Do sends it a request and reads the answer whole. It imports
// nothing of authpilot, so the agent's own tests can use it too.
package daemontest

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
)

// Start runs run in a goroutine until stop is called or the test ends,
// whichever comes first. stop cancels run's context, waits for run to
// return and then calls after (nil: nothing); it fails t when either
// returns an error, and does all that once.
func Start(t testing.TB, run func(context.Context) error, after func() error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
			if after == nil {
				return
			}
			if err := after(); err != nil {
				t.Errorf("after run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// Answer is an HTTP response read whole.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a request through c (nil: http.DefaultClient) with body (nil:
// none) and header, name and value pairs set on the request in order (a
// pair whose value is "" removes the header); it fails t when the request
// cannot be made or sent.
func Do(t testing.TB, c *http.Client, method, url string, body io.Reader, header ...string) Answer {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
}
