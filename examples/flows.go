package examples

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Simulators names where the example flows' portals run: the Summit payer
// portal (connectors/summit-portal.yaml) and the Clearview RBM portal
// (connectors/clearview-rbm.yaml), each a base URL.
type Simulators struct {
	Payer, RBM string
}

// WriteFlows writes the example flows under dir/connectors (created when
// missing), each with its base_url pointed at its simulator in sims; edit,
// when not nil, then changes a flow's text, given the file's name
// ("summit-portal.yaml" or "clearview-rbm.yaml").
func WriteFlows(dir string, sims Simulators, edit func(name, flow string) string) error {
	if err := os.MkdirAll(filepath.Join(dir, "connectors"), 0o700); err != nil {
		return err
	}
	for name, url := range map[string]string{"summit-portal.yaml": sims.Payer, "clearview-rbm.yaml": sims.RBM} {
		b, err := fs.ReadFile(FS, "connectors/"+name)
		if err != nil {
			return err
		}
		flow := setLine(string(b), "base_url:", "base_url: "+url)
		if edit != nil {
			flow = edit(name, flow)
		}
		if err := os.WriteFile(filepath.Join(dir, "connectors", name), []byte(flow), 0o600); err != nil {
			return fmt.Errorf("write flow %s: %w", name, err)
		}
	}
	return nil
}

// StepTimeout is flow with its limits' step_timeout set to d (a duration
// as the flow file writes it, "8s").
func StepTimeout(flow, d string) string {
	return setLine(flow, "  step_timeout:", "  step_timeout: "+d)
}

// setLine replaces each line of text that starts with prefix by line.
func setLine(text, prefix, line string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[i] = line
		}
	}
	return strings.Join(lines, "\n")
}
