package config

import (
	"errors"
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot/connectors"
	// The real kinds too, so that the bad-file table pins their errors
	// (neither imports config).
	_ "github.com/authpilot/authpilot/connectors/fhirpas"
	_ "github.com/authpilot/authpilot/connectors/portal"
	"github.com/authpilot/authpilot/internal/didyoumean"
)

// Fake connector kinds, registered once for the package's tests beside the
// real ones (portal, fhirpas), which config itself does not import.

// testOptions are the options of "testkind": a base URL and named steps.
type testOptions struct {
	BaseURL string
	Steps   []string
	Line    int // line of the options mapping, to check which node was passed
}

func (*testOptions) New(connectors.Env) (connectors.Connector, error) {
	return nil, errors.New("testkind connectors do not run")
}

var testSteps = []string{"goto", "fill", "click"}

// decodeTestOptions decodes strictly and reports FieldErrors with lines,
// the way a real kind does.
func decodeTestOptions(n *yaml.Node) (connectors.Options, error) {
	var errs connectors.FieldErrors
	if n.Kind != yaml.MappingNode {
		return nil, &connectors.FieldError{Line: n.Line, Msg: "options must be a mapping"}
	}
	o := &testOptions{Line: n.Line}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "base_url":
			o.BaseURL = v.Value
		case "steps":
			for j, s := range v.Content {
				if !slices.Contains(testSteps, s.Value) {
					errs = append(errs, &connectors.FieldError{
						Line: s.Line, Path: fmt.Sprintf("steps[%d]", j),
						Msg: fmt.Sprintf("unknown step %q%s", s.Value, didyoumean.Suggest(s.Value, testSteps)),
					})
				}
				o.Steps = append(o.Steps, s.Value)
			}
		default:
			errs = append(errs, &connectors.FieldError{Line: k.Line, Msg: fmt.Sprintf("unknown key %q", k.Value)})
		}
	}
	if o.BaseURL == "" {
		errs = append(errs, &connectors.FieldError{Path: "base_url", Msg: "required"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return o, nil
}

func init() {
	connectors.Register(connectors.Kind{Name: "testkind", Decode: decodeTestOptions})
	connectors.Register(connectors.Kind{
		Name: "panickind",
		Decode: func(*yaml.Node) (connectors.Options, error) {
			var m map[string]int
			//lint:ignore SA5000 a deliberate runtime panic
			m["boom"]++ // a buggy decoder
			return nil, nil
		},
	})
	connectors.Register(connectors.Kind{
		Name: "plainkind",
		Decode: func(*yaml.Node) (connectors.Options, error) {
			return nil, errors.New("plain failure")
		},
	})
}
