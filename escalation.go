package authpilot

import (
	"fmt"
	"time"
)

// The escalation path of a case (DESIGN.md, "A case's life"): records kept
// on the case, each with its own timeline. They are written by staff
// actions (agent.Actions) and by what the payer shows; deadlines derive
// from them (schedules.Rules.Compute).

// Via is how something was sent to the payer: through the connector
// (portal, api) or recorded as sent outside authpilot (fax, phone, mail).
type Via string

// Ways to send.
const (
	ViaPortal Via = "portal"
	ViaAPI    Via = "api"
	ViaFax    Via = "fax"
	ViaPhone  Via = "phone"
	ViaMail   Via = "mail"
)

// Vias lists the valid ways to send.
var Vias = []Via{ViaPortal, ViaAPI, ViaFax, ViaPhone, ViaMail}

// Connector reports whether v goes through the case's connector.
func (v Via) Connector() bool { return v == ViaPortal || v == ViaAPI }

// SendState is where a response or withdrawal sent through the connector
// stands; one recorded as sent outside authpilot is sent at once.
type SendState string

// Send states.
const (
	SendQueued  SendState = "queued"
	SendSending SendState = "sending"
	SendSent    SendState = "sent"
	SendFailed  SendState = "failed"
)

// InfoRequest is a payer's request for more information (a pended case)
// and the practice's response to it.
type InfoRequest struct {
	// Asked is what the payer asked for, in its own words.
	Asked       string    `json:"asked,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
	// ResponseDue is the payer's due date for the response, if it set one.
	ResponseDue Date          `json:"response_due,omitzero"`
	Response    *InfoResponse `json:"response,omitempty"`
	// ClosedAt ends the request: the response was sent, or the payer moved
	// the case on without one. An ERISA decision clock is paused from
	// RequestedAt to ClosedAt (29 CFR 2560.503-1(f)(4)).
	ClosedAt *time.Time `json:"closed_at,omitempty"`
}

// InfoResponse is the practice's answer to an information request.
type InfoResponse struct {
	Via Via `json:"via"`
	// SentAt is when it reached the payer (or was faxed, phoned, mailed).
	SentAt *time.Time `json:"sent_at,omitempty"`
	// Documents are the sha256 digests of the documents sent.
	Documents []string  `json:"documents,omitempty"`
	Note      string    `json:"note,omitempty"`
	State     SendState `json:"state"`
	// Error is why sending through the connector failed (no PHI).
	Error string `json:"error,omitempty"`
}

// Outcome is how a peer-to-peer or an appeal ended.
type Outcome string

// Outcomes. NotHeld is a peer-to-peer's only.
const (
	OutcomeOverturned Outcome = "overturned"
	OutcomeUpheld     Outcome = "upheld"
	OutcomeModified   Outcome = "modified"
	OutcomeNotHeld    Outcome = "not_held"
)

// PeerToPeerOutcomes and AppealOutcomes list the valid outcomes.
var (
	PeerToPeerOutcomes = []Outcome{OutcomeOverturned, OutcomeUpheld, OutcomeModified, OutcomeNotHeld}
	AppealOutcomes     = []Outcome{OutcomeOverturned, OutcomeUpheld, OutcomeModified}
)

// PeerToPeer is a peer-to-peer review with the payer's medical director
// after a denial, partial approval or modification.
type PeerToPeer struct {
	// WindowCloses is the end of the payer's peer-to-peer window when it
	// was scheduled (the peer_to_peer deadline then).
	WindowCloses *time.Time `json:"window_closes,omitempty"`
	ScheduledAt  *time.Time `json:"scheduled_at,omitempty"`
	WithWhom     string     `json:"with_whom,omitempty"`
	Phone        string     `json:"phone,omitempty"`
	Outcome      Outcome    `json:"outcome,omitempty"`
	OutcomeAt    *time.Time `json:"outcome_at,omitempty"`
	Note         string     `json:"note,omitempty"`
}

// AppealLevel is the level of an appeal.
type AppealLevel string

// Appeal levels: the plan's first-level review (MA reconsideration), an
// internal appeal (ERISA, ACA), an external review (the IRE for MA, ACA
// external review).
const (
	AppealReconsideration AppealLevel = "reconsideration"
	AppealInternal        AppealLevel = "internal_appeal"
	AppealExternal        AppealLevel = "external_review"
)

// AppealLevels lists the valid levels.
var AppealLevels = []AppealLevel{AppealReconsideration, AppealInternal, AppealExternal}

// Appeal is an appeal of the payer's decision.
type Appeal struct {
	Level     AppealLevel `json:"level"`
	FiledAt   time.Time   `json:"filed_at"`
	Method    Via         `json:"method"`
	Expedited bool        `json:"expedited,omitempty"`
	// DecisionDue is when the appeal must be decided (AppealDecisionDue,
	// or the payer's own date); DueRule says where it comes from.
	DecisionDue time.Time  `json:"decision_due"`
	DueRule     string     `json:"due_rule,omitempty"`
	Outcome     Outcome    `json:"outcome,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
	Note        string     `json:"note,omitempty"`
}

// Extension is a payer's extension of its decision timeframe.
type Extension struct {
	At          time.Time `json:"at"`
	DecisionDue time.Time `json:"decision_due"`
	Reason      string    `json:"reason"`
}

// Withdrawal is the practice's withdrawal of the request.
type Withdrawal struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
	Via    Via       `json:"via"`
	State  SendState `json:"state"`
	Error  string    `json:"error,omitempty"`
}

// DeadlineAck is a person's acknowledgement of a deadline's alerts:
// silenced for good, or snoozed until Until. It names the deadline by kind
// and due time, so a deadline that moves alerts again.
type DeadlineAck struct {
	Kind  DeadlineKind `json:"kind"`
	Due   time.Time    `json:"due"`
	Until *time.Time   `json:"until,omitempty"`
	At    time.Time    `json:"at"`
	By    string       `json:"by,omitempty"`
}

// Silenced reports whether a person acknowledged the deadline of kind k
// due at due, or snoozed it past now.
func (c *Case) Silenced(k DeadlineKind, due, now time.Time) bool {
	for _, a := range c.DeadlineAcks {
		if a.Kind == k && a.Due.Equal(due) && (a.Until == nil || now.Before(*a.Until)) {
			return true
		}
	}
	return false
}

// OpenInfoRequest returns the information request still awaiting its
// response, or nil.
func (c *Case) OpenInfoRequest() *InfoRequest {
	for i := len(c.InfoRequests) - 1; i >= 0; i-- {
		if c.InfoRequests[i].ClosedAt == nil {
			return &c.InfoRequests[i]
		}
	}
	return nil
}

// PausesClock reports whether the case's plan pauses the decision clock
// while an information request is open: ERISA plans (29 CFR
// 2560.503-1(f)(4)).
func (c *Case) PausesClock() bool { return c.PlanType == PlanERISA }

// ClockPause returns how long the decision clock has been paused by
// information requests made since from and answered (closed) so far, and
// the start of a pause still open (zero if none). Only an ERISA plan
// pauses its clock.
func (c *Case) ClockPause(from time.Time) (paused time.Duration, openSince time.Time) {
	if !c.PausesClock() {
		return 0, time.Time{}
	}
	for _, r := range c.InfoRequests {
		if r.RequestedAt.Before(from) {
			continue
		}
		if r.ClosedAt == nil {
			openSince = r.RequestedAt
			continue
		}
		if d := r.ClosedAt.Sub(r.RequestedAt); d > 0 {
			paused += d
		}
	}
	return paused, openSince
}

// LastExtension returns the latest payer extension, or nil.
func (c *Case) LastExtension() *Extension {
	if len(c.Extensions) == 0 {
		return nil
	}
	return &c.Extensions[len(c.Extensions)-1]
}

// ExtensionLimit is how far a payer may extend its decision timeframe for
// the plan type, in days, and the rule: 14 days for MA, Medicaid and CHIP
// (42 CFR 422.568(b)(1)(i), 438.210(d)(1)(ii), 457.1230(d)), 15 days for
// ERISA plans and the plans that follow its claims rule (29 CFR
// 2560.503-1(f)(2)(iii)(A), 45 CFR 147.136(b)).
func ExtensionLimit(p PlanType) (days int, rule string) {
	switch p {
	case PlanERISA, PlanQHP, PlanCommercial:
		return 15, "29 CFR 2560.503-1(f)(2)(iii)(A): one extension of up to 15 days"
	default:
		return 14, "42 CFR 422.568(b)(1)(i), 438.210(d)(1)(ii), 457.1230(d): an extension of up to 14 calendar days"
	}
}

// AppealDecisionDue is when an appeal filed at filed must be decided:
// expedited 72 hours; MA standard pre-service reconsideration 30 days
// (42 CFR 422.590(a)); ERISA pre-service appeal 30 days (29 CFR
// 2560.503-1(i)(2)(ii)); QHP and commercial 30 days (45 CFR 147.136(b));
// Medicaid and CHIP plan appeals 30 days (42 CFR 438.408(b)(2)); an
// external review 45 days (45 CFR 147.136(d), ACA; the IRE for MA
// follows the reconsideration timeframe). Calendar days count in loc.
func AppealDecisionDue(p PlanType, level AppealLevel, expedited bool, filed time.Time, loc *time.Location) (time.Time, string) {
	if loc == nil {
		loc = time.UTC
	}
	if expedited {
		return filed.Add(72 * time.Hour).In(loc), "expedited appeal: decision within 72 hours (42 CFR 422.590(e), 29 CFR 2560.503-1(i)(2)(i))"
	}
	days, rule := 30, ""
	switch {
	case level == AppealExternal && p != PlanMedicareAdvantage:
		days, rule = 45, "45 CFR 147.136(d): external review decision within 45 days"
	case p == PlanMedicareAdvantage:
		rule = "42 CFR 422.590(a): Medicare Advantage standard pre-service reconsideration within 30 days"
	case p == PlanERISA:
		rule = "29 CFR 2560.503-1(i)(2)(ii): ERISA pre-service appeal decision within 30 days"
	case p == PlanMedicaid || p == PlanCHIP:
		rule = "42 CFR 438.408(b)(2): plan appeal resolution within 30 calendar days"
	default:
		rule = "45 CFR 147.136(b): pre-service internal appeal decision within 30 days"
	}
	return filed.In(loc).AddDate(0, 0, days), rule
}

// OpenPeerToPeer returns the peer-to-peer not yet held (scheduled or to
// be), or nil.
func (c *Case) OpenPeerToPeer() *PeerToPeer {
	for i := len(c.PeerToPeers) - 1; i >= 0; i-- {
		if c.PeerToPeers[i].Outcome == "" {
			return &c.PeerToPeers[i]
		}
	}
	return nil
}

// OpenAppeal returns the appeal filed and not yet decided, or nil.
func (c *Case) OpenAppeal() *Appeal {
	for i := len(c.Appeals) - 1; i >= 0; i-- {
		if c.Appeals[i].Outcome == "" {
			return &c.Appeals[i]
		}
	}
	return nil
}

// Overturned reports whether a peer-to-peer or an appeal overturned the
// decision: its windows (peer-to-peer, appeal filing) no longer matter,
// even before the payer's portal shows the approval.
func (c *Case) Overturned() bool {
	for _, p := range c.PeerToPeers {
		if p.Outcome == OutcomeOverturned {
			return true
		}
	}
	for _, a := range c.Appeals {
		if a.Outcome == OutcomeOverturned {
			return true
		}
	}
	return false
}

// AwaitingOverturn reports whether staff recorded an overturn the payer
// has not shown yet (the case is still denied, partial or modified).
func (c *Case) AwaitingOverturn() bool {
	return c.Overturned() && (c.Status == StatusDenied || c.Status == StatusPartiallyApproved || c.Status == StatusModified)
}

// EscalationOpen reports whether a peer-to-peer or an appeal is open on a
// decided case, or an overturn waits for the payer: the watch then looks
// daily.
func (c *Case) EscalationOpen() bool {
	return c.Status.Watched() && c.Status != StatusApproved &&
		(c.OpenPeerToPeer() != nil || c.OpenAppeal() != nil || c.AwaitingOverturn())
}

// trackInfoRequest records a new information request when the case becomes pended,
// and closes an open one when the payer moves the case on without a
// response (the ERISA clock runs again from then).
func (c *Case) trackInfoRequest(old Status, now time.Time) {
	switch {
	case c.Status == StatusPended && old != StatusPended:
		r := InfoRequest{Asked: c.infoRequested(), RequestedAt: now}
		if c.Determination != nil {
			r.ResponseDue = c.Determination.ResponseDue
		}
		c.InfoRequests = append(c.InfoRequests, r)
	case old == StatusPended && c.Status != StatusPended:
		if r := c.OpenInfoRequest(); r != nil {
			t := now
			r.ClosedAt = &t
		}
	}
}

// ViaRule returns the rule v breaks ("" if none); connectorAllowed says
// whether the case's connector can send it.
func ViaRule(v Via, connectorAllowed bool) string {
	switch {
	case v == "":
		return "is required (one of portal, api, fax, phone, mail)"
	case !oneOf(v, Vias):
		return "must be one of portal, api, fax, phone, mail"
	case v.Connector() && !connectorAllowed:
		return fmt.Sprintf("%s goes through the connector, which cannot do this; record it as sent by fax, phone or mail", v)
	}
	return ""
}

// ValidRef reports whether s is a valid external or payer reference: 1-64
// letters, digits or ._/- characters.
func ValidRef(s string) bool { return refRe.MatchString(s) }
