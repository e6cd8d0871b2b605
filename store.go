package authpilot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// ErrNotFound is returned when a case, document or recording does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write lost a race (the case changed since
// it was read) or would duplicate a unique key.
var ErrConflict = errors.New("conflict")

// DuplicateError is returned by CreateCase when an open case (see
// Status.Closed) at the same payer already holds the new case's external
// reference. It names the existing case and matches ErrConflict.
type DuplicateError struct {
	// CaseID is the existing open case.
	CaseID string
	// Field is what is duplicated ("external_ref").
	Field string
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("open case %s at this payer already has this %s", e.CaseID, e.Field)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *DuplicateError) Is(target error) bool { return target == ErrConflict }

// Changes are what one update appends besides the case itself: history
// and alerts, written in the same transaction.
type Changes struct {
	Events []Event
	Alerts []Alert
	// Idempotency, if set, is the API request that made the change: it is
	// stored with the change, so a retry with the same key finds it.
	Idempotency *IdempotencyRecord
}

// IdempotencyRecord is one API request made with an Idempotency-Key: what
// was asked (a hash) and what was answered.
type IdempotencyRecord struct {
	Key string
	// Route is the method and path pattern, e.g. "POST /v1/cases".
	Route string
	// RequestHash is the hex sha256 of the request (method, path, body).
	RequestHash string
	// Status is the HTTP status answered.
	Status int
	// CaseID is the case the request created or changed, if any; a replay
	// answers with that case as it is now.
	CaseID string
	// Body is the answer's body where no case stands for it.
	Body      []byte
	CreatedAt time.Time
}

// CaseFilter selects cases for ListCases. Zero fields match everything.
type CaseFilter struct {
	Statuses    []Status
	Payer       string
	ConnectorID string
	Track       Track
	Episode     string
	// DueBefore keeps cases with a deadline due before it (see
	// Store.SetDeadlines).
	DueBefore time.Time
	// After, if set, is a case ID: only cases stored after it are listed
	// (a cursor: stable under concurrent inserts).
	After string
	// Query, if set, keeps the cases it matches (see Case.SearchMatch).
	// Callers that search record it in the access log.
	Query string
	// Assignee, if set, keeps the cases assigned to this person in the
	// workspace, or with Unassigned those assigned to no one.
	Assignee string
	Limit    int
}

// Unassigned is the CaseFilter.Assignee of cases assigned to no one.
const Unassigned = "-"

// Store is the durable state: cases, their events, documents, computed
// deadlines and the alert outbox. Every method is safe for concurrent use.
// A write that returned nil survives a crash.
type Store interface {
	// CreateCase inserts a new case with its creation changes. It fails
	// with ErrConflict if the ID exists, and with a *DuplicateError if an
	// open case at the same payer has the same external reference.
	CreateCase(ctx context.Context, c *Case, ch Changes) error
	// GetCase returns the case or ErrNotFound.
	GetCase(ctx context.Context, id string) (*Case, error)
	// ListCases returns matching cases in the order they were stored,
	// oldest first.
	ListCases(ctx context.Context, f CaseFilter) ([]*Case, error)
	// UpdateCase reads the case in a write transaction, lets fn change it
	// and say what to append, and writes all of it, or nothing if fn
	// returns an error (which UpdateCase returns unchanged).
	UpdateCase(ctx context.Context, id string, fn func(c *Case) (Changes, error)) (*Case, error)
	// MarkWatched records that a poll looked at decided cases at at
	// (Case.WatchedAt) without changing their version or UpdatedAt: a
	// watch is not a change a person or an If-Match should see. Unknown
	// IDs are skipped.
	MarkWatched(ctx context.Context, at time.Time, ids ...string) error
	// Events returns a case's history, oldest first.
	Events(ctx context.Context, caseID string) ([]Event, error)

	// LogAccess appends a search or lookup that can match PHI to the
	// append-only access log (with the store's clock); AccessLog returns
	// the entries made at or after since, oldest first.
	LogAccess(ctx context.Context, a Access) error
	AccessLog(ctx context.Context, since time.Time) ([]Access, error)

	// Idempotency returns the record stored for an Idempotency-Key, or
	// ErrNotFound. PutIdempotency stores one made outside a case change;
	// it fails with ErrConflict if the key is taken.
	Idempotency(ctx context.Context, key string) (*IdempotencyRecord, error)
	PutIdempotency(ctx context.Context, rec IdempotencyRecord) error

	// PutDocument stores content under its sha256 (idempotent) and records
	// its metadata for the case; doc.SHA256 and doc.Size are filled in.
	PutDocument(ctx context.Context, doc Document, r io.Reader) (Document, error)
	// OpenDocument returns the stored content by sha256.
	OpenDocument(ctx context.Context, sha256 string) (io.ReadCloser, Document, error)
	// Documents lists a case's documents.
	Documents(ctx context.Context, caseID string) ([]Document, error)

	// SetDeadlines replaces the computed deadlines of a case (the worklist
	// index behind CaseFilter.DueBefore).
	SetDeadlines(ctx context.Context, caseID string, ds []Deadline) error
	// Deadlines returns a case's computed deadlines, soonest first.
	Deadlines(ctx context.Context, caseID string) ([]Deadline, error)
	// AllDeadlines returns every case's computed deadlines by case ID,
	// each soonest first (cases without any are absent).
	AllDeadlines(ctx context.Context) (map[string][]Deadline, error)

	// Enqueue writes alerts that belong to no case change (digest, deadline
	// checks; a connector's problems go through RaiseProblem). Alerts whose
	// DedupKey was seen before are dropped; it reports how many were new.
	Enqueue(ctx context.Context, alerts ...Alert) (int, error)

	// RaiseProblem opens the problem key and enqueues a, in one
	// transaction, unless that problem is open already; it reports whether
	// it raised a. ResolveProblems closes every open problem whose key
	// starts with prefix, enqueueing resolved(p) for each, and reports how
	// many it closed. This is dedup per problem: a problem alerts once
	// until it is resolved, then may alert again.
	RaiseProblem(ctx context.Context, key string, a Alert) (bool, error)
	ResolveProblems(ctx context.Context, prefix string, resolved func(Problem) Alert) (int, error)
	// OpenProblems lists the open problems, oldest first.
	OpenProblems(ctx context.Context) ([]Problem, error)

	// LastRun and SetLastRun persist job run times so a run missed during
	// downtime is made up at start-up.
	LastRun(ctx context.Context, job string) (time.Time, error)
	SetLastRun(ctx context.Context, job string, at time.Time) error

	// ConnectorState returns what is remembered of a connector's logins
	// (the zero state, with its ID, if nothing is).
	ConnectorState(ctx context.Context, connectorID string) (ConnectorState, error)
	// ConnectorStates returns every connector's remembered state.
	ConnectorStates(ctx context.Context) ([]ConnectorState, error)
	// UpdateConnectorState reads a connector's state in a write
	// transaction, lets fn change it and return alerts, and writes both,
	// or nothing if fn returns an error (returned unchanged).
	UpdateConnectorState(ctx context.Context, connectorID string, fn func(s *ConnectorState) ([]Alert, error)) (ConnectorState, error)

	Outbox
	Close() error
}

// DeliveryState is where one alert's delivery to one sink stands.
type DeliveryState string

// Delivery states.
const (
	DeliveryPending   DeliveryState = "pending"
	DeliveryDelivered DeliveryState = "delivered"
	// DeliveryDead is given up: the sink refused for good or was disabled.
	DeliveryDead DeliveryState = "dead"
)

// Problem is an open problem (a connector failing, a sink failing or
// disabled): the alert that raised it stands until a resolved alert closes
// it.
type Problem struct {
	// Key names the problem, e.g. "connector:summit:connector_failing:
	// <normalized message>" or "sink:ehr:failing".
	Key    string    `json:"key"`
	Opened time.Time `json:"opened"`
	Alert  Alert     `json:"alert"`
}

// Kinds of sink problems.
const (
	SinkDisabledProblem = "disabled"
	SinkFailingProblem  = "failing"
)

// SinkProblemKey is the problem key of a sink's trouble (kind
// SinkDisabledProblem or SinkFailingProblem). Every key of a sink starts
// with SinkProblemKey(sink, "").
func SinkProblemKey(sink, kind string) string { return "sink:" + sink + ":" + kind }

// Delivery is one alert bound for one sink.
type Delivery struct {
	ID          int64         `json:"id"`
	Sink        string        `json:"sink"`
	Alert       Alert         `json:"alert"`
	State       DeliveryState `json:"state"`
	Attempts    int           `json:"attempts"`
	NextAttempt time.Time     `json:"next_attempt"`
	// Since starts the delivery's retry window: when it was queued, or
	// when its sink was re-enabled.
	Since       time.Time  `json:"since"`
	LastError   string     `json:"last_error,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
}

// Outbox is the durable queue between alerts and notifiers. Alerts enter
// it with the change that raised them; the dispatcher routes each alert to
// its sinks once and delivers each delivery until it succeeds or dies.
type Outbox interface {
	// RouteNew fans every not-yet-routed alert out into one pending
	// delivery per sink that route returns (none is fine), atomically per
	// alert, in the order alerts were raised. It reports how many alerts
	// it routed.
	RouteNew(ctx context.Context, route func(Alert) []string) (int, error)
	// PendingDeliveries returns pending deliveries ordered by sink and then
	// by priority, at most limit per sink: critical and warning alerts
	// before info ones, but never before an earlier alert of their own
	// order key (Alert.OrderKey), which goes just ahead of them; equal
	// priorities in the order raised.
	PendingDeliveries(ctx context.Context, limit int) ([]Delivery, error)
	MarkDelivered(ctx context.Context, id int64, at time.Time) error
	// MarkRetry counts a failed attempt and schedules the next one.
	MarkRetry(ctx context.Context, id int64, next time.Time, lastErr string) error
	// MarkDead gives a delivery up.
	MarkDead(ctx context.Context, id int64, lastErr string) error
	// DisableSink marks a sink disabled (e.g. a webhook answered 410): its
	// deliveries wait, and alerts routed to it are still queued, until it is
	// re-enabled; DisabledSinks lists them with reasons.
	DisableSink(ctx context.Context, sink, reason string, at time.Time) error
	DisabledSinks(ctx context.Context) (map[string]string, error)
	// Deliveries lists the deliveries of an alert (for tests and the CLI).
	Deliveries(ctx context.Context, alertID string) ([]Delivery, error)
}

// Secrets reads secrets by name from the keyring.
type Secrets interface {
	// Get returns the secret or an error wrapping ErrSecretNotFound.
	Get(name string) (string, error)
}

// ErrSecretNotFound is returned for a secret that is not in the keyring.
var ErrSecretNotFound = errors.New("secret not found")

// Secret is a string that prints as <redacted> in logs and errors.
type Secret string

// String implements fmt.Stringer.
func (Secret) String() string { return "<redacted>" }

// GoString implements fmt.GoStringer.
func (Secret) GoString() string { return "<redacted>" }

// LogValue keeps the value out of slog output.
func (Secret) LogValue() slog.Value { return slog.StringValue("<redacted>") }

// MarshalText keeps the value out of JSON and YAML output.
func (Secret) MarshalText() ([]byte, error) { return []byte("<redacted>"), nil }

// Reveal returns the secret's value, for the one place that uses it.
func (s Secret) Reveal() string { return string(s) }

// StaticSecrets is a fixed set of secrets held in memory: the demo's
// simulator credentials, and tests. A daemon uses the keyring.
type StaticSecrets map[string]string

// Get implements Secrets.
func (s StaticSecrets) Get(name string) (string, error) {
	v, ok := s[name]
	if !ok {
		return "", fmt.Errorf("%s: %w", name, ErrSecretNotFound)
	}
	return v, nil
}
