package authpilot

import (
	"fmt"
	"sort"
	"strings"
)

// Status is a case's state, normalized across payers. The payer's own
// wording is kept beside it (Case.StatusText).
type Status string

// The statuses of DESIGN.md.
const (
	StatusDraft      Status = "draft"
	StatusReady      Status = "ready"
	StatusSubmitting Status = "submitting"
	// StatusRejected: the payer refused the request itself (a validation
	// banner after the final click, a PAS 4xx with an OperationOutcome).
	// Nothing is pending at the payer; the agent never submits it again by
	// itself. A person corrects or re-queues it (rejected → ready), cancels
	// or withdraws it.
	StatusRejected          Status = "rejected"
	StatusSubmitted         Status = "submitted"
	StatusPended            Status = "pended"
	StatusApproved          Status = "approved"
	StatusPartiallyApproved Status = "partially_approved"
	StatusModified          Status = "modified"
	StatusDenied            Status = "denied"
	StatusNotRequired       Status = "not_required"
	StatusContactPayer      Status = "contact_payer"
	StatusCancelled         Status = "cancelled"
	StatusExpired           Status = "expired"
	StatusWithdrawn         Status = "withdrawn"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{
	StatusDraft, StatusReady, StatusSubmitting, StatusRejected, StatusSubmitted, StatusPended,
	StatusApproved, StatusPartiallyApproved, StatusModified, StatusDenied,
	StatusNotRequired, StatusContactPayer, StatusCancelled, StatusExpired, StatusWithdrawn,
}

// decided are the statuses a payer's determination can put a case in.
var decided = []Status{
	StatusApproved, StatusPartiallyApproved, StatusModified, StatusDenied,
	StatusNotRequired, StatusContactPayer, StatusCancelled,
}

// transitions is the allowed-transition table. A status not listed as a key
// is final.
var transitions = map[Status][]Status{
	StatusDraft: {StatusReady, StatusCancelled, StatusWithdrawn},
	// ready → rejected: the payer refused the request on a page before
	// the final click (a member it does not find, service lines it will
	// not take); submitting → rejected: after it.
	StatusReady:      {StatusDraft, StatusSubmitting, StatusRejected, StatusCancelled, StatusWithdrawn},
	StatusSubmitting: append([]Status{StatusReady, StatusSubmitted, StatusPended, StatusRejected}, decided...),
	// A rejected request is left only by a person: corrected and re-queued,
	// cancelled or withdrawn. No automatic path of the agent leads out.
	StatusRejected:  {StatusReady, StatusCancelled, StatusWithdrawn},
	StatusSubmitted: append([]Status{StatusPended, StatusWithdrawn}, decided...),
	StatusPended:    append([]Status{StatusSubmitted, StatusWithdrawn}, decided...),
	StatusContactPayer: append([]Status{StatusSubmitted, StatusPended, StatusWithdrawn},
		without(decided, StatusContactPayer)...),
	// A decision can still change: a payer modifies or cancels an approval,
	// a peer-to-peer or an appeal overturns a denial, an approval lapses.
	StatusApproved:          {StatusModified, StatusCancelled, StatusExpired, StatusWithdrawn},
	StatusPartiallyApproved: {StatusApproved, StatusModified, StatusCancelled, StatusExpired, StatusWithdrawn},
	StatusModified:          {StatusApproved, StatusCancelled, StatusExpired, StatusWithdrawn},
	StatusDenied:            {StatusApproved, StatusPartiallyApproved, StatusModified, StatusWithdrawn},
	StatusNotRequired:       {StatusWithdrawn},
}

func without(list []Status, s Status) []Status {
	var out []Status
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	for _, x := range Statuses {
		if x == s {
			return true
		}
	}
	return false
}

// Pending reports whether the payer still owes a decision, so the case is
// polled: submitted, pended or contact_payer.
func (s Status) Pending() bool {
	return s == StatusSubmitted || s == StatusPended || s == StatusContactPayer
}

// Decided reports whether s carries a payer determination.
func (s Status) Decided() bool {
	switch s {
	case StatusApproved, StatusPartiallyApproved, StatusModified, StatusDenied, StatusNotRequired:
		return true
	}
	return false
}

// Authorized reports whether s lets the service go ahead (in whole or part).
func (s Status) Authorized() bool {
	return s == StatusApproved || s == StatusPartiallyApproved || s == StatusModified
}

// Final reports whether no transition leaves s.
func (s Status) Final() bool { return len(transitions[s]) == 0 }

// CanTransition reports whether a case may move from one status to another.
// Staying in the same status is not a transition.
func CanTransition(from, to Status) bool {
	for _, x := range transitions[from] {
		if x == to {
			return true
		}
	}
	return false
}

// TransitionError is returned for a transition the table forbids.
type TransitionError struct {
	From, To Status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("illegal status transition %s -> %s", e.From, e.To)
}

// CheckTransition returns a *TransitionError unless from -> to is allowed.
func CheckTransition(from, to Status) error {
	if !CanTransition(from, to) {
		return &TransitionError{From: from, To: to}
	}
	return nil
}

// ParseStatus parses a normalized status name.
func ParseStatus(s string) (Status, error) {
	st := Status(strings.TrimSpace(s))
	if !st.Valid() {
		return "", fmt.Errorf("unknown status %q (one of %s)", s, joinStatuses(Statuses))
	}
	return st, nil
}

func joinStatuses(list []Status) string {
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = string(s)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// reviewActions maps Da Vinci PAS / X12 278 (HCR01, code list 306) review
// action codes to statuses. This is the one place that mapping lives; some
// public code lists get A5/A6 wrong, DESIGN.md's table is authoritative.
var reviewActions = map[string]Status{
	"A1": StatusApproved,
	"A2": StatusPartiallyApproved,
	"A3": StatusDenied,
	"A4": StatusPended,
	"A6": StatusModified,
	"C":  StatusCancelled,
	"CT": StatusContactPayer,
	"NA": StatusNotRequired,
}

// StatusFromReviewAction maps a PAS/X12 review action code to a status.
func StatusFromReviewAction(code string) (Status, error) {
	st, ok := reviewActions[strings.ToUpper(strings.TrimSpace(code))]
	if !ok {
		return "", fmt.Errorf("unknown review action code %q", code)
	}
	return st, nil
}

// Closed reports whether a case in s no longer stands for a request at the
// payer (cancelled, expired, withdrawn): its external reference and its
// request may be used again. Every other status is open.
func (s Status) Closed() bool {
	return s == StatusCancelled || s == StatusExpired || s == StatusWithdrawn
}

// ClosedStatuses lists the statuses for which Closed is true.
var ClosedStatuses = []Status{StatusCancelled, StatusExpired, StatusWithdrawn}
