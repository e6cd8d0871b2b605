package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
)

// What every sink kind's package does the same way: decoding and checking
// its own keys, the warnings of a sink that sends patient details, reading
// a secret by its keyring name, and its HTTP client.

// DecodeOptions strictly decodes node, a mapping of a sink's own keys,
// into v and runs check, the kind's rules, on it. It returns the Fields
// (for the lines of warnings) or the errors found.
func DecodeOptions(node *yaml.Node, v any, check func(*Fields)) (*Fields, error) {
	f := DecodeFields(node, v)
	check(f)
	if err := f.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

// CheckSink is a kind's constructor's check of what it is given, which
// may be built in code rather than decoded: the sink's type must be kind,
// and check, the kind's rules, must pass on its options:
// `<kind> sink "<name>": <path>: <rule>`.
func CheckSink(s Sink, kind string, check func(*Fields)) error {
	if s.Type != kind {
		return fmt.Errorf("%s sink %q: type is %q", kind, s.Name, s.Type)
	}
	f := NewFields()
	check(f)
	if err := f.Err(); err != nil {
		return fmt.Errorf("%s sink %q: %w", kind, s.Name, err)
	}
	return nil
}

// RecipientWarnings is the warning of a sink that sends patient details
// (include_phi) or order references (include_order_ref) to where, as in
// "to Slack" or "by e-mail"; none for a sink that sends neither.
func RecipientWarnings(s Sink, where string) FieldErrors {
	switch {
	case s.IncludePHI:
		return FieldErrors{{Path: "include_phi", Msg: "sends patient details " + where}}
	case s.IncludeOrderRef:
		return FieldErrors{{Path: "include_order_ref", Msg: "sends order references (often MRNs) " + where}}
	}
	return nil
}

// Secret reads the keyring secret called name, which the sink's key names.
// An error says which sink and key, never the value.
func Secret(secrets authpilot.Secrets, kind, sink, key, name string) (string, error) {
	v, err := secrets.Get(name)
	if err != nil {
		return "", fmt.Errorf("%s sink %q: %s: %w", kind, sink, key, err)
	}
	return v, nil
}

// SecretURL reads an http(s) URL kept in the keyring (a webhook URL that
// is itself a credential) as Secret does, and checks it without echoing it.
func SecretURL(secrets authpilot.Secrets, kind, sink, key, name string) (authpilot.Secret, error) {
	v, err := Secret(secrets, kind, sink, key, name)
	if err != nil {
		return "", err
	}
	v = strings.TrimSpace(v)
	if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		// Do not wrap err: url.Parse errors quote the URL.
		return "", fmt.Errorf("%s sink %q: %s %q does not hold an http(s) URL", kind, sink, key, name)
	}
	return authpilot.Secret(v), nil
}

// HTTPClient returns a copy of c (of a client with its own transport when
// c is nil) that never follows redirects: a moved endpoint is a config
// error, and a body must not be replayed to a third party.
func HTTPClient(c *http.Client) *http.Client {
	if c == nil {
		c = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	cc := *c
	cc.CheckRedirect = NoRedirect
	return &cc
}

// Timeout is a sink's attempt timeout: DefaultTimeout when d is not
// positive.
func Timeout(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultTimeout
	}
	return d
}

// IsLoopback reports whether host is localhost or a loopback address:
// plain traffic to it does not cross the network.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Recipient is what every sink kind's Notifier is: it delivers, and
// (through an embedded Audience) says whether its sink gets PHI and order
// references. Kinds assert it: var _ notify.Recipient = (*Notifier)(nil).
type Recipient interface {
	Notifier
	PHIRecipient
	OrderRefRecipient
}

// Audience is what a sink agreed to receive: patient details (include_phi)
// and order references (include_order_ref, implied by include_phi). A
// kind's Notifier embeds it, which makes it a PHIRecipient and an
// OrderRefRecipient.
type Audience struct {
	phi, ref bool
}

// AudienceOf returns the audience of a sink.
func AudienceOf(s Sink) Audience { return Audience{phi: s.IncludePHI, ref: s.IncludeOrderRef} }

// IncludePHI implements PHIRecipient.
func (a Audience) IncludePHI() bool { return a.phi }

// IncludeOrderRef implements OrderRefRecipient.
func (a Audience) IncludeOrderRef() bool { return a.ref || a.phi }

// Case is the delivery's case for a sink that receives patient details,
// else nil.
func (a Audience) Case(d Delivery) *authpilot.Case {
	if !a.phi {
		return nil
	}
	return d.Case
}

// Post is one sink's JSON POST to its endpoint (Slack, Teams, webhooks).
type Post struct {
	// Client sends the request (see HTTPClient).
	Client *http.Client
	// URL is the endpoint; it never appears in an error.
	URL authpilot.Secret
	// Timeout bounds the attempt.
	Timeout time.Duration
	// Header is set on the request besides Content-Type and User-Agent.
	Header http.Header
	// Name and Op name the request in errors: "build <Name> request:
	// invalid url", "<Op>: http 500 …".
	Name, Op string
	// Detail, when set, makes a StatusError's Detail from the start of the
	// answer's body; it must keep only what is safe to log. Without it the
	// body is never kept: a receiver may echo what it was sent.
	Detail func(body string) string
}

// Send posts body, classifying the answer as Classify does at now: only a
// 2xx answer is delivered (nil error); retry and retryAfter say whether
// and when trying again can help.
func (p Post) Send(ctx context.Context, body []byte, now time.Time) (retry bool, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL.Reveal(), bytes.NewReader(body))
	if err != nil {
		return false, 0, errors.New("build " + p.Name + " request: invalid url")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "authpilot")
	for k, vs := range p.Header {
		req.Header[k] = vs
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return true, 0, RequestError(p.Op, err)
	}
	defer resp.Body.Close()
	var detail []byte
	if p.Detail != nil {
		detail, _ = io.ReadAll(io.LimitReader(resp.Body, 512))
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	retry, retryAfter, serr := Classify(resp.StatusCode, resp.Header, now)
	if serr == nil {
		return false, 0, nil
	}
	if p.Detail != nil {
		serr.Detail = p.Detail(string(detail))
	}
	return retry, retryAfter, fmt.Errorf("%s: %w", p.Op, serr)
}

// NotNegative refuses a negative duration at key (a timeout).
func (f *Fields) NotNegative(key string, d time.Duration) {
	if d < 0 {
		f.At(key, "must not be negative")
	}
}

// WebhookURLSecret checks the keys of a sink whose incoming-webhook URL is
// itself a credential (Slack, Teams: service names it in errors, kind is
// the sink type): url_secret names the keyring secret holding it, and a
// URL written as url is refused without echoing it.
func (f *Fields) WebhookURLSecret(service, kind, url, urlSecret string) {
	if url != "" {
		// The value is not echoed: it is a credential.
		f.At("url", "a %s webhook URL is a secret: store it with `authpilot secrets set` and name it in url_secret", service)
	} else if urlSecret == "" {
		f.At("url_secret", "required for a %s sink (the keyring secret holding the webhook URL)", kind)
	}
	f.SecretName("url_secret", urlSecret, false)
}
