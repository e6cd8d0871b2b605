package teams

import (
	"github.com/authpilot/authpilot/notify"
)

// KindName is the sink type this package registers.
const KindName = "teams"

// Config is a Teams sink's own keys: url_secret names the keyring secret
// holding the incoming-webhook (or Workflows) URL, which carries its own
// signature (a url written in the config is refused); timeout bounds one
// attempt.
type Config = notify.ChatConfig

// Options are the Notifier's dependencies; zero fields take defaults.
type Options = notify.ChatOptions

// chat is the Teams sink kind.
var chat = notify.Chat{Service: "Teams", Kind: KindName}

func init() {
	notify.RegisterChat(chat, func(s notify.Sink, c Config, env notify.Env) (notify.Notifier, error) {
		return New(s, c, env.Secrets, notify.ChatOptionsOf(env))
	})
}
