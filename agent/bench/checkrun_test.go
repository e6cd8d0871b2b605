package bench

import (
	"testing"

	"github.com/authpilot/authpilot/agent/agenttest"
)

// TestConfigCheckIsRun: the configurations the bench writes (its agent's
// and the naive bot's) pass `config check` and `run` alike.
func TestConfigCheckIsRun(t *testing.T) {
	for _, naive := range []bool{false, true} {
		path, err := writeConfig(t.TempDir(), []string{"http://127.0.0.1:1", "http://127.0.0.1:2"}, Options{Sessions: 2}, naive)
		if err != nil {
			t.Fatal(err)
		}
		if err := agenttest.CheckLikeRun(t, path, benchSecrets); err != nil {
			t.Errorf("naive %v: config check refuses the bench's config: %v", naive, err)
		}
	}
}
