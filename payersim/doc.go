// Package payersim serves simulated prior-authorization portals — a payer's
// provider portal ("Summit Health Plan") and an imaging benefit manager's
// portal ("ClearView Imaging Benefits") — for the demo, the browser-flow tests
// and the benchmark. Each request's fate and timing is scripted by a Scenario,
// failures are injected with Faults, and Stats counts what a client did.
//
// The PAS API simulator is the sub-package payersim/pas; Start serves all
// three. The pages, form fields and selectors are documented in README.md.
package payersim
