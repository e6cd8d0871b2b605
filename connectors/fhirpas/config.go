package fhirpas

import (
	_ "embed"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/internal/yamlx"
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
	ClientSecret string `yaml:"client_secret"`
	Scopes       Scopes `yaml:"scopes"`
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
var Decode = connectors.OptionsDecoder(decode)

func decode(node *yaml.Node) (*Options, error) {
	o := &Options{Timeout: DefaultTimeout, Retries: DefaultRetries, RetryWaitMax: DefaultRetryWaitMax}
	if node == nil {
		return nil, connectors.FieldErrors{{Msg: "fhirpas options missing"}}
	}
	d := &decoder{}
	d.Decoder = yamlx.New(d.add)
	d.DecodeInto(node, o)
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
		if l := d.Line(path); l > 0 {
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

// decoder is the shared strict decoder (internal/yamlx) collecting
// connectors.FieldErrors.
type decoder struct {
	*yamlx.Decoder
	errs connectors.FieldErrors
}

func (d *decoder) add(line int, path, msg string) {
	d.errs = append(d.errs, &connectors.FieldError{Line: line, Path: path, Msg: msg})
}

// Scopes are OAuth2 scopes, written as a list or as one space-separated
// string.
type Scopes []string

// DecodeYAML accepts both spellings.
func (s *Scopes) DecodeYAML(d *yamlx.Decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode {
		*s = strings.Fields(n.Value)
		return
	}
	var list []string
	d.Decode(n, reflect.ValueOf(&list).Elem(), path)
	*s = list
}
