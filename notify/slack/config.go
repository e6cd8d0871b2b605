package slack

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot/notify"
)

// KindName is the sink type this package registers.
const KindName = "slack"

func init() {
	notify.Register(notify.Kind{Name: KindName, Decode: Decode})
}

// Config is a Slack sink's own keys.
type Config struct {
	// URLSecret names the keyring secret holding the incoming-webhook URL,
	// which is itself a credential.
	URLSecret string `yaml:"url_secret"`
	// URL is refused with a pointer to url_secret: a Slack webhook URL
	// written in the config would be a credential in a file.
	URL string `yaml:"url"`
	// Timeout bounds one attempt (notify.DefaultTimeout when zero).
	Timeout time.Duration `yaml:"timeout"`

	warnings notify.FieldErrors
}

var (
	_ notify.SinkOptions = (*Config)(nil)
	_ notify.Warner      = (*Config)(nil)
)

// Decode strictly decodes and validates a Slack sink's own keys.
func Decode(common notify.Sink, node *yaml.Node) (notify.SinkOptions, error) {
	c := &Config{}
	if _, err := notify.DecodeOptions(node, c, c.check); err != nil {
		return nil, err
	}
	c.warnings = notify.RecipientWarnings(common, "to Slack")
	return c, nil
}

func (c *Config) check(f *notify.Fields) {
	f.WebhookURLSecret("Slack", KindName, c.URL, c.URLSecret)
	f.NotNegative("timeout", c.Timeout)
}

// Warnings implements notify.Warner.
func (c *Config) Warnings() notify.FieldErrors { return c.warnings }

// New implements notify.SinkOptions: the sink's notifier, sharing one rate
// limiter with every Slack sink of the same build.
func (c *Config) New(s notify.Sink, env notify.Env) (notify.Notifier, error) {
	lim := env.Shared("slack.limiter", func() any { return NewLimiter(Interval) }).(*Limiter)
	return New(s, *c, env.Secrets, Options{Clock: env.Clock, Client: env.Client, Location: env.Location, Limiter: lim, DigestRows: env.DigestRows})
}
