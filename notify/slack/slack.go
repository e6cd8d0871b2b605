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
)

// Interval is Slack's pace for incoming webhooks: one message per second.
const Interval = time.Second

// Options are the Notifier's dependencies; zero fields take defaults.
type Options struct {
	notify.ChatOptions
	// Limiter paces messages per webhook URL; share one between all Slack
	// sinks. Default: a limiter of this notifier alone, at Interval.
	Limiter *Limiter
}

// Notifier posts alerts to one Slack incoming webhook.
type Notifier struct {
	notify.ChatSender
	lim *Limiter
}

var (
	_ notify.Recipient = (*Notifier)(nil)
	_ notify.Throttler = (*Notifier)(nil)
)

// New returns the notifier of a Slack sink, reading its webhook URL from
// secrets.
func New(s notify.Sink, cfg Config, secrets authpilot.Secrets, o Options) (*Notifier, error) {
	cs, err := chat.Sender(s, cfg, secrets, o.ChatOptions)
	if err != nil {
		return nil, err
	}
	n := &Notifier{ChatSender: cs, lim: o.Limiter}
	if n.lim == nil {
		n.lim = NewLimiter(Interval)
	}
	return n, nil
}

// Throttle implements notify.Throttler.
func (n *Notifier) Throttle(now time.Time) time.Duration { return n.lim.Delay(n.URL.Reveal(), now) }

// Notify implements notify.Notifier: one message, if the webhook's rate
// allows it now (else notify.ErrThrottled with the wait).
func (n *Notifier) Notify(ctx context.Context, d notify.Delivery) (bool, time.Duration, error) {
	now := n.Clock.Now()
	c := n.Case(d)
	body, err := json.Marshal(Build(d.Alert, c, BuildOptions{Now: now, Location: n.Location, DigestRows: n.DigestRows}))
	if err != nil {
		return false, 0, fmt.Errorf("encode slack message: %w", err)
	}
	if wait := n.lim.Reserve(n.URL.Reveal(), now); wait > 0 {
		return true, wait, notify.ErrThrottled
	}
	retry, retryAfter, err := n.Post(KindName, sanitize).Send(ctx, body, now)
	if serr := (*notify.StatusError)(nil); errors.As(err, &serr) && serr.Code == http.StatusTooManyRequests {
		hold := retryAfter
		if hold <= 0 {
			hold = Interval
		}
		n.lim.Hold(n.URL.Reveal(), now.Add(hold))
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
