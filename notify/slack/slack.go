// Package slack delivers alerts to Slack channels through incoming
// webhooks, as Block Kit messages readable at a glance: what happened, the
// case, payer, track, status and deadline in the practice's time zone, and
// what to do. Messages carry no PHI unless the sink opts in, stay within
// Slack's block and text limits, and go at most one per second per webhook.
package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/schedules"
)

// Interval is Slack's pace for incoming webhooks: one message per second.
const Interval = time.Second

// Options are the Notifier's dependencies; zero fields take defaults.
type Options struct {
	Clock schedules.Clock
	// Client sends the requests; redirects are not followed.
	Client *http.Client
	// Location is the practice's time zone (default UTC).
	Location *time.Location
	// Limiter paces messages per webhook URL; share one between all Slack
	// sinks. Default: a limiter of this notifier alone, at Interval.
	Limiter *Limiter
	// DigestRows caps a digest's rows (DefaultDigestRows when zero).
	DigestRows int
}

// Notifier posts alerts to one Slack incoming webhook.
type Notifier struct {
	name string
	url  authpilot.Secret // the webhook URL is a credential
	notify.Audience
	timeout time.Duration
	clock   schedules.Clock
	client  *http.Client
	loc     *time.Location
	lim     *Limiter
	rows    int
}

var (
	_ notify.Recipient = (*Notifier)(nil)
	_ notify.Throttler = (*Notifier)(nil)
)

// New returns the notifier of a Slack sink, reading its webhook URL from
// secrets.
func New(s notify.Sink, cfg Config, secrets authpilot.Secrets, o Options) (*Notifier, error) {
	if err := notify.CheckSink(s, KindName, cfg.check); err != nil {
		return nil, err
	}
	u, err := notify.SecretURL(secrets, KindName, s.Name, "url_secret", cfg.URLSecret)
	if err != nil {
		return nil, err
	}
	n := &Notifier{
		name: s.Name, url: u, Audience: notify.AudienceOf(s), timeout: notify.Timeout(cfg.Timeout),
		clock: o.Clock, client: notify.HTTPClient(o.Client), loc: o.Location, lim: o.Limiter, rows: o.DigestRows,
	}
	if n.clock == nil {
		n.clock = schedules.RealClock{}
	}
	if n.loc == nil {
		n.loc = time.UTC
	}
	if n.lim == nil {
		n.lim = NewLimiter(Interval)
	}
	return n, nil
}

// Throttle implements notify.Throttler.
func (n *Notifier) Throttle(now time.Time) time.Duration { return n.lim.Delay(n.url.Reveal(), now) }

// Notify implements notify.Notifier: one message, if the webhook's rate
// allows it now (else notify.ErrThrottled with the wait).
func (n *Notifier) Notify(ctx context.Context, d notify.Delivery) (bool, time.Duration, error) {
	now := n.clock.Now()
	c := n.Case(d)
	body, err := json.Marshal(Build(d.Alert, c, BuildOptions{Now: now, Location: n.loc, DigestRows: n.rows}))
	if err != nil {
		return false, 0, fmt.Errorf("encode slack message: %w", err)
	}
	if wait := n.lim.Reserve(n.url.Reveal(), now); wait > 0 {
		return true, wait, notify.ErrThrottled
	}
	post := notify.Post{Client: n.client, URL: n.url, Timeout: n.timeout, Name: "slack", Op: "post to slack", Detail: sanitize}
	retry, retryAfter, err := post.Send(ctx, body, now)
	if serr := (*notify.StatusError)(nil); errors.As(err, &serr) && serr.Code == http.StatusTooManyRequests {
		hold := retryAfter
		if hold <= 0 {
			hold = Interval
		}
		n.lim.Hold(n.url.Reveal(), now.Add(hold))
	}
	return retry, retryAfter, err
}

// sanitize keeps a short, plain error code from Slack's answer body
// ("invalid_blocks", "channel_is_archived").
func sanitize(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 80 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == ' ', r == '.':
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}
