package examples_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authpilot/authpilot/examples"
)

func TestWriteFlows(t *testing.T) {
	dir := t.TempDir()
	sims := examples.Simulators{Payer: "http://127.0.0.1:1001", RBM: "http://127.0.0.1:1002"}
	var edited []string
	err := examples.WriteFlows(dir, sims, func(name, flow string) string {
		edited = append(edited, name)
		return examples.StepTimeout(flow, "8s")
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(edited) != 2 {
		t.Errorf("edit called for %v, want both flows", edited)
	}
	for name, url := range map[string]string{"summit-portal.yaml": sims.Payer, "clearview-rbm.yaml": sims.RBM} {
		b, err := os.ReadFile(filepath.Join(dir, "connectors", name))
		if err != nil {
			t.Fatal(err)
		}
		flow := string(b)
		for _, want := range []string{"\nbase_url: " + url + "\n", "\n  step_timeout: 8s\n"} {
			if !strings.Contains(flow, want) {
				t.Errorf("%s lacks %q", name, strings.TrimSpace(want))
			}
		}
		for _, gone := range []string{"step_timeout: 20s", "base_url: http://127.0.0.1:870"} {
			if strings.Contains(flow, gone) {
				t.Errorf("%s still has %q", name, gone)
			}
		}
	}
}

func TestWriteFlowsIntoAFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "connectors"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := examples.WriteFlows(dir, examples.Simulators{}, nil); err == nil {
		t.Fatal("WriteFlows over a file named connectors: no error")
	}
}
