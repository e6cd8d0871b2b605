package agent

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
)

// notifyPipeline is the outbox dispatcher with the configured sinks.
type notifyPipeline struct {
	d *notify.Dispatcher
}

func newNotifyPipeline(a *Agent) (*notifyPipeline, error) {
	clock := a.clock
	notifiers, err := notify.Build(a.cfg.Sinks(), notify.Env{
		Secrets: a.secrets, Clock: clock, Client: a.opts.HTTPClient, Location: a.cfg.Location(),
	})
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	retry := a.cfg.Notify.Retry
	opts := notify.Options{PHI: a.phi, MaxAge: retry.For.Std(), MaxBackoff: retry.MaxBackoff.Std(), FailingAfter: retry.FailingAfter.Std()}
	if a.opts.Workspace != nil {
		// Alerts link to their case's page in the workspace.
		opts.CaseLink = func(id string) string { return a.BaseURL() + "/cases/" + url.PathEscape(id) }
	}
	d := notify.NewDispatcher(a.store, a.store, a.cfg.Router(), notifiers, clock, a.log.With("component", "notify"), opts)
	return &notifyPipeline{d: d}, nil
}

func (p *notifyPipeline) run(ctx context.Context) error { return p.d.Run(ctx) }

func (a *Agent) kickDispatcher() {
	if a.notify != nil {
		a.notify.d.Kick()
	}
}

// FlushAlerts delivers what is deliverable now, pass after pass, until a
// pass delivers nothing or the timeout ends. Deliveries waiting for a
// retry stay in the outbox for the daemon.
func (a *Agent) FlushAlerts(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		n, err := a.notify.d.DeliverOnce(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

// SendTestAlert sends a test alert to one sink now (authpilot notify test).
func (a *Agent) SendTestAlert(ctx context.Context, sink string) error {
	if _, ok := a.cfg.Sink(sink); !ok {
		return fmt.Errorf("no sink %q in the config", sink)
	}
	return a.notify.d.SendTest(ctx, sink)
}

var _ notify.CaseReader = authpilot.Store(nil)
