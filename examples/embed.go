// Package examples embeds the example configuration — authpilot.yaml and
// the connector flows for the built-in simulators — so the demo and the
// tests load exactly the files an admin reads.
package examples

import "embed"

// FS holds authpilot.yaml and connectors/*.yaml.
//
//go:embed authpilot.yaml connectors/*.yaml
var FS embed.FS
