package demo

import (
	"testing"

	"github.com/authpilot/authpilot/agent/agenttest"
	"github.com/authpilot/authpilot/payersim"
)

// TestConfigCheckIsRun: the configuration the demo writes passes `config
// check` and `run` alike.
func TestConfigCheckIsRun(t *testing.T) {
	sims := &payersim.Set{PayerURL: "http://127.0.0.1:1", RBMURL: "http://127.0.0.1:2", PASURL: "http://127.0.0.1:3/fhir"}
	path, err := writeConfig(t.TempDir(), sims, "http://127.0.0.1:4/hook")
	if err != nil {
		t.Fatal(err)
	}
	if err := agenttest.CheckLikeRun(t, path, demoSecrets("http://127.0.0.1:5/slack", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")); err != nil {
		t.Errorf("config check refuses the demo's config: %v", err)
	}
}
