package chaos

import (
	"path/filepath"
	"testing"

	"github.com/authpilot/authpilot/agent/agenttest"
	// The daemon chaos starts registers its kinds through its main
	// package; this test checks the config in-process, so it registers
	// them itself (agent imports no kind package).
	_ "github.com/authpilot/authpilot/connectors/fhirpas"
	_ "github.com/authpilot/authpilot/connectors/portal"
)

// TestConfigCheckIsRun: the configuration the chaos run writes passes
// `config check` and `run` alike.
func TestConfigCheckIsRun(t *testing.T) {
	dir := t.TempDir()
	urls := map[string]string{"payer": "http://127.0.0.1:1", "rbm": "http://127.0.0.1:2", "pas": "http://127.0.0.1:3/fhir"}
	if err := writeConfig(dir, urls, "http://127.0.0.1:4/hook", "127.0.0.1:5"); err != nil {
		t.Fatal(err)
	}
	if err := agenttest.CheckLikeRun(t, filepath.Join(dir, "authpilot.yaml"), chaosSecrets); err != nil {
		t.Errorf("config check refuses the chaos config: %v", err)
	}
}
