// Package notify delivers alerts from the durable outbox to the practice's
// sinks (Slack and Teams channels, e-mail, signed webhooks): a Router
// picks each alert's sinks, a Dispatcher delivers each (alert, sink) pair,
// critical and warning alerts ahead of info ones while one case's alerts
// keep their order, retrying with backoff for up to a day, and Notifiers
// speak one sink kind each.
//
// Sink kinds are a registry, as connector kinds are: each kind is a
// package (notify/slack, notify/teams, notify/email, notify/webhook) that
// calls Register in its init with a Decode that strictly decodes and
// validates the sink's own keys (every key but CommonKeys: name, type,
// include_phi, include_order_ref) into its settings, whose New builds the
// Notifier. The config loader decodes each sink through its kind; the
// agent builds the notifiers with Build. Package notify/sinks links in
// every kind authpilot ships: adding one is a package and one import line
// there. What kinds do alike is here once (kind.go): DecodeOptions and
// CheckSink run a kind's checks on decoded or code-built options,
// RecipientWarnings warns of a sink that gets PHI or order references,
// Secret and SecretURL read a secret by its keyring name without echoing
// it, HTTPClient never follows redirects,
// Audience (embedded in each Notifier) says whether the sink gets the
// case's PHI and order reference, Sender (embedded in each Notifier) holds
// the sink's name, audience, timeout, clock and time zone, and Post sends
// one JSON POST and classifies the answer. The chat kinds (Slack, Teams)
// are one chat sink kind each (chat.go: RegisterChat, ChatConfig,
// ChatSender): the same keys, checks and webhook URL from the keyring,
// each with its own message.
//
// Retry, backoff, sink disabling and the sink_failing and resolved alerts
// live here, in the pipeline; a Notifier makes one attempt and says
// whether trying again can help.
//
// PHI is kept out here too, in one place for every sink kind: before each
// attempt to a sink without include_phi, the Dispatcher drops the alert's
// order reference (unless the sink has include_order_ref) and replaces
// every PHI value its PHIRedactor knows (every case's patient names, DOB,
// member ID and order reference) in every text field of the alert, present
// or future (RedactAlert). When the redactor cannot be brought up to date,
// the attempt fails and is retried: nothing unchecked is sent.
package notify
