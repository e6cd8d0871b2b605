package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/notify/sinks"
)

// notifyPipeline is the outbox dispatcher with the configured sinks.
type notifyPipeline struct {
	d *notify.Dispatcher
}

func newNotifyPipeline(a *Agent) (*notifyPipeline, error) {
	cfgs := sinkConfigs(a.cfg)
	clock := a.clock
	notifiers, err := sinks.New(cfgs, a.secrets, sinks.Options{Clock: clock, Client: a.opts.HTTPClient, Location: a.cfg.Location()})
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	router := routerFromConfig(a.cfg)
	retry := a.cfg.Notify.Retry
	d := notify.NewDispatcher(a.store, a.store, router, notifiers, clock, a.log.With("component", "notify"), notify.Options{
		PHI: a.phi, MaxAge: retry.For.Std(), MaxBackoff: retry.MaxBackoff.Std(), FailingAfter: retry.FailingAfter.Std(),
	})
	return &notifyPipeline{d: d}, nil
}

func (p *notifyPipeline) run(ctx context.Context) error { return p.d.Run(ctx) }

// sinkConfigs maps the config's sinks onto the notifiers' settings.
func sinkConfigs(cfg *config.Config) []notify.SinkConfig {
	var out []notify.SinkConfig
	for _, s := range cfg.Notify.Sinks {
		out = append(out, notify.SinkConfig{Name: s.Name, Type: s.Type, URL: s.URL, URLSecret: s.URLSecret,
			Secret: s.Secret, IncludePHI: s.IncludePHI, IncludeOrderRef: s.IncludeOrderRef})
	}
	return out
}

// routerFromConfig maps the config's routes and connector sinks.
func routerFromConfig(cfg *config.Config) *notify.Router {
	r := &notify.Router{ExtraSinks: map[string][]string{}}
	for _, rt := range cfg.Notify.Routes {
		r.Routes = append(r.Routes, notify.Route{Types: rt.Match.Types, Payers: rt.Match.Payers, Tracks: rt.Match.Tracks,
			MinSeverity: rt.Match.Severity, Sinks: rt.Sinks, Continue: rt.Continue})
	}
	for _, c := range cfg.Connectors {
		if len(c.Notify) > 0 {
			r.ExtraSinks[c.ID] = c.Notify
		}
	}
	for _, s := range cfg.Notify.Sinks {
		r.Sinks = append(r.Sinks, s.Name)
	}
	return r
}

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
