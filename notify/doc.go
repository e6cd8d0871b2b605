// Package notify delivers alerts from the durable outbox to the practice's
// sinks (Slack channels and signed webhooks): a Router picks each alert's
// sinks, a Dispatcher delivers each (alert, sink) pair in the order alerts
// were raised, retrying with backoff for up to a day, and Notifiers (in the
// slack and webhook sub-packages) speak one sink kind each.
//
// Dedup, retry, backoff and sink disabling live here, in the pipeline;
// a Notifier makes one attempt and says whether trying again can help.
package notify
