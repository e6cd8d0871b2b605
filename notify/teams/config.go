package teams

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot/notify"
)

// KindName is the sink type this package registers.
const KindName = "teams"

func init() {
	notify.Register(notify.Kind{Name: KindName, Decode: Decode})
}

// Config is a Teams sink's own keys.
type Config struct {
	// URLSecret names the keyring secret holding the incoming-webhook (or
	// Workflows) URL, which carries its own signature: a credential.
	URLSecret string `yaml:"url_secret"`
	// URL is refused with a pointer to url_secret.
	URL string `yaml:"url"`
	// Timeout bounds one attempt (notify.DefaultTimeout when zero).
	Timeout time.Duration `yaml:"timeout"`

	warnings notify.FieldErrors
}

var (
	_ notify.SinkOptions = (*Config)(nil)
	_ notify.Warner      = (*Config)(nil)
)

// Decode strictly decodes and validates a Teams sink's own keys.
func Decode(common notify.Sink, node *yaml.Node) (notify.SinkOptions, error) {
	c := &Config{}
	if _, err := notify.DecodeOptions(node, c, c.check); err != nil {
		return nil, err
	}
	c.warnings = notify.RecipientWarnings(common, "to Teams")
	return c, nil
}

func (c *Config) check(f *notify.Fields) {
	f.WebhookURLSecret("Teams", KindName, c.URL, c.URLSecret)
	f.NotNegative("timeout", c.Timeout)
}

// Warnings implements notify.Warner.
func (c *Config) Warnings() notify.FieldErrors { return c.warnings }

// New implements notify.SinkOptions.
func (c *Config) New(s notify.Sink, env notify.Env) (notify.Notifier, error) {
	return New(s, *c, env.Secrets, Options{Clock: env.Clock, Client: env.Client, Location: env.Location, DigestRows: env.DigestRows})
}
