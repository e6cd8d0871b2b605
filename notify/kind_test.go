package notify_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/notify/notifytest"
)

func TestSecretURL(t *testing.T) {
	secrets := notifytest.Secrets{
		"good":   " https://hooks.example/T/SECRETPART \n",
		"notURL": "xoxb-SECRETPART",
	}
	tests := []struct {
		name, secret string
		want         string // error text; empty means success
		notFound     bool
	}{
		{name: "trimmed url", secret: "good"},
		{name: "not a url", secret: "notURL", want: `slack sink "team": url_secret "notURL" does not hold an http(s) URL`},
		{name: "missing", secret: "absent", want: `slack sink "team": url_secret: secret "absent"`, notFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := notify.SecretURL(secrets, "slack", "team", "url_secret", tt.secret)
			if tt.want == "" {
				if err != nil || v.Reveal() != "https://hooks.example/T/SECRETPART" {
					t.Fatalf("SecretURL = %q, %v", v.Reveal(), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "SECRETPART") {
				t.Fatalf("err %q echoes the secret", err)
			}
			if tt.notFound != errors.Is(err, authpilot.ErrSecretNotFound) {
				t.Fatalf("errors.Is(err, ErrSecretNotFound) = %v", !tt.notFound)
			}
		})
	}
}

func TestRecipientWarnings(t *testing.T) {
	tests := []struct {
		sink notify.Sink
		want string
	}{
		{sink: notify.Sink{}, want: ""},
		{sink: notify.Sink{IncludeOrderRef: true}, want: "include_order_ref: sends order references (often MRNs) to Slack"},
		{sink: notify.Sink{IncludePHI: true, IncludeOrderRef: true}, want: "include_phi: sends patient details to Slack"},
	}
	for _, tt := range tests {
		got := notify.RecipientWarnings(tt.sink, "to Slack")
		if tt.want == "" {
			if got != nil {
				t.Errorf("%+v: warnings %v, want none", tt.sink, got)
			}
			continue
		}
		if len(got) != 1 || got.Error() != tt.want {
			t.Errorf("%+v: warnings %q, want %q", tt.sink, got.Error(), tt.want)
		}
	}
}

func TestHTTPClientDoesNotFollowRedirects(t *testing.T) {
	own := &http.Client{}
	c := notify.HTTPClient(own)
	if c == own || own.CheckRedirect != nil {
		t.Fatal("HTTPClient changed the caller's client")
	}
	if c.CheckRedirect == nil || c.CheckRedirect(nil, nil) != http.ErrUseLastResponse {
		t.Fatal("client follows redirects")
	}
	if d := notify.HTTPClient(nil); d.Transport == nil || d.Transport == http.DefaultTransport {
		t.Fatal("a nil client does not get its own transport")
	}
}
