// Package importrules holds the test that keeps authpilot's package graph
// in shape (see rules_test.go): what the daemon, the recordings and the
// config loader may not import. It has no code of its own.
package importrules
