// Package email delivers alerts as plain-text e-mail through an SMTP
// server, with STARTTLS or implicit TLS and authentication
// (github.com/wneessen/go-mail). A message carries what a Slack message
// carries: no PHI unless the sink opts in with include_phi. The password
// lives in the keyring (password_secret). Temporary SMTP failures (4xx)
// and network errors are retried by the dispatcher; a permanent refusal
// (5xx) is not.
package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/schedules"
)

// Options are the Notifier's dependencies; zero fields take defaults.
type Options struct {
	Clock schedules.Clock
	// TLSConfig verifies the server (default: the system roots, the
	// server name being Host). Tests trust their own certificate here.
	TLSConfig *tls.Config
	// Location is the practice's time zone for dates (default UTC).
	Location *time.Location
	// DigestRows caps a digest's rows (0: notify.Summarize's default).
	DigestRows int
}

// Notifier sends alerts to the recipients of one e-mail sink.
type Notifier struct {
	notify.Sender
	cfg       Config
	password  authpilot.Secret
	tlsConfig *tls.Config
}

var _ notify.Recipient = (*Notifier)(nil)

// New returns the notifier of an e-mail sink, reading its password (if
// any) from secrets. It does not connect.
func New(s notify.Sink, cfg Config, secrets authpilot.Secrets, o Options) (*Notifier, error) {
	if err := notify.CheckSink(s, KindName, cfg.check); err != nil {
		return nil, err
	}
	n := &Notifier{Sender: notify.NewSender(s, cfg.Timeout, o.Clock, o.Location, o.DigestRows), cfg: cfg, tlsConfig: o.TLSConfig}
	if cfg.PasswordSecret != "" {
		v, err := notify.Secret(secrets, KindName, s.Name, "password_secret", cfg.PasswordSecret)
		if err != nil {
			return nil, err
		}
		n.password = authpilot.Secret(v)
	}
	if n.cfg.TLS == "" {
		n.cfg.TLS = TLSStartTLS
	}
	if n.cfg.Port == 0 {
		n.cfg.Port = map[string]int{TLSStartTLS: 587, TLSImplicit: 465, TLSNone: 25}[n.cfg.TLS]
	}
	if n.tlsConfig == nil {
		n.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	n.tlsConfig = n.tlsConfig.Clone()
	if n.tlsConfig.ServerName == "" {
		n.tlsConfig.ServerName = n.cfg.Host
	}
	return n, nil
}

// Notify implements notify.Notifier: one message to every recipient.
func (n *Notifier) Notify(ctx context.Context, d notify.Delivery) (bool, time.Duration, error) {
	now := n.Clock.Now()
	c := n.Case(d)
	msg, err := n.message(d, c, now)
	if err != nil {
		return false, 0, err
	}
	opts := []mail.Option{
		mail.WithPort(n.cfg.Port), mail.WithTimeout(n.Timeout), mail.WithTLSConfig(n.tlsConfig),
	}
	switch n.cfg.TLS {
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if n.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(n.cfg.Username), mail.WithPassword(n.password.Reveal()))
	}
	client, err := mail.NewClient(n.cfg.Host, opts...)
	if err != nil {
		return false, 0, fmt.Errorf("smtp client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.Timeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		retry, err := classify(err)
		return retry, 0, err
	}
	return false, 0, nil
}

// message builds the e-mail of a delivery. Its Message-ID is the alert's
// and the sink's, the same on every retry, so a mail system can drop a
// duplicate.
func (n *Notifier) message(d notify.Delivery, c *authpilot.Case, now time.Time) (*mail.Msg, error) {
	s := notify.Summarize(d.Alert, c, now, n.Location, n.DigestRows)
	m := mail.NewMsg()
	if err := m.From(n.cfg.From); err != nil {
		return nil, fmt.Errorf("email sink %q: from: %w", n.Name, err)
	}
	if err := m.To(n.cfg.To...); err != nil {
		return nil, fmt.Errorf("email sink %q: to: %w", n.Name, err)
	}
	m.Subject(Subject(s))
	m.SetMessageIDWithValue(d.Alert.ID + "." + n.Name + "@authpilot")
	m.SetDateWithValue(now)
	m.SetBodyString(mail.TypeTextPlain, Body(s))
	return m, nil
}

// maxSubject keeps a subject on one screen line.
const maxSubject = 150

// Subject reads "[authpilot warning] Peer-to-peer window closes tomorrow".
func Subject(s notify.Summary) string {
	subj := "[authpilot " + s.Severity + "] " + oneLine(s.Title)
	if r := []rune(subj); len(r) > maxSubject {
		subj = string(r[:maxSubject-1]) + "…"
	}
	return subj
}

// Body is the plain-text message: title, facts, digest rows, what to do,
// the patient (PHI sinks only), and the alert's references.
func Body(s notify.Summary) string {
	var b strings.Builder
	b.WriteString(oneLine(s.Title) + "\n\n")
	facts := func(fs []notify.Fact) {
		for _, f := range fs {
			fmt.Fprintf(&b, "%-10s %s\n", f.Label+":", oneLine(f.Value))
		}
	}
	facts(s.Facts)
	if len(s.Rows) > 0 {
		b.WriteString("\n")
		for _, r := range s.Rows {
			b.WriteString("- " + oneLine(r) + "\n")
		}
	}
	if s.Action != "" {
		b.WriteString("\nWhat to do: " + oneLine(s.Action) + "\n")
	}
	if len(s.Patient) > 0 {
		b.WriteString("\n")
		facts(s.Patient)
	}
	b.WriteString("\n-- \n" + s.Footer + "\n")
	return b.String()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// classify says whether a failed send may succeed later: a temporary SMTP
// answer (4xx: greylisting, mailbox busy, too many connections) or a
// network or TLS failure is retried; a permanent one (5xx: authentication
// refused, recipient unknown, message rejected) is not.
func classify(err error) (bool, error) {
	var se *mail.SendError
	if errors.As(err, &se) {
		return se.IsTemp(), fmt.Errorf("smtp: %w", err)
	}
	var pe *textproto.Error
	if errors.As(err, &pe) {
		return pe.Code < 500, fmt.Errorf("smtp: %w", err)
	}
	return true, fmt.Errorf("smtp: %w", err)
}
