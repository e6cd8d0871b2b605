// Package sinks builds the notifiers of the configured sinks: a slack or
// webhook Notifier per notify.SinkConfig, all Slack sinks sharing one rate
// limiter so a webhook URL used twice still gets one message per second.
package sinks

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/notify/slack"
	"github.com/authpilot/authpilot/notify/webhook"
	"github.com/authpilot/authpilot/schedules"
)

// Options are shared by every notifier built.
type Options struct {
	Clock schedules.Clock
	// Client is the HTTP client (default: one per notifier).
	Client *http.Client
	// Location is the practice's time zone for Slack dates.
	Location *time.Location
	// DigestRows caps Slack digest rows.
	DigestRows int
}

// New builds one notifier per sink, keyed by sink name. It fails, naming
// the sink, on a duplicate name, an invalid config or a secret missing from
// the keyring; errors never contain secret values.
func New(cfgs []notify.SinkConfig, secrets authpilot.Secrets, o Options) (map[string]notify.Notifier, error) {
	out := make(map[string]notify.Notifier, len(cfgs))
	lim := slack.NewLimiter(slack.Interval)
	var errs []error
	for i, c := range cfgs {
		if _, dup := out[c.Name]; dup {
			errs = append(errs, fmt.Errorf("sinks[%d]: duplicate sink name %q", i, c.Name))
			continue
		}
		var (
			n   notify.Notifier
			err error
		)
		switch c.Type {
		case notify.TypeSlack:
			n, err = slack.New(c, secrets, slack.Options{
				Clock: o.Clock, Client: o.Client, Location: o.Location, Limiter: lim, DigestRows: o.DigestRows,
			})
		case notify.TypeWebhook:
			n, err = webhook.New(c, secrets, webhook.Options{Clock: o.Clock, Client: o.Client})
		default:
			err = c.Validate()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sinks[%d]: %w", i, err))
			continue
		}
		out[c.Name] = n
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Names returns the sink names in config order, for notify.Router.Sinks.
func Names(cfgs []notify.SinkConfig) []string {
	out := make([]string, len(cfgs))
	for i, c := range cfgs {
		out[i] = c.Name
	}
	return out
}
