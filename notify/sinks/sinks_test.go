package sinks_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/notify/notifytest"
	_ "github.com/authpilot/authpilot/notify/sinks"
	"github.com/authpilot/authpilot/notify/slack"
	"github.com/authpilot/authpilot/notify/webhook"
)

func TestBuild(t *testing.T) {
	secrets := notifytest.Secrets{
		"slack-url": "https://hooks.slack.example/services/T/B/SLACKSECRET",
		"hook-key":  "whsec_" + "c2lnbmluZy1rZXktb2YtdHdlbnR5LWZvdXI=",
	}
	slackSink := notifytest.Sink(t, "{name: team, type: slack, url_secret: slack-url}")
	hookSink := notifytest.Sink(t, "{name: ehr, type: webhook, url: 'https://ehr.example/hooks', secret: hook-key, include_phi: true}")
	tests := []struct {
		name  string
		sinks []notify.Sink
		want  []string // error substrings; none means success
	}{
		{name: "slack and webhook", sinks: []notify.Sink{slackSink, hookSink}},
		{name: "duplicate name", sinks: []notify.Sink{slackSink, slackSink}, want: []string{`sinks[1]: duplicate sink name "team"`}},
		{name: "unknown type", sinks: []notify.Sink{{Name: "mail", Type: "pager"}}, want: []string{`sinks[0]: sink "mail": unknown type "pager"`}},
		{name: "every bad sink reported", sinks: []notify.Sink{
			notifytest.Sink(t, "{name: a, type: slack, url_secret: missing}"),
			notifytest.Sink(t, "{name: b, type: webhook, url: 'https://x.example', secret: missing}"),
		}, want: []string{`sinks[0]: slack sink "a": url_secret`, `sinks[1]: webhook sink "b": secret`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns, err := notify.Build(tt.sinks, notify.Env{Secrets: secrets})
			if len(tt.want) > 0 {
				if err == nil {
					t.Fatal("Build succeeded")
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				notifytest.AssertNoSecrets(t, "", []error{err}, nil, "SLACKSECRET", secrets["hook-key"])
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := ns["team"].(*slack.Notifier); !ok {
				t.Errorf("team is %T", ns["team"])
			}
			w, ok := ns["ehr"].(*webhook.Notifier)
			if !ok || !w.IncludePHI() {
				t.Errorf("ehr is %T (PHI %v)", ns["ehr"], ok && w.IncludePHI())
			}
			if got := notify.Names(tt.sinks); strings.Join(got, ",") != "team,ehr" {
				t.Errorf("Names = %q", got)
			}
		})
	}
}

// TestDecode checks each kind's strict decode and validation: every error
// with its line and key, and no secret value echoed.
func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // "line: error"; empty means valid
	}{
		{name: "webhook with url", src: "name: w\ntype: webhook\nurl: https://x.example\nsecret: k"},
		{name: "webhook with url secret", src: "name: w\ntype: webhook\nurl_secret: u\nsecret: k\ntimeout: 5s"},
		{name: "slack", src: "name: s\ntype: slack\nurl_secret: u"},
		{name: "webhook both urls", src: "name: w\ntype: webhook\nurl: https://x.example\nurl_secret: u\nsecret: k",
			want: "3: url: give url or url_secret, not both"},
		{name: "webhook no url", src: "name: w\ntype: webhook\nsecret: k", want: "1: one of url or url_secret is required"},
		{name: "webhook unsigned", src: "name: w\ntype: webhook\nurl: https://x.example",
			want: "1: secret is required for a webhook sink"},
		{name: "webhook bad url", src: "name: w\ntype: webhook\nsecret: k\nurl: x.example/h?token=TOPSECRET",
			want: "4: url: not an absolute http(s) URL"},
		{name: "slack plain url", src: "name: s\ntype: slack\nurl: https://hooks.slack.example/TOPSECRET",
			want: "3: url: a Slack webhook URL is a secret: store it with `authpilot secrets set` and name it in url_secret"},
		{name: "slack signed", src: "name: s\ntype: slack\nurl_secret: u\nsecret: k",
			want: `4: unknown key "secret"`},
		{name: "misspelt key", src: "name: s\ntype: slack\nurl_secrte: u", want: `3: unknown key "url_secrte" (did you mean "url_secret"?)`},
		{name: "negative timeout", src: "name: s\ntype: slack\nurl_secret: u\ntimeout: -1s", want: "4: timeout: must not be negative"},
		{name: "timeout not a duration", src: "name: s\ntype: slack\nurl_secret: u\ntimeout: soon",
			want: `4: timeout: expected a duration such as 30s or 15m, got "soon"`},
		{name: "misspelt common key", src: "name: s\ntype: slack\nurl_secret: u\ninclude_ph: true", want: `4: unknown key "include_ph" (did you mean "include_phi"?)`},
		{name: "bad secret name", src: "name: s\ntype: slack\nurl_secret: Slack URL", want: "3: url_secret: invalid secret name"},
		// The common keys are decoded as strictly as in the config file.
		{name: "no name", src: "type: slack\nurl_secret: u", want: "1: name: required"},
		{name: "empty type", src: "name: s\ntype: \nurl_secret: u", want: "2: type: required"},
		{name: "duplicate common key", src: "name: s\ntype: slack\nurl_secret: u\nname: t", want: `4: duplicate key "name" (first at line 1)`},
		{name: "common key of the wrong type", src: "name: s\ntype: slack\nurl_secret: u\ninclude_phi: sometimes",
			want: `4: include_phi: expected true or false, got "sometimes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := notifytest.DecodeSink(tt.src)
			notifytest.CheckDecode(t, err, tt.want, "TOPSECRET")
		})
	}
}

// TestOnlyMainLinksSinkKinds: config and agent know no sink kind; the
// kinds are reached through this package's blank imports alone.
func TestOnlyMainLinksSinkKinds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const mod = "github.com/authpilot/authpilot/"
	out, err := exec.Command("go", "list", "-deps", mod+"config", mod+"agent").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, mod+"notify/") {
			t.Errorf("config or agent imports %s", p)
		}
	}
	for _, kind := range []string{"email", "slack", "teams", "webhook"} {
		if _, ok := notify.Lookup(kind); !ok {
			t.Errorf("sink kind %q not registered by notify/sinks", kind)
		}
	}
}
