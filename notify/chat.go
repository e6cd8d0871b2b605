package notify

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/schedules"
)

// What the sink kinds' notifiers hold the same way (Sender), and what the
// chat kinds (Slack, Teams) share besides: an incoming webhook whose URL is
// itself a credential, kept in the keyring (ChatConfig, Chat).

// Sender is what every sink kind's Notifier holds: the sink's name and
// audience, the attempt timeout, the clock, and the practice's time zone
// and digest row cap for what it writes. A kind's Notifier embeds it.
type Sender struct {
	Audience
	Name    string
	Timeout time.Duration
	Clock   schedules.Clock
	// Location is the practice's time zone for dates (UTC by default).
	Location *time.Location
	// DigestRows caps a digest's rows (0: the kind's default).
	DigestRows int
}

// NewSender returns the Sender of sink s: timeout is its configured attempt
// timeout (DefaultTimeout when not positive), a nil clock is the real one
// and a nil location UTC.
func NewSender(s Sink, timeout time.Duration, clock schedules.Clock, loc *time.Location, digestRows int) Sender {
	if clock == nil {
		clock = schedules.RealClock{}
	}
	if loc == nil {
		loc = time.UTC
	}
	return Sender{Audience: AudienceOf(s), Name: s.Name, Timeout: Timeout(timeout), Clock: clock, Location: loc, DigestRows: digestRows}
}

// ChatConfig is the own keys of a chat sink (Slack, Teams).
type ChatConfig struct {
	// URLSecret names the keyring secret holding the incoming-webhook URL,
	// which is itself a credential.
	URLSecret string `yaml:"url_secret"`
	// URL is refused with a pointer to url_secret: a webhook URL written
	// in the config would be a credential in a file.
	URL string `yaml:"url"`
	// Timeout bounds one attempt (DefaultTimeout when zero).
	Timeout time.Duration `yaml:"timeout"`
}

// ChatOptions are a chat notifier's dependencies; zero fields take
// defaults.
type ChatOptions struct {
	Clock schedules.Clock
	// Client sends the requests; redirects are not followed.
	Client *http.Client
	// Location is the practice's time zone (default UTC).
	Location *time.Location
	// DigestRows caps a digest's rows (0: the kind's default).
	DigestRows int
}

// Chat is one chat service's sink kind, registered with RegisterChat.
type Chat struct {
	// Service names it in messages ("Slack"); Kind is its sink type
	// ("slack").
	Service, Kind string
}

// ChatNew builds a chat sink's notifier in Build, reading its secrets.
type ChatNew func(s Sink, c ChatConfig, env Env) (Notifier, error)

var chatNews sync.Map // sink type → ChatNew

// RegisterChat registers a chat sink kind (as Register does) whose sinks
// decode to a *ChatSink and are built by build.
func RegisterChat(ch Chat, build ChatNew) {
	chatNews.Store(ch.Kind, build)
	Register(Kind{Name: ch.Kind, Decode: ch.decode})
}

// ChatSink is a chat sink's decoded, validated options.
type ChatSink struct {
	// Kind is the sink type, for New.
	Kind string
	ChatConfig

	warnings FieldErrors
}

var (
	_ SinkOptions = (*ChatSink)(nil)
	_ Warner      = (*ChatSink)(nil)
)

// decode strictly decodes and validates a chat sink's own keys, with the
// warning of a sink that sends patient details to the service.
func (ch Chat) decode(common Sink, node *yaml.Node) (SinkOptions, error) {
	c := &ChatSink{Kind: ch.Kind}
	if _, err := DecodeOptions(node, &c.ChatConfig, func(f *Fields) { ch.check(f, c.ChatConfig) }); err != nil {
		return nil, err
	}
	c.warnings = RecipientWarnings(common, "to "+ch.Service)
	return c, nil
}

// check applies the rules of a chat sink's keys.
func (ch Chat) check(f *Fields, c ChatConfig) {
	f.WebhookURLSecret(ch.Service, ch.Kind, c.URL, c.URLSecret)
	f.NotNegative("timeout", c.Timeout)
}

// Warnings implements Warner.
func (c *ChatSink) Warnings() FieldErrors { return c.warnings }

// New implements SinkOptions through the kind's Chat.New.
func (c *ChatSink) New(s Sink, env Env) (Notifier, error) {
	build, ok := chatNews.Load(c.Kind)
	if !ok {
		return nil, fmt.Errorf("sink %q: %s is not a registered chat sink type", s.Name, c.Kind)
	}
	return build.(ChatNew)(s, c.ChatConfig, env)
}

// ChatOptionsOf returns the dependencies of a chat notifier built by Build.
func ChatOptionsOf(env Env) ChatOptions {
	return ChatOptions{Clock: env.Clock, Client: env.Client, Location: env.Location, DigestRows: env.DigestRows}
}

// ChatSender is what a chat kind's Notifier holds: its Sender, the
// webhook URL and the HTTP client.
type ChatSender struct {
	Sender
	URL    authpilot.Secret // the webhook URL is a credential
	Client *http.Client
}

// Sender checks a chat sink built in code or decoded and returns its
// ChatSender, reading the webhook URL from secrets. Errors name the sink
// and key, never the URL.
func (ch Chat) Sender(s Sink, c ChatConfig, secrets authpilot.Secrets, o ChatOptions) (ChatSender, error) {
	if err := CheckSink(s, ch.Kind, func(f *Fields) { ch.check(f, c) }); err != nil {
		return ChatSender{}, err
	}
	u, err := SecretURL(secrets, ch.Kind, s.Name, "url_secret", c.URLSecret)
	if err != nil {
		return ChatSender{}, err
	}
	return ChatSender{Sender: NewSender(s, c.Timeout, o.Clock, o.Location, o.DigestRows), URL: u, Client: HTTPClient(o.Client)}, nil
}

// Post is the JSON POST of one message to the webhook, named kind in
// errors ("post to slack: http 500 …").
func (s ChatSender) Post(kind string, detail func(string) string) Post {
	return Post{Client: s.Client, URL: s.URL, Timeout: s.Timeout, Name: kind, Op: "post to " + kind, Detail: detail}
}
