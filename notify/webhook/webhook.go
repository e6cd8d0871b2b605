// Package webhook delivers alerts as signed HTTP POSTs following Standard
// Webhooks (https://www.standardwebhooks.com), and verifies them on the
// receiving side (Verify) for integrators and tests.
//
// A delivery is a JSON body
//
//	{"type": "<alert type>", "timestamp": "<RFC 3339 time of the alert>", "data": {...}}
//
// with the headers webhook-id (the alert ID, the same for every retry, so
// receivers can drop duplicates), webhook-timestamp (Unix seconds of this
// attempt) and webhook-signature ("v1," + base64 of HMAC-SHA256 over
// id + "." + timestamp + "." + body, keyed with the base64-decoded part of
// the "whsec_" secret).
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/schedules"
)

// Header names of Standard Webhooks.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts a Standard Webhooks signing secret.
const SecretPrefix = "whsec_"

// Payload is the body of a delivery.
type Payload struct {
	Type      authpilot.AlertType `json:"type"`
	Timestamp string              `json:"timestamp"`
	Data      Data                `json:"data"`
}

// Data is the alert, plus the case's PHI for a sink that opted in.
type Data struct {
	authpilot.Alert
	// Patient, ServiceLines and Diagnoses are present only when the sink
	// has include_phi set.
	Patient      *authpilot.Patient      `json:"patient,omitempty"`
	ServiceLines []authpilot.ServiceLine `json:"service_lines,omitempty"`
	Diagnoses    []string                `json:"diagnoses,omitempty"`
}

// Options are the Notifier's dependencies; zero fields take defaults.
type Options struct {
	Clock schedules.Clock
	// Client sends the requests; its redirects are not followed. Default:
	// a client with its own transport.
	Client *http.Client
}

// Notifier posts alerts to one webhook endpoint.
type Notifier struct {
	notify.Sender
	url    authpilot.Secret // may carry a token: never printed
	key    []byte
	client *http.Client
}

var _ notify.Recipient = (*Notifier)(nil)

// New returns the notifier of a webhook sink, reading its URL (when in
// the keyring) and signing secret from secrets.
func New(s notify.Sink, cfg Config, secrets authpilot.Secrets, o Options) (*Notifier, error) {
	if err := notify.CheckSink(s, KindName, cfg.check); err != nil {
		return nil, err
	}
	u := cfg.URL
	if cfg.URLSecret != "" {
		v, err := notify.Secret(secrets, KindName, s.Name, "url_secret", cfg.URLSecret)
		if err != nil {
			return nil, err
		}
		u = strings.TrimSpace(v)
	}
	if err := checkURL(u); err != nil {
		return nil, fmt.Errorf("webhook sink %q: url: %w", s.Name, err)
	}
	raw, err := notify.Secret(secrets, KindName, s.Name, "secret", cfg.Secret)
	if err != nil {
		return nil, err
	}
	key, err := DecodeSecret(raw)
	if err != nil {
		return nil, fmt.Errorf("webhook sink %q: secret %q: %w", s.Name, cfg.Secret, err)
	}
	return &Notifier{
		Sender: notify.NewSender(s, cfg.Timeout, o.Clock, nil, 0),
		url:    authpilot.Secret(u), key: key, client: notify.HTTPClient(o.Client),
	}, nil
}

// checkURL validates an endpoint without echoing it: it may hold a token.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("scheme must be http or https")
	}
	if u.Host == "" {
		return errors.New("host is missing")
	}
	return nil
}

// DecodeSecret returns the HMAC key of a "whsec_<base64>" secret (the
// prefix is optional). The error never contains the secret.
func DecodeSecret(secret string) ([]byte, error) {
	s := strings.TrimPrefix(strings.TrimSpace(secret), SecretPrefix)
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("not a whsec_ secret: the part after whsec_ is not standard base64")
	}
	if len(key) == 0 {
		return nil, errors.New("empty signing secret")
	}
	return key, nil
}

// Body returns the JSON body of a delivery: the alert, plus the case's
// patient, service lines and diagnoses when c is non-nil.
func Body(a authpilot.Alert, c *authpilot.Case) ([]byte, error) {
	p := Payload{Type: a.Type, Timestamp: a.At.UTC().Format(time.RFC3339), Data: Data{Alert: a}}
	if c != nil {
		pt := c.Patient
		p.Data.Patient = &pt
		p.Data.ServiceLines = c.ServiceLines
		p.Data.Diagnoses = c.Diagnoses
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode webhook body: %w", err)
	}
	return b, nil
}

// Sign returns the webhook-signature value ("v1,<base64>") of a message.
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Notify implements notify.Notifier: one signed POST. Only a 2xx answer
// counts as delivered.
func (n *Notifier) Notify(ctx context.Context, d notify.Delivery) (bool, time.Duration, error) {
	a := d.Alert
	c := n.Case(d)
	body, err := Body(a, c)
	if err != nil {
		return false, 0, err
	}
	now := n.Clock.Now()
	h := http.Header{}
	h.Set(HeaderID, a.ID)
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderSignature, Sign(n.key, a.ID, now, body))
	// The body of the answer is never kept (Post.Detail is unset): a
	// receiver may echo what it was sent.
	post := notify.Post{Client: n.client, URL: n.url, Timeout: n.Timeout, Header: h, Name: "webhook", Op: "post webhook"}
	return post.Send(ctx, body, now)
}

// Verification errors.
var (
	ErrMissingHeaders = errors.New("missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrBadTimestamp   = errors.New("webhook-timestamp is not Unix seconds")
	ErrTooOld         = errors.New("webhook-timestamp is too old")
	ErrTooNew         = errors.New("webhook-timestamp is in the future")
	ErrNoSignature    = errors.New("no matching v1 signature")
	// ErrBadPayload: a verified body that is not a delivery's JSON.
	ErrBadPayload = errors.New("body is not a webhook payload")
)

// Verify checks a received delivery the way a receiver should: all three
// headers present, webhook-timestamp within tolerance of now (either way),
// and one of the space-separated "v1,<base64>" signatures in
// webhook-signature matching the body, compared in constant time. secret
// is the sink's "whsec_…" secret. Receivers should also drop a webhook-id
// they have already processed.
func Verify(secret string, headers http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	key, err := DecodeSecret(secret)
	if err != nil {
		return fmt.Errorf("verify webhook: %w", err)
	}
	id, tsText, sigs := headers.Get(HeaderID), headers.Get(HeaderTimestamp), headers.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeaders
	}
	secs, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	ts := time.Unix(secs, 0)
	if now.Sub(ts) > tolerance {
		return ErrTooOld
	}
	if ts.Sub(now) > tolerance {
		return ErrTooNew
	}
	want := []byte(Sign(key, id, ts, body))
	for _, s := range strings.Fields(sigs) {
		if !strings.HasPrefix(s, "v1,") {
			continue
		}
		if hmac.Equal([]byte(s), want) {
			return nil
		}
	}
	return ErrNoSignature
}

// Received is one delivery as its receiver reads it: the webhook-id (the
// alert's ID, the same on every retry) and the payload.
type Received struct {
	ID string
	Payload
}

// Receive reads one delivery of r (at most 1 MiB), checks it as Verify
// does and decodes its payload: the receiving side for a receiver written
// in Go (an integrator's, the demo's, the tests'). A failed check is one
// of Verify's errors; a body that does not decode is ErrBadPayload. It
// does not drop repeats: the caller remembers the IDs it has stored.
func Receive(r *http.Request, secret string, tolerance time.Duration, now time.Time) (Received, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return Received{}, fmt.Errorf("read webhook: %w", err)
	}
	if err := Verify(secret, r.Header, body, tolerance, now); err != nil {
		return Received{}, err
	}
	d := Received{ID: r.Header.Get(HeaderID)}
	if err := json.Unmarshal(body, &d.Payload); err != nil {
		return Received{}, fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	return d, nil
}
