package slack

import (
	"github.com/authpilot/authpilot/notify"
)

// KindName is the sink type this package registers.
const KindName = "slack"

// Config is a Slack sink's own keys: url_secret names the keyring secret
// holding the incoming-webhook URL (a url written in the config is
// refused), timeout bounds one attempt.
type Config = notify.ChatConfig

// chat is the Slack sink kind.
var chat = notify.Chat{Service: "Slack", Kind: KindName}

func init() {
	// The notifiers of one Build share one rate limiter.
	notify.RegisterChat(chat, func(s notify.Sink, c Config, env notify.Env) (notify.Notifier, error) {
		lim := env.Shared("slack.limiter", func() any { return NewLimiter(Interval) }).(*Limiter)
		return New(s, c, env.Secrets, Options{ChatOptions: notify.ChatOptionsOf(env), Limiter: lim})
	})
}
