package notify

import (
	"fmt"
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

// CheckOptions runs check, a kind's rules, on options built in code rather
// than decoded: `<kind> sink "<name>": <path>: <rule>`.
func CheckOptions(kind, name string, check func(*Fields)) error {
	f := NewFields()
	check(f)
	if err := f.Err(); err != nil {
		return fmt.Errorf("%s sink %q: %w", kind, name, err)
	}
	return nil
}

// CheckKind refuses a sink of another type than kind, for a kind's
// constructor.
func CheckKind(s Sink, kind string) error {
	if s.Type != kind {
		return fmt.Errorf("%s sink %q: type is %q", kind, s.Name, s.Type)
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
