package agent

import (
	"context"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
)

// fakeConnector is a connector kind for the package's tests that never
// drives a browser: it has caps and its visits are whatever open returns.
type fakeConnector struct {
	caps connectors.Capabilities
	open func() (connectors.Session, error)
}

func (c fakeConnector) Capabilities() connectors.Capabilities { return c.caps }
func (c fakeConnector) Open(context.Context, connectors.Recorder) (connectors.Session, error) {
	return c.open()
}
func (fakeConnector) Close() error { return nil }

type fakeOptions struct{ c fakeConnector }

func (o fakeOptions) New(connectors.Env) (connectors.Connector, error) { return o.c, nil }

// registerFakeKind registers c as the connector kind name (options: {}).
func registerFakeKind(name string, c fakeConnector) {
	connectors.Register(connectors.Kind{Name: name,
		Decode: func(*yaml.Node) (connectors.Options, error) { return fakeOptions{c}, nil }})
}

// fakeSession is a visit that submits nothing (its Submit fails with
// submitErr) and cannot search the payer; its polls see nothing, or, with
// unchanged, every case as it was.
type fakeSession struct {
	submitErr error
	unchanged bool
}

func (s fakeSession) Submit(context.Context, *authpilot.Case, func(context.Context) error) (*authpilot.Submission, error) {
	return nil, s.submitErr
}
func (s fakeSession) Poll(_ context.Context, cases []*authpilot.Case) ([]authpilot.Observation, error) {
	if !s.unchanged {
		return nil, nil
	}
	var obs []authpilot.Observation
	for _, c := range cases {
		obs = append(obs, authpilot.Observation{CaseID: c.ID, Status: c.Status, Unchanged: true})
	}
	return obs, nil
}
func (fakeSession) Find(context.Context, *authpilot.Case, time.Time) (*authpilot.Submission, error) {
	return nil, authpilot.ErrUnsupported
}
func (fakeSession) Close() error { return nil }
