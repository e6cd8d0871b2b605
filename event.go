package authpilot

import (
	"encoding/json"
	"time"
)

// EventType names what happened to a case.
type EventType string

// Event types. The alert-worthy ones share their names with AlertType.
const (
	EventCreated      EventType = "case_created"
	EventUpdated      EventType = "case_updated"
	EventSubmitIntent EventType = "submit_intent"
	EventSubmitted    EventType = "case_submitted"
	EventSubmitFailed EventType = "submit_failed"
	// EventSubmissionRejected: the payer refused the request (the case
	// became rejected); RawText is the payer's own words.
	EventSubmissionRejected    EventType = "submission_rejected"
	EventReconciled            EventType = "submit_reconciled"
	EventStatusChanged         EventType = "status_changed"
	EventDeterminationReceived EventType = "determination_received"
	EventMoreInfoRequested     EventType = "more_info_requested"
	EventDocumentStored        EventType = "document_stored"
	EventPolled                EventType = "polled"
	EventConnectorError        EventType = "connector_error"
	EventPortalChanged         EventType = "portal_changed"
	EventNeedsHuman            EventType = "needs_human"
	EventInterrupted           EventType = "interrupted"
	EventNote                  EventType = "note"
	// Staff actions on a case's life (agent.Actions).
	EventInfoResponse          EventType = "info_response"
	EventDeterminationRecorded EventType = "determination_recorded"
	EventRequeued              EventType = "requeued"
	EventPeerToPeer            EventType = "peer_to_peer"
	EventAppeal                EventType = "appeal"
	EventExtension             EventType = "extension"
	EventWithdrawal            EventType = "withdrawal"
	EventDeadlineAck           EventType = "deadline_acknowledged"
)

// Event is one entry of a case's append-only history.
type Event struct {
	ID     int64     `json:"id"`
	CaseID string    `json:"case_id"`
	At     time.Time `json:"at"`
	Type   EventType `json:"type"`
	// Actor is who or what caused it: "api", "cli", "import",
	// "agent:<connector>".
	Actor string `json:"actor"`
	From  Status `json:"from,omitempty"`
	To    Status `json:"to,omitempty"`
	// RawText is the payer's own words (status text, banner, reason).
	RawText string `json:"raw_text,omitempty"`
	// Recording links the evidence of the connector run that saw it.
	Recording string `json:"recording,omitempty"`
	// Detail holds type-specific fields (payer reference, document sha256,
	// error class). It may hold PHI only where the type requires.
	Detail json.RawMessage `json:"detail,omitempty"`
}

// Severity ranks alerts for routing.
type Severity string

// Severities.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// AlertType is the kind of an alert (DESIGN.md, Alerts).
type AlertType string

// Alert types.
const (
	AlertCaseSubmitted         AlertType = "case_submitted"
	AlertStatusChanged         AlertType = "status_changed"
	AlertDeterminationReceived AlertType = "determination_received"
	AlertMoreInfoRequested     AlertType = "more_info_requested"
	AlertDeadlineApproaching   AlertType = "deadline_approaching"
	AlertDeadlineMissed        AlertType = "deadline_missed"
	AlertNeedsHuman            AlertType = "needs_human"
	AlertPortalChanged         AlertType = "portal_changed"
	AlertConnectorFailing      AlertType = "connector_failing"
	// AlertSubmissionRejected: the payer refused a request; the case is
	// rejected and waits for a person to correct and re-queue it. Its
	// Reason is the payer's own words.
	AlertSubmissionRejected AlertType = "submission_rejected"
	AlertDigest             AlertType = "digest"
	AlertSinkDisabled       AlertType = "sink_disabled"
	// AlertSinkFailing: a sink has failed for a while or lost an alert; it
	// goes to the other sinks.
	AlertSinkFailing AlertType = "sink_failing"
	// AlertResolved closes a problem alert (connector_failing,
	// portal_changed, needs_human of a connector, sink_failing,
	// sink_disabled): Resolves names the problem's type, and routes that
	// match that type match it too.
	AlertResolved AlertType = "resolved"
	AlertTest     AlertType = "test"
)

// AlertTypes lists the alert types routes may name.
var AlertTypes = []AlertType{
	AlertCaseSubmitted, AlertStatusChanged, AlertDeterminationReceived, AlertMoreInfoRequested,
	AlertDeadlineApproaching, AlertDeadlineMissed, AlertNeedsHuman, AlertPortalChanged,
	AlertConnectorFailing, AlertSubmissionRejected, AlertDigest, AlertSinkDisabled, AlertSinkFailing,
	AlertResolved, AlertTest,
}

// Rank orders severities for routing and delivery: critical 2, warning 1,
// info (and anything unknown) 0.
func (s Severity) Rank() int {
	switch s {
	case SeverityCritical:
		return 2
	case SeverityWarning:
		return 1
	default:
		return 0
	}
}

// Alert is something staff must hear about. It is written to the outbox in
// the same transaction as the change that caused it and delivered by the
// notifiers. Its fields carry no PHI; PHI-bearing detail is added only by a
// sink that opts in, from the case.
type Alert struct {
	// ID is a ULID; it is the webhook-id of every delivery of this alert.
	ID       string    `json:"id"`
	Type     AlertType `json:"type"`
	Severity Severity  `json:"severity"`
	At       time.Time `json:"at"`
	// DedupKey, when set, makes the alert fire at most once ever: the store
	// drops a second alert with the same key.
	DedupKey string `json:"-"`

	CaseID      string `json:"case_id,omitempty"`
	ExternalRef string `json:"external_ref,omitempty"`
	Payer       string `json:"payer,omitempty"`
	ConnectorID string `json:"connector,omitempty"`
	Track       Track  `json:"track,omitempty"`
	Status      Status `json:"status,omitempty"`
	PrevStatus  Status `json:"prev_status,omitempty"`
	// Title says what happened; Action what to do. Neither holds PHI.
	Title    string    `json:"title"`
	Action   string    `json:"action,omitempty"`
	Deadline *Deadline `json:"deadline,omitempty"`
	// AuthNumber and Reason are the payer's words about the decision; they
	// are not patient identifiers.
	AuthNumber string `json:"auth_number,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Recording  string `json:"recording,omitempty"`
	// Screenshot is the sha256 of a stored screenshot (portal_changed).
	Screenshot string `json:"screenshot,omitempty"`
	// Items is a digest's list of cases and deadlines.
	Items []DigestItem `json:"items,omitempty"`
	// Sink is the sink a sink_disabled or sink_failing alert (or their
	// resolved alert) is about; it is not sent to that sink.
	Sink string `json:"sink,omitempty"`
	// Resolves is the type of the problem a resolved alert closes.
	Resolves AlertType `json:"resolves,omitempty"`
	// Link is the case's page in the workspace (server.external_url),
	// set as the alert is delivered; it names no PHI.
	Link string `json:"link,omitempty"`
}

// OrderKey names the alerts that must reach a sink in the order raised:
// those of one case; else those about one sink; else those of one
// connector. Other alerts ("") keep no order among themselves. Critical
// and warning alerts overtake info alerts of other keys, never of their
// own (see store.PendingDeliveries).
func (a Alert) OrderKey() string {
	switch {
	case a.CaseID != "":
		return "case:" + a.CaseID
	case a.Sink != "":
		return "sink:" + a.Sink
	case a.ConnectorID != "":
		return "connector:" + a.ConnectorID
	}
	return ""
}

// DigestItem is one line of a daily digest.
type DigestItem struct {
	CaseID   string    `json:"case_id"`
	Payer    string    `json:"payer"`
	Track    Track     `json:"track"`
	Status   Status    `json:"status"`
	Deadline *Deadline `json:"deadline,omitempty"`
}

// DeadlineKind names a watched deadline.
type DeadlineKind string

// Deadline kinds (DESIGN.md, Deadlines).
const (
	DeadlineDecisionDue   DeadlineKind = "decision_due"
	DeadlineFollowUp      DeadlineKind = "follow_up"
	DeadlineServiceAtRisk DeadlineKind = "service_date_at_risk"
	DeadlinePeerToPeer    DeadlineKind = "peer_to_peer"
	DeadlineAppeal        DeadlineKind = "appeal_filing"
	DeadlineAuthExpiry    DeadlineKind = "authorization_expiry"
	// DeadlineInfoResponse: the payer's due date for the response to an
	// information request.
	DeadlineInfoResponse DeadlineKind = "info_response_due"
	// DeadlinePeerToPeerCall: a scheduled peer-to-peer (a reminder before
	// it).
	DeadlinePeerToPeerCall DeadlineKind = "peer_to_peer_call"
	// DeadlineAppealDecision: when a filed appeal must be decided.
	DeadlineAppealDecision DeadlineKind = "appeal_decision_due"
)

// Deadline is one computed deadline of a case.
type Deadline struct {
	Kind DeadlineKind `json:"kind"`
	Due  time.Time    `json:"due"`
	// Rule says where the date comes from, e.g. "CMS-0057-F: standard MA
	// decision within 7 calendar days".
	Rule string `json:"rule,omitempty"`
}
