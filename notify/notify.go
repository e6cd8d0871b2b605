package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
)

// Notifier sends one delivery to one sink, once. It does not retry: it
// reports whether trying again later can help (retry) and, when the sink
// asked for it, how long to wait first (retryAfter). The Dispatcher owns
// retries, backoff and giving up.
//
// Errors must not contain secrets (webhook URLs, signing keys) nor PHI:
// they are logged and stored as the delivery's last error.
type Notifier interface {
	Notify(ctx context.Context, d Delivery) (retry bool, retryAfter time.Duration, err error)
}

// Delivery is what a Notifier sends: the outbox delivery and, only for a
// sink that opted in to PHI, the alert's case.
type Delivery struct {
	authpilot.Delivery
	// Case is the alert's case as stored now; it is nil unless the sink
	// includes PHI (see PHIRecipient) and the alert names a case.
	Case *authpilot.Case
}

// PHIRecipient is implemented by notifiers whose sink opted in to PHI
// (Sink.IncludePHI). The Dispatcher reads the case only for them.
type PHIRecipient interface {
	IncludePHI() bool
}

// Throttler is implemented by notifiers that limit their own send rate
// (Slack: one message per second per webhook). Throttle says how long to
// wait before the next message may go; zero means now. The Dispatcher asks
// before each delivery and leaves the sink's queue for later rather than
// counting a failed attempt.
type Throttler interface {
	Throttle(now time.Time) time.Duration
}

// ErrGone means the sink answered 410 Gone (or Slack's equivalent): it no
// longer wants deliveries. The Dispatcher disables the sink.
var ErrGone = errors.New("sink is gone")

// ErrThrottled is returned by a notifier that refused to send because its
// own rate limit has no room yet. It is not a failed attempt.
var ErrThrottled = errors.New("rate limit reached, not sent")

// MaxRetryAfter caps a sink's Retry-After: a sink asking for a longer pause
// is retried after this long.
const MaxRetryAfter = time.Hour

// StatusError is a non-2xx HTTP answer from a sink.
type StatusError struct {
	Code int
	// RetryAfter is the sink's Retry-After, clamped to MaxRetryAfter; zero
	// when absent.
	RetryAfter time.Duration
	// Detail is a short, sanitized reason from the sink (Slack's error
	// code). It is empty for generic webhooks, whose bodies may echo data.
	Detail string
}

func (e *StatusError) Error() string {
	s := "http " + strconv.Itoa(e.Code)
	if t := http.StatusText(e.Code); t != "" {
		s += " " + t
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Is makes a 410 match ErrGone.
func (e *StatusError) Is(target error) bool { return target == ErrGone && e.Code == http.StatusGone }

// Classify turns an HTTP status into a notifier result: 2xx is delivered;
// 410 is ErrGone (the Dispatcher disables the sink); 429, 502, 503 and 504
// are retried after the sink's Retry-After (when it sent one, clamped to
// MaxRetryAfter); any other status is retried with backoff, 4xx included:
// a receiver answering 404 or 401 while it is redeployed or reconfigured
// must not lose alerts. The Dispatcher bounds the retries (Options.MaxAge).
// 3xx is retried too, since redirects are not followed: a moved endpoint
// is fixed in the config within the retry window.
func Classify(code int, h http.Header, now time.Time) (retry bool, retryAfter time.Duration, err *StatusError) {
	switch {
	case code >= 200 && code < 300:
		return false, 0, nil
	case code == http.StatusGone:
		return false, 0, &StatusError{Code: code}
	case code == http.StatusTooManyRequests, code == http.StatusBadGateway,
		code == http.StatusServiceUnavailable, code == http.StatusGatewayTimeout:
		ra, _ := ParseRetryAfter(h.Get("Retry-After"), now)
		return true, ra, &StatusError{Code: code, RetryAfter: ra}
	default:
		return true, 0, &StatusError{Code: code}
	}
}

// ParseRetryAfter reads a Retry-After header value: delay seconds or an
// HTTP date, relative to now. The result is clamped to [0, MaxRetryAfter];
// ok is false when v is empty or unreadable.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now)
	switch {
	case d < 0:
		d = 0
	case d > MaxRetryAfter:
		d = MaxRetryAfter
	}
	return d, true
}

// RequestError describes a failed HTTP exchange without the request URL,
// which for Slack (and often for webhooks) is itself a secret. Whether to
// retry is for the caller: network errors and timeouts are retryable.
func RequestError(op string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("%s: timeout: %w", op, stripURL{ue.Err})
		}
		return fmt.Errorf("%s: %w", op, stripURL{ue.Err})
	}
	return fmt.Errorf("%s: %w", op, err)
}

// stripURL wraps the inner error of a *url.Error so errors.Is still sees
// context.DeadlineExceeded and friends, while Error() omits the URL.
type stripURL struct{ err error }

func (s stripURL) Error() string { return s.err.Error() }
func (s stripURL) Unwrap() error { return s.err }

// NoRedirect is an http.Client CheckRedirect that does not follow
// redirects: a sink that moved answers 3xx, which is a permanent failure
// to fix in the config, and the signed body is never replayed elsewhere.
func NoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
