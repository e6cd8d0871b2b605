package fhirpas

import (
	_ "embed"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/internal/didyoumean"
)

// KindName is the connector kind this package registers.
const KindName = "fhirpas"

// Defaults of the options.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultRetries      = 3
	DefaultRetryWaitMax = 30 * time.Second
	maxRetries          = 10
)

// SampleYAML is the options an admin writes for a PAS payer (sample.yaml).
//
//go:embed sample.yaml
var SampleYAML []byte

func init() {
	connectors.Register(connectors.Kind{
		Name:   KindName,
		Decode: Decode,
		Doc:    "Da Vinci PAS 2.x API: Claim/$submit and Claim/$inquire over OAuth2 client credentials",
	})
}

// Options are the settings of one fhirpas connector.
type Options struct {
	// BaseURL is the payer's FHIR base; $submit and $inquire are posted to
	// {BaseURL}/Claim/$submit and {BaseURL}/Claim/$inquire.
	BaseURL string `yaml:"base_url"`
	// TokenURL is the OAuth2 token endpoint (client credentials grant).
	TokenURL string `yaml:"token_url"`
	ClientID string `yaml:"client_id"`
	// ClientSecret names the keyring secret holding the client secret; the
	// value itself never appears in the config.
	ClientSecret string   `yaml:"client_secret"`
	Scopes       []string `yaml:"scopes"`
	// Timeout bounds one HTTP attempt.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how many times a failed call is retried (see README.md
	// for which failures are retried).
	Retries int `yaml:"retries"`
	// RetryWaitMax caps the wait between attempts, Retry-After included.
	RetryWaitMax time.Duration `yaml:"retry_wait_max"`
	Insurer      Insurer       `yaml:"insurer"`
	Requester    Requester     `yaml:"requester"`
}

// Insurer is the payer as the request Bundle names it. Name defaults to the
// case's payer.
type Insurer struct {
	Name string `yaml:"name"`
	// Identifier is the payer's ID (an NPI is labelled as one).
	Identifier string `yaml:"identifier"`
}

// Requester is the requesting organization (the practice). When unset the
// ordering practitioner is the requester.
type Requester struct {
	Name string `yaml:"name"`
	NPI  string `yaml:"npi"`
}

var _ connectors.Options = (*Options)(nil)

// Decode strictly decodes and validates fhirpas options from their YAML
// node. Every problem is reported, each with its line and field path.
func Decode(node *yaml.Node) (connectors.Options, error) {
	o, err := decode(node)
	if err != nil {
		return nil, err
	}
	return o, nil
}

func decode(node *yaml.Node) (*Options, error) {
	o := &Options{Timeout: DefaultTimeout, Retries: DefaultRetries, RetryWaitMax: DefaultRetryWaitMax}
	if node == nil {
		return nil, connectors.FieldErrors{{Msg: "fhirpas options missing"}}
	}
	if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	d := &decoder{}
	d.mapping(node, "", []string{"base_url", "token_url", "client_id", "client_secret", "scopes",
		"timeout", "retries", "retry_wait_max", "insurer", "requester"}, func(key string, v *yaml.Node) {
		switch key {
		case "base_url":
			o.BaseURL = d.str(v, key)
		case "token_url":
			o.TokenURL = d.str(v, key)
		case "client_id":
			o.ClientID = d.str(v, key)
		case "client_secret":
			o.ClientSecret = d.str(v, key)
		case "scopes":
			o.Scopes = d.scopes(v, key)
		case "timeout":
			o.Timeout = d.duration(v, key)
		case "retries":
			o.Retries = d.integer(v, key)
		case "retry_wait_max":
			o.RetryWaitMax = d.duration(v, key)
		case "insurer":
			d.mapping(v, key, []string{"name", "identifier"}, func(k string, w *yaml.Node) {
				switch k {
				case "name":
					o.Insurer.Name = d.str(w, key+"."+k)
				case "identifier":
					o.Insurer.Identifier = d.str(w, key+"."+k)
				}
			})
		case "requester":
			d.mapping(v, key, []string{"name", "npi"}, func(k string, w *yaml.Node) {
				switch k {
				case "name":
					o.Requester.Name = d.str(w, key+"."+k)
				case "npi":
					o.Requester.NPI = d.str(w, key+"."+k)
				}
			})
		}
	})
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	d.validate(o, node)
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return o, nil
}

// validate checks the decoded options; errors point at the field's line,
// or at the options' line when the field is missing.
func (d *decoder) validate(o *Options, node *yaml.Node) {
	at := func(path string) int {
		if l, ok := d.lines[path]; ok {
			return l
		}
		return node.Line
	}
	checkURL := func(path, v string) {
		if v == "" {
			d.add(at(path), path, "required")
			return
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.add(at(path), path, fmt.Sprintf("must be an http or https URL, got %q", v))
			return
		}
		if u.RawQuery != "" || u.Fragment != "" {
			d.add(at(path), path, "must not carry a query or fragment")
		}
	}
	checkURL("base_url", o.BaseURL)
	checkURL("token_url", o.TokenURL)
	if o.ClientID == "" {
		d.add(at("client_id"), "client_id", "required")
	}
	if o.ClientSecret == "" {
		d.add(at("client_secret"), "client_secret", "required: the name of the keyring secret holding the client secret")
	}
	if o.Timeout <= 0 {
		d.add(at("timeout"), "timeout", "must be positive")
	}
	if o.Retries < 0 || o.Retries > maxRetries {
		d.add(at("retries"), "retries", fmt.Sprintf("must be between 0 and %d", maxRetries))
	}
	if o.RetryWaitMax <= 0 {
		d.add(at("retry_wait_max"), "retry_wait_max", "must be positive")
	}
	if o.Requester.NPI != "" && !npiPattern.MatchString(o.Requester.NPI) {
		d.add(at("requester.npi"), "requester.npi", "must be 10 digits")
	}
	for i, s := range o.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\"\\") {
			d.add(at("scopes"), fmt.Sprintf("scopes[%d]", i), "a scope is one token without spaces or quotes")
		}
	}
}

// New builds the connector. It does no I/O: the client secret is read and
// the first token fetched on the first Open.
func (o *Options) New(env connectors.Env) (connectors.Connector, error) {
	return newConnector(*o, env)
}

// decoder collects field errors while walking the options node by hand:
// yaml.v3's Node.Decode is not strict, so every mapping is checked here.
type decoder struct {
	errs  connectors.FieldErrors
	lines map[string]int
}

func (d *decoder) add(line int, path, msg string) {
	d.errs = append(d.errs, &connectors.FieldError{Line: line, Path: path, Msg: msg})
}

func (d *decoder) mapping(n *yaml.Node, path string, known []string, each func(key string, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.add(n.Line, path, "must be a mapping")
		return
	}
	if d.lines == nil {
		d.lines = map[string]int{}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := k.Value
		if path != "" {
			p = path + "." + k.Value
		}
		if prev, dup := seen[k.Value]; dup {
			d.add(k.Line, p, fmt.Sprintf("duplicate field (first set on line %d)", prev))
			continue
		}
		seen[k.Value] = k.Line
		if !slices.Contains(known, k.Value) {
			d.add(k.Line, p, fmt.Sprintf("unknown field %q%s", k.Value, didyoumean.Suggest(k.Value, known)))
			continue
		}
		d.lines[p] = k.Line
		each(k.Value, v)
	}
}

func (d *decoder) str(n *yaml.Node, path string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.add(n.Line, path, "must be a string")
		return ""
	}
	return strings.TrimSpace(n.Value)
}

func (d *decoder) integer(n *yaml.Node, path string) int {
	if n.Kind != yaml.ScalarNode {
		d.add(n.Line, path, "must be an integer")
		return 0
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil {
		d.add(n.Line, path, fmt.Sprintf("must be an integer, got %q", n.Value))
	}
	return v
}

func (d *decoder) duration(n *yaml.Node, path string) time.Duration {
	if n.Kind != yaml.ScalarNode {
		d.add(n.Line, path, "must be a duration such as 30s")
		return 0
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		d.add(n.Line, path, fmt.Sprintf("must be a duration such as 30s or 1m, got %q", n.Value))
	}
	return v
}

// scopes accepts a list or one space-separated string.
func (d *decoder) scopes(n *yaml.Node, path string) []string {
	switch n.Kind {
	case yaml.ScalarNode:
		return strings.Fields(n.Value)
	case yaml.SequenceNode:
		var out []string
		for i, c := range n.Content {
			out = append(out, d.str(c, fmt.Sprintf("%s[%d]", path, i)))
		}
		return out
	}
	d.add(n.Line, path, "must be a list of scopes")
	return nil
}
