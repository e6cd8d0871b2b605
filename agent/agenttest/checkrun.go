// Package agenttest holds helpers for tests that build whole agents: it
// writes their config (the example flows pointed at the simulators, a PAS
// connector, a webhook), makes and runs the agent until the test ends, and
// checks that config check and run agree. It registers the connector kinds
// and sinks its configs use (portal, fhirpas, the built-in sinks).
package agenttest

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/config/secrets"
)

// keyringPassEnv names the variable holding the test keyring's passphrase.
const keyringPassEnv = "AUTHPILOT_CHECKRUN_KEYRING_PASS"

// CheckLikeRun loads the config at path as `authpilot config check` does
// and, when that passes, builds the agent as `authpilot run` does (which
// registers every scheduled job), in a temporary data dir with a file
// keyring holding secrets. It fails t when one accepts what the other
// refuses, and returns the check's error (nil: both accepted).
func CheckLikeRun(t testing.TB, path string, secretValues map[string]string) error {
	t.Helper()
	cfg, checkErr := config.Load(path)
	if checkErr != nil {
		// run starts with the same Load: it refuses too.
		return checkErr
	}
	dir := t.TempDir()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Keyring = config.Keyring{Backend: "file", FileDir: filepath.Join(dir, "keyring"), PassphraseEnv: keyringPassEnv}
	t.Setenv(keyringPassEnv, "check-like-run-passphrase")
	kr, err := secrets.Open(cfg.Keyring.Options())
	if err != nil {
		t.Fatalf("open test keyring: %v", err)
	}
	for name, v := range secretValues {
		if err := kr.Set(name, v); err != nil {
			t.Fatalf("keyring: set %s: %v", name, err)
		}
	}
	a, runErr := agent.New(cfg, agent.Options{Logger: slog.New(slog.DiscardHandler), NoAPI: true})
	if runErr != nil {
		t.Errorf("%s: config check accepts it, run refuses it: %v", path, runErr)
		return nil
	}
	if err := a.Close(); err != nil {
		t.Errorf("close agent: %v", err)
	}
	return nil
}
