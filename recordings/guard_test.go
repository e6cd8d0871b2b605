package recordings

import "github.com/authpilot/authpilot/connectors"

// A Recording is what connectors record into. The guard lives in a test:
// recordings itself does not import connectors (internal/importrules).
var (
	_ connectors.Recorder     = (*Recording)(nil)
	_ connectors.TextRedactor = (*Recording)(nil)
)
