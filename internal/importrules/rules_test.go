package importrules

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/authpilot/authpilot/"

// TestImportRules checks the import rules with go list -deps, which sees
// every package a package pulls in, directly or not:
//   - agent does not import connectors/portal: a kind builds what its
//     connectors share from its own section of authpilot.yaml
//     (connectors.Section), so the daemon knows no kind;
//   - recordings does not import connectors: connectors record into
//     recordings, never the other way round;
//   - connectors/portal does not import agent: it asks a person through
//     connectors.Env.HandOffs, which the agent's broker implements;
//   - config does not import any notifier (sink) package: each sink
//     registers itself with notify and decodes its own settings.
func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	tests := []struct {
		pkg       string
		forbidden []string // package paths under the module; subpackages too
		skip      string   // why the rule does not hold yet
	}{
		{pkg: "agent", forbidden: []string{"connectors/portal", "connectors/fhirpas"}},
		{pkg: "recordings", forbidden: []string{"connectors"}},
		// a connector reaches the hand-off broker through connectors.Env.
		{pkg: "connectors/portal", forbidden: []string{"agent"}},
		{pkg: "config", forbidden: []string{"notify/slack", "notify/webhook", "notify/email", "notify/teams", "notify/sinks"}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			out, err := exec.Command("go", "list", "-deps", module+tt.pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", tt.pkg, err)
			}
			for _, dep := range strings.Fields(string(out)) {
				rel, ok := strings.CutPrefix(dep, module)
				if !ok {
					continue
				}
				for _, f := range tt.forbidden {
					if rel == f || strings.HasPrefix(rel, f+"/") {
						t.Errorf("%s imports %s (directly or through another package)", tt.pkg, rel)
					}
				}
			}
		})
	}
}
