package authpilot

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Error classes of a connector's failures. A connector wraps its failures
// in an *Error carrying one of these, so the agent decides with errors.Is:
// retry later, alert staff, or record a case error.
var (
	// ErrAuth: the payer refused the credentials (wrong or expired password).
	ErrAuth = errors.New("authentication failed")
	// ErrNeedsHuman: an MFA prompt the agent cannot answer, a CAPTCHA, an
	// unknown interstitial.
	ErrNeedsHuman = errors.New("needs a human")
	// ErrPortalChanged: a flow step no longer matches the page.
	ErrPortalChanged = errors.New("portal changed")
	// ErrRetryable: a timeout, a 5xx, a maintenance page, an expired session
	// that could not be renewed.
	ErrRetryable = errors.New("temporary failure")
	// ErrRejected: the payer refused this request (a 4xx with an
	// OperationOutcome, a validation banner). Retrying will not help: the
	// agent sets the case to rejected and never submits it again by itself.
	ErrRejected = errors.New("rejected by payer")
	// ErrUnmappedStatus is the cause (not a class) of a portal_changed
	// error about status wording the connector cannot map (a portal's
	// status_map has no entry for it): the wording is the observation's
	// StatusText, never the error's message.
	ErrUnmappedStatus = errors.New("the status text matches no status_map entry (add it to status_map)")
	// ErrRequestNotFound: a connector's Find found no request at the payer.
	// (ErrNotFound is the store's: no such case or record here.)
	ErrRequestNotFound = errors.New("no matching request")
	// ErrUnsupported: the connector cannot do this (see its capabilities).
	ErrUnsupported = errors.New("not supported by this connector")
)

// Error is a classified connector failure. Its message names the step and
// carries no PHI or secret.
type Error struct {
	Class error  // one of the Err* classes
	Step  string // flow/step, e.g. "poll.steps[2] wait_for"
	Msg   string
	// Screenshot of the page when it failed, if there was one (PNG).
	Screenshot []byte
	// PayerText is the payer's own words about the failure: the visible
	// text of the element a fail alternative matched (a rejection banner),
	// or an OperationOutcome's issue text. It may hold PHI (a payer can
	// quote the member), so it is not part of Error(): it goes only to the
	// case's event and the alert's Reason, never to a log.
	PayerText string
	// RetryAfter is how long the payer asked us to stay away (the
	// Retry-After of a maintenance page or a 503/429), if it said; the
	// agent logs in again no sooner.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	s := e.Class.Error()
	if e.Step != "" {
		s = e.Step + ": " + s
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is matches the error's class.
func (e *Error) Is(target error) bool { return target == e.Class }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// RetryAfterOf returns the longest RetryAfter among err's connector errors
// (0 if none said).
func RetryAfterOf(err error) time.Duration {
	var d time.Duration
	walkErrors(err, func(e error) {
		if ce, ok := e.(*Error); ok && ce.RetryAfter > d {
			d = ce.RetryAfter
		}
	})
	return d
}

// walkErrors calls fn on err and every error it wraps (joined errors too).
func walkErrors(err error, fn func(error)) {
	if err == nil {
		return
	}
	fn(err)
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walkErrors(e, fn)
		}
	case interface{ Unwrap() error }:
		walkErrors(u.Unwrap(), fn)
	}
}

// ErrorClass names the class of a connector error for events, metrics and
// recordings' manifests: auth, needs_human, portal_changed, rejected,
// not_found, unsupported, retryable, timeout, canceled, or error for
// anything else ("" for nil). An error can carry several classes (a run's
// errors are joined; an *Error can wrap another); the first in that order
// names it. Those that need a person come first, in the order the agent
// acts on them: auth and needs_human pause the connector's logins before a
// portal_changed alert is considered. The payer's final answers about one
// request come next, and retryable only when nothing else applies: it
// says trying again may help.
func ErrorClass(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range errorClasses {
		if errors.Is(err, c.class) {
			return c.name
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "error"
}

// errorClasses are the classes a connector error can carry, by the names
// ErrorClass gives them, in the order it checks them.
var errorClasses = []struct {
	name  string
	class error
}{
	{"auth", ErrAuth},
	{"needs_human", ErrNeedsHuman},
	{"portal_changed", ErrPortalChanged},
	{"rejected", ErrRejected},
	{"not_found", ErrRequestNotFound},
	{"unsupported", ErrUnsupported},
	{"retryable", ErrRetryable},
}

// ErrorClassNamed returns the error class ErrorClass names name ("auth",
// "rejected", …), for a flow that declares a failure by its class.
func ErrorClassNamed(name string) (error, bool) {
	for _, c := range errorClasses {
		if c.name == name {
			return c.class, true
		}
	}
	return nil, false
}

// ErrorClassNames are the names of the error classes, sorted.
func ErrorClassNames() []string {
	out := make([]string, len(errorClasses))
	for i, c := range errorClasses {
		out[i] = c.name
	}
	slices.Sort(out)
	return out
}

// ErrorText is an error's message, bounded to 500 bytes, for a case's
// last error, an event or an alert's reason. Connector errors carry no PHI
// by contract.
func ErrorText(err error) string {
	s := err.Error()
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}
