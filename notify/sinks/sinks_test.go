package sinks_test

import (
	"strings"
	"testing"

	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/notify/sinks"
	"github.com/authpilot/authpilot/notify/slack"
	"github.com/authpilot/authpilot/notify/webhook"
)

func TestNew(t *testing.T) {
	secrets := notifytest.Secrets{
		"slack-url": "https://hooks.slack.example/services/T/B/SLACKSECRET",
		"hook-key":  "whsec_" + "c2lnbmluZy1rZXktb2YtdHdlbnR5LWZvdXI=",
	}
	slackSink := notify.SinkConfig{Name: "team", Type: notify.TypeSlack, URLSecret: "slack-url"}
	hookSink := notify.SinkConfig{Name: "ehr", Type: notify.TypeWebhook, URL: "https://ehr.example/hooks", Secret: "hook-key", IncludePHI: true}
	tests := []struct {
		name string
		cfgs []notify.SinkConfig
		want []string // error substrings; none means success
	}{
		{name: "slack and webhook", cfgs: []notify.SinkConfig{slackSink, hookSink}},
		{name: "duplicate name", cfgs: []notify.SinkConfig{slackSink, slackSink}, want: []string{`sinks[1]: duplicate sink name "team"`}},
		{name: "unknown type", cfgs: []notify.SinkConfig{{Name: "mail", Type: "email"}}, want: []string{`sinks[0]: sink "mail": type "email"`}},
		{name: "every bad sink reported", cfgs: []notify.SinkConfig{
			{Name: "a", Type: notify.TypeSlack, URLSecret: "missing"},
			{Name: "b", Type: notify.TypeWebhook, URL: "https://x.example", Secret: "missing"},
		}, want: []string{`sinks[0]: slack sink "a": url_secret`, `sinks[1]: webhook sink "b": secret`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns, err := sinks.New(tt.cfgs, secrets, sinks.Options{})
			if len(tt.want) > 0 {
				if err == nil {
					t.Fatal("New succeeded")
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
			if got := sinks.Names(tt.cfgs); strings.Join(got, ",") != "team,ehr" {
				t.Errorf("Names = %q", got)
			}
		})
	}
}
