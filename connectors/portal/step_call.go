package portal

import "gopkg.in/yaml.v3"

// callStep runs a named flow of the flows section.
type callStep struct {
	Flow string
	flow *Flow
}

func decodeCall(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &callStep{}
	a.Flow = d.str(n, path, "call: ", "flow")
	if a.Flow != "" {
		d.calls = append(d.calls, &callRef{name: a.Flow, path: path, line: d.node(n, path).Line})
	}
	return a
}

func (a *callStep) run(x *exec) error {
	return x.r.runSteps(x.r.flowCtx, a.flow.Steps)
}

func (a *callStep) fetch(x *exec) error { return a.run(x) }
