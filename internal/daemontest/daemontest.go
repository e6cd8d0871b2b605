// Package daemontest runs a daemon's blocking Run in the background of a
// test, in-process, until the test ends. It imports nothing of authpilot,
// so the agent's own tests can use it as well as agenttest.
package daemontest

import (
	"context"
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
