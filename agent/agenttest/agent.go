package agenttest

import (
	"net"
	"testing"

	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/internal/daemontest"
)

// New makes an agent on cfg with opts, or fails t; the agent closes when
// the test ends, if the test has not closed it.
func New(t testing.TB, cfg *config.Config, opts agent.Options) *agent.Agent {
	t.Helper()
	a, err := agent.New(cfg, opts)
	if err != nil {
		t.Fatalf("agent.New: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// Serve makes an agent on cfg with opts, its API listening on a free
// loopback port when opts has no Listener, and runs it (Run) until the
// test ends or stop is called; stop ends the run and closes the agent.
func Serve(t testing.TB, cfg *config.Config, opts agent.Options) (a *agent.Agent, stop func()) {
	t.Helper()
	if opts.Listener == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		opts.Listener = ln
	}
	a = New(t, cfg, opts)
	return a, Run(t, a, a.Close)
}

// Run runs a until the test ends or stop is called: stop cancels the run,
// waits for it and then calls after (nil: nothing); a failed listen, run or
// after fails t.
func Run(t testing.TB, a *agent.Agent, after func() error) (stop func()) {
	t.Helper()
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	return daemontest.Start(t, a.Run, after)
}
