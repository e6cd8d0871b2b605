// Package notify delivers alerts from the durable outbox to the practice's
// sinks (Slack channels and signed webhooks): a Router picks each alert's
// sinks, a Dispatcher delivers each (alert, sink) pair, critical and
// warning alerts ahead of info ones while one case's alerts keep their
// order, retrying with backoff for up to a day, and Notifiers (in the
// slack and webhook sub-packages) speak one sink kind each.
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
