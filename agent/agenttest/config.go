package agenttest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authpilot/authpilot/config"
	// The example config's connectors and sink are of these kinds.
	_ "github.com/authpilot/authpilot/connectors/portal"
	"github.com/authpilot/authpilot/examples"
	_ "github.com/authpilot/authpilot/notify/sinks"
)

// WriteConfig writes y as dir/authpilot.yaml and loads it through the real
// loader, or fails t; it returns the config and the file's path.
func WriteConfig(t testing.TB, dir, y string) (*config.Config, string) {
	t.Helper()
	p := filepath.Join(dir, "authpilot.yaml")
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg, p
}

// Webhook is a notify: section sending every alert to one webhook, ehr,
// at url, signed with the secret hook-secret.
func Webhook(url string) string {
	return fmt.Sprintf(`notify:
  sinks: [{name: ehr, type: webhook, url: %q, secret: hook-secret}]
  routes: [{match: {}, sinks: [ehr]}]
`, url)
}

// Example is the example configuration pointed at the simulators: the
// example flows summit-portal and clearview-rbm as connectors of the
// payers summit-ma and clearview-rbm (every schedule off, one retry), and
// every alert sent to Webhook(HookURL).
type Example struct {
	Practice                  string
	PayerURL, RBMURL, HookURL string
	// StepTimeout, if set, replaces both flows' step_timeout.
	StepTimeout string
	// Summit, if set, edits summit-portal.yaml's text.
	Summit func(flow string) string
	// SummitPayer, if set, holds more fields of the payer summit-ma
	// (", deadlines: {…}").
	SummitPayer string
	// Extra holds more top-level sections; without a recordings: section
	// among them, a run's recording is kept when it fails.
	Extra string
}

// WriteExample writes the example flows under dir/connectors and
// authpilot.yaml as e says, and loads it (WriteConfig).
func WriteExample(t testing.TB, dir string, e Example) *config.Config {
	t.Helper()
	err := examples.WriteFlows(dir, examples.Simulators{Payer: e.PayerURL, RBM: e.RBMURL}, func(name, flow string) string {
		if e.StepTimeout != "" {
			flow = examples.StepTimeout(flow, e.StepTimeout)
		}
		if e.Summit != nil && name == "summit-portal.yaml" {
			flow = e.Summit(flow)
		}
		return flow
	})
	if err != nil {
		t.Fatal(err)
	}
	y := fmt.Sprintf(`
practice: {name: %s, timezone: America/New_York}
data_dir: %s/data
schedules: {deadlines: "", digest: ""}
payers:
  - {id: summit-ma, plan_type: medicare_advantage, connector: summit-portal%s}
  - {id: clearview-rbm, plan_type: medicare_advantage, connector: clearview-rbm}
connectors:
  - {id: summit-portal, kind: portal, flow: connectors/summit-portal.yaml, schedule: {submit: "", poll: ""}, limits: {retries: 1}}
  - {id: clearview-rbm, kind: portal, flow: connectors/clearview-rbm.yaml, schedule: {submit: "", poll: ""}, limits: {retries: 1}}
`, e.Practice, dir, e.SummitPayer) + Webhook(e.HookURL) + e.Extra
	if !strings.Contains(e.Extra, "recordings:") {
		y += "recordings: {capture: on_failure}\n"
	}
	cfg, _ := WriteConfig(t, dir, y)
	return cfg
}
