package email

import (
	"fmt"
	"net/mail"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot/notify"
)

// KindName is the sink type this package registers.
const KindName = "email"

// TLS modes.
const (
	// TLSStartTLS upgrades a plain connection (port 587) with STARTTLS,
	// and fails if the server does not offer it.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, port 465).
	TLSImplicit = "implicit"
	// TLSNone sends in the clear: only for a relay on the same machine.
	TLSNone = "none"
)

var tlsModes = []string{TLSStartTLS, TLSImplicit, TLSNone}

func init() {
	notify.Register(notify.Kind{Name: KindName, Decode: Decode})
}

// Config is an e-mail sink's own keys.
type Config struct {
	// Host is the SMTP server (submission relay).
	Host string `yaml:"host"`
	// Port defaults to 587 for starttls, 465 for implicit, 25 for none.
	Port int `yaml:"port"`
	// TLS is starttls (default), implicit or none.
	TLS string `yaml:"tls"`
	// Username and PasswordSecret (the keyring secret holding the
	// password) authenticate; both or neither.
	Username       string `yaml:"username"`
	PasswordSecret string `yaml:"password_secret"`
	// Password is refused with a pointer to password_secret: a password
	// never sits in the config file.
	Password string `yaml:"password"`
	// From is the sender address; To the recipients.
	From string   `yaml:"from"`
	To   []string `yaml:"to"`
	// Timeout bounds one attempt: connect, TLS, auth and the message
	// (notify.DefaultTimeout when zero).
	Timeout time.Duration `yaml:"timeout"`

	warnings notify.FieldErrors
}

var (
	_ notify.SinkOptions = (*Config)(nil)
	_ notify.Warner      = (*Config)(nil)
)

// Decode strictly decodes and validates an e-mail sink's own keys.
func Decode(common notify.Sink, node *yaml.Node) (notify.SinkOptions, error) {
	c := &Config{}
	f, err := notify.DecodeOptions(node, c, c.check)
	if err != nil {
		return nil, err
	}
	if c.TLS == TLSNone && !notify.IsLoopback(c.Host) {
		c.warnings = append(c.warnings, &notify.FieldError{Line: f.Line("tls"), Path: "tls", Msg: "none: messages cross the network unencrypted"})
	}
	c.warnings = append(c.warnings, notify.RecipientWarnings(common, "by e-mail")...)
	return c, nil
}

func (c *Config) check(f *notify.Fields) {
	if c.Host == "" {
		f.At("host", "required (the SMTP server)")
	}
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
	default:
		f.At("tls", "unknown mode %q (one of %s, %s, %s)", c.TLS, tlsModes[0], tlsModes[1], tlsModes[2])
	}
	if c.Port < 0 || c.Port > 65535 {
		f.At("port", "must be between 1 and 65535")
	}
	switch {
	case c.Username != "" && c.PasswordSecret == "":
		f.At("password_secret", "required with username (the keyring secret holding the SMTP password)")
	case c.Username == "" && c.PasswordSecret != "":
		f.At("username", "required with password_secret")
	}
	f.SecretName("password_secret", c.PasswordSecret, false)
	if c.Password != "" {
		// The value is not echoed.
		f.At("password", "an SMTP password is a secret: store it with `authpilot secrets set` and name it in password_secret")
	}
	if c.PasswordSecret != "" && c.TLS == TLSNone && !notify.IsLoopback(c.Host) {
		f.At("tls", "none would send the password in the clear: use starttls or implicit")
	}
	if c.From == "" {
		f.At("from", "required (the sender address)")
	} else if _, err := mail.ParseAddress(c.From); err != nil {
		f.At("from", "not an e-mail address")
	}
	if len(c.To) == 0 {
		f.At("to", "at least one recipient is required")
	}
	for i, to := range c.To {
		if _, err := mail.ParseAddress(to); err != nil {
			f.At(fmt.Sprintf("to[%d]", i), "not an e-mail address")
		}
	}
	f.NotNegative("timeout", c.Timeout)
}

// Warnings implements notify.Warner.
func (c *Config) Warnings() notify.FieldErrors { return c.warnings }

// New implements notify.SinkOptions.
func (c *Config) New(s notify.Sink, env notify.Env) (notify.Notifier, error) {
	return New(s, *c, env.Secrets, Options{Clock: env.Clock, Location: env.Location, DigestRows: env.DigestRows})
}
