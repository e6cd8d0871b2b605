// Package portal is the config-driven browser connector: an admin describes a
// payer or RBM web portal in YAML (login, submit, poll, download and find
// flows made of steps such as goto, fill, click, extract and expect), and the
// package drives it with headless Chromium through go-rod.
//
// The kind registers itself as "portal" with the connectors registry. Its
// options are decoded strictly, node by node, so that every mistake is
// reported with its line and path; see docs/CONNECTORS.md for the schema.
// At run time one Chromium process is shared by every portal connector of the
// process (built from the browser: section of authpilot.yaml, which the
// kind owns, and handed over as connectors.Env.Resource), each visit runs in its own incognito
// context, logs in once, and records every step as evidence.
package portal
