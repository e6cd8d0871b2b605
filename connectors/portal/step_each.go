package portal

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/didyoumean"
)

// eachStep repeats steps for each service line, attachment or diagnosis.
type eachStep struct {
	Over  string
	Steps []*Step
}

var eachOver = []string{"service_lines", "attachments", "diagnoses"}

func decodeEach(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &eachStep{}
	if inEach {
		d.errAt(d.node(n, path), path, "each: cannot be nested in another each")
		return a
	}
	d.mapping(n, path, "each: ", []field{
		{"over", true, func(k, v *yaml.Node) {
			a.Over = d.str(v, path, "each: ", "over")
			if a.Over != "" && !slices.Contains(eachOver, a.Over) {
				d.errAt(d.node(v, path), path, "each: over: unknown list %q%s (one of %s)", a.Over, didyoumean.Suggest(a.Over, eachOver), strings.Join(eachOver, ", "))
			}
		}},
		{"steps", true, func(k, v *yaml.Node) { a.Steps = d.steps(v, path+".each.steps", true) }},
	})
	return a
}

func (a *eachStep) run(x *exec) error {
	c := x.r.data.Case
	if c == nil {
		return nil
	}
	var items []any
	switch a.Over {
	case "service_lines":
		for i := range c.ServiceLines {
			items = append(items, &c.ServiceLines[i])
		}
	case "attachments":
		for i := range c.Attachments {
			items = append(items, &c.Attachments[i])
		}
	case "diagnoses":
		for _, d := range c.Diagnoses {
			items = append(items, d)
		}
	}
	parent, parentIter := x.r.data, x.r.iter
	defer func() { x.r.data, x.r.iter = parent, parentIter }()
	for i, item := range items {
		x.r.iter = fmt.Sprintf(" [%s %d]", strings.TrimSuffix(a.Over, "s"), i+1)
		d := *parent
		d.Item, d.Index, d.Number = item, i, i+1
		if l, ok := item.(*authpilot.ServiceLine); ok {
			d.Line = l
		}
		x.r.data = &d
		if err := x.r.runSteps(x.r.flowCtx, a.Steps); err != nil {
			return err
		}
	}
	return nil
}

func (a *eachStep) fetch(x *exec) error { return a.run(x) }
