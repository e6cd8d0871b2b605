package webhook

import (
	"net/url"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot/notify"
)

// KindName is the sink type this package registers.
const KindName = "webhook"

func init() {
	notify.Register(notify.Kind{Name: KindName, Decode: Decode})
}

// Config is a webhook sink's own keys. Exactly one of URL and URLSecret is
// set; Secret is required.
type Config struct {
	// URL is the endpoint, for one whose address carries no credential.
	URL string `yaml:"url"`
	// URLSecret names the keyring secret holding the endpoint instead.
	URLSecret string `yaml:"url_secret"`
	// Secret names the keyring secret holding the signing secret
	// ("whsec_" + base64 key).
	Secret string `yaml:"secret"`
	// Timeout bounds one attempt (notify.DefaultTimeout when zero).
	Timeout time.Duration `yaml:"timeout"`

	warnings notify.FieldErrors
}

var (
	_ notify.SinkOptions = (*Config)(nil)
	_ notify.Warner      = (*Config)(nil)
)

// Decode strictly decodes and validates a webhook sink's own keys.
func Decode(_ notify.Sink, node *yaml.Node) (notify.SinkOptions, error) {
	c := &Config{}
	f, err := notify.DecodeOptions(node, c, c.check)
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(c.URL); c.URL != "" && err == nil && u.Scheme == "http" && !notify.IsLoopback(u.Hostname()) {
		c.warnings = append(c.warnings, &notify.FieldError{Line: f.Line("url"), Path: "url", Msg: "plain http: deliveries are not encrypted"})
	}
	return c, nil
}

func (c *Config) check(f *notify.Fields) {
	switch {
	case c.URL != "" && c.URLSecret != "":
		f.At("url", "give url or url_secret, not both")
	case c.URL == "" && c.URLSecret == "":
		f.At("", "one of url or url_secret is required")
	case c.URL != "":
		if err := checkURL(c.URL); err != nil {
			// The address is not echoed: it may carry a token.
			f.At("url", "not an absolute http(s) URL")
		}
	}
	f.SecretName("url_secret", c.URLSecret, false)
	if c.Secret == "" {
		f.At("", "secret is required for a webhook sink (the keyring secret that signs deliveries; set it with `authpilot secrets set`)")
	}
	f.SecretName("secret", c.Secret, false)
	f.NotNegative("timeout", c.Timeout)
}

// Warnings implements notify.Warner.
func (c *Config) Warnings() notify.FieldErrors { return c.warnings }

// New implements notify.SinkOptions.
func (c *Config) New(s notify.Sink, env notify.Env) (notify.Notifier, error) {
	return New(s, *c, env.Secrets, Options{Clock: env.Clock, Client: env.Client})
}
