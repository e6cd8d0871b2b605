package agent_test

import (
	"encoding/base64"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot/agent/agenttest"
	"github.com/authpilot/authpilot/connectors"
)

// stub stands in for config's test-only connector kind "testkind", which
// config/testdata/good uses: it accepts any options and builds a
// connector that is never opened (Open is the embedded nil interface's).
type stub struct{ connectors.Connector }

func (stub) New(connectors.Env) (connectors.Connector, error) { return stub{}, nil }
func (stub) Capabilities() connectors.Capabilities {
	return connectors.Capabilities{Submit: true, Poll: true}
}
func (stub) Close() error { return nil }

func init() {
	connectors.Register(connectors.Kind{Name: "testkind",
		Decode: func(*yaml.Node) (connectors.Options, error) { return stub{}, nil }})
}

// testSecrets are values of every secret the checked configs name, in
// the shapes their users parse (a Slack URL, a webhook signing secret).
var testSecrets = map[string]string{
	"api-token":              "token-1",
	"api-token-2":            "token-2",
	"summit-username":        "provider1",
	"summit-password":        "pw",
	"summit-totp":            "JBSWY3DPEHPK3PXP",
	"clearview-email":        "a@example.org",
	"clearview-password":     "pw",
	"keystone-client-secret": "client-secret",
	"slack-coordinators-url": "https://hooks.slack.com/services/T0/B0/X",
	"billing-webhook-url":    "https://billing.example.org/hook",
	"webhook-ehr":            "whsec_" + base64.StdEncoding.EncodeToString([]byte("ehr-signing-key-32-bytes-long...")),
	"webhook-billing":        "whsec_" + base64.StdEncoding.EncodeToString([]byte("billing-signing-key-32-bytes....")),
}

// TestConfigCheckIsRun: every shipped good config and example passes
// `config check` exactly when `run` accepts it (agent.New, which also
// registers the scheduled jobs). The simulators' generated configs are
// checked in agent/demo, agent/chaos and agent/bench.
func TestConfigCheckIsRun(t *testing.T) {
	var files []string
	for _, pattern := range []string{"../config/testdata/good/*.yaml", "../examples/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 2 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			if err := agenttest.CheckLikeRun(t, f, testSecrets); err != nil {
				t.Errorf("config check refuses a shipped config: %v", err)
			}
		})
	}
}

// TestConfigCheckRefusesWhatRunRefuses: the two configurations check used
// to pass and run refused (a webhook sink without secret, a cron spec that
// never fires) are refused by both.
func TestConfigCheckRefusesWhatRunRefuses(t *testing.T) {
	if err := agenttest.CheckLikeRun(t, "../config/testdata/bad/check-like-run.yaml", testSecrets); err == nil {
		t.Error("config check accepts check-like-run.yaml")
	}
}
