// Package connectortest holds test helpers shared by the connector kinds'
// tests: an in-memory connectors.Recorder.
package connectortest

import (
	"strings"
	"sync"
	"time"

	"github.com/authpilot/authpilot/connectors"
)

var _ connectors.Recorder = (*Recorder)(nil)

// Recorder keeps a run's steps and artifacts in memory. Safe for
// concurrent use; set WantAll and Redacting before the run starts.
type Recorder struct {
	// WantAll makes Wants report true for every artifact of every step,
	// not only of failed ones.
	WantAll bool
	// Redacting replaces the values registered with Redact by
	// "<redacted>" in every artifact attached after, the way a real
	// recorder must; without it artifacts are kept as attached.
	Redacting bool

	mu        sync.Mutex
	redacted  []string
	steps     []Step
	artifacts []Artifact
}

// Step is one step the connector logged.
type Step struct {
	Name string
	Err  error
}

// Artifact is one attachment of a step.
type Artifact struct {
	Kind, Name, ContentType string
	Data                    []byte
}

// ID implements connectors.Recorder.
func (r *Recorder) ID() string { return "rec-test" }

// Redact implements connectors.Recorder.
func (r *Recorder) Redact(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.redacted = append(r.redacted, values...)
}

// Step implements connectors.Recorder.
func (r *Recorder) Step(name string, _ time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, Step{name, err})
}

// Attach implements connectors.Recorder.
func (r *Recorder) Attach(kind, name, contentType string, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Redacting {
		s := string(data)
		for _, v := range r.redacted {
			if v != "" {
				s = strings.ReplaceAll(s, v, "<redacted>")
			}
		}
		data = []byte(s)
	}
	r.artifacts = append(r.artifacts, Artifact{kind, name, contentType, data})
}

// Wants implements connectors.Recorder.
func (r *Recorder) Wants(kind string, failed bool) bool { return r.WantAll || failed }

// Redacted returns the values registered for redaction so far.
func (r *Recorder) Redacted() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.redacted...)
}

// StepNames returns the names of the steps logged so far, in order.
func (r *Recorder) StepNames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.steps {
		out = append(out, s.Name)
	}
	return out
}

// Artifacts returns the artifacts of a kind attached so far, in order;
// kind "" returns them all.
func (r *Recorder) Artifacts(kind string) []Artifact {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Artifact
	for _, a := range r.artifacts {
		if kind == "" || a.Kind == kind {
			out = append(out, a)
		}
	}
	return out
}
