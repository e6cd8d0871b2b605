package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/schedules"
)

// ActionNames are the staff actions on a case (POST
// /v1/cases/{id}/actions/{name}, `authpilot case <name>`).
var ActionNames = []string{"note", "attach", "respond", "decide", "update", "withdraw", "requeue", "p2p", "appeal", "extension", "deadline"}

// ActionRequest is one staff action on a case.
type ActionRequest struct {
	CaseID string
	// Name is one of ActionNames.
	Name string
	// Input is the action's JSON object (see the action's input type).
	Input json.RawMessage
	// Files are uploaded documents (multipart); Input's "files" may carry
	// more as base64.
	Files []authpilot.File
	// IfMatch, if not 0, is the case version the person saw: a case
	// changed since is refused with a *StaleError.
	IfMatch int
	// Actor is who acts: the API token's name, "cli:<user>", or the agent.
	Actor string
	// IdempotencyKey, if set, makes a repeat of the same request one change.
	IdempotencyKey string
}

// Actions carries out staff actions on cases, for the HTTP API and the
// CLI alike. Each action is one store transaction writing the change, its
// events (with the actor) and its alerts, the deadline alerts it makes due
// at once, and the Idempotency-Key record. Actions that go through the
// connector (respond, withdraw via portal or api) are recorded as queued in
// that transaction and sent afterwards (Send).
type Actions struct {
	Store authpilot.Store
	Rules schedules.Rules
	Cal   *schedules.Calendar
	Now   func() time.Time
	Log   *slog.Logger
	// Capabilities returns a connector's capabilities (ok false: not
	// configured).
	Capabilities func(connectorID string) (connectors.Capabilities, bool)
	// Send hands a case with a queued response or withdrawal to its
	// connector; it must not block. Nil leaves it queued.
	Send func(caseID string)
	// Kick wakes the alert dispatcher; nil is fine.
	Kick func()
}

// NewActions returns the staff actions on st under cfg's deadline rules
// and calendar, without connectors: an action that goes through one
// (respond or withdraw via portal or api) is refused as the connector
// cannot do it. The agent's own Actions (Agent.Actions) have them.
func NewActions(cfg *config.Config, st authpilot.Store, log *slog.Logger, now func() time.Time) *Actions {
	return &Actions{Store: st, Rules: rulesFromConfig(cfg), Cal: schedules.NewCalendar(cfg.Location(), cfg.Practice.ClosedDays),
		Now: now, Log: log}
}

// StaleError is an action refused because the case changed since the
// version the person saw (If-Match). It matches authpilot.ErrConflict.
type StaleError struct {
	CaseID           string
	IfMatch, Current int
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("case %s is at version %d, not %d: it changed since it was read; read it again", e.CaseID, e.Current, e.IfMatch)
}

// Is makes errors.Is(err, authpilot.ErrConflict) true.
func (e *StaleError) Is(target error) bool { return target == authpilot.ErrConflict }

// ErrUnknownAction is returned for an action name not in ActionNames.
var ErrUnknownAction = errors.New("unknown action")

// KeyReuseError is an Idempotency-Key already used for another request.
type KeyReuseError struct{ At time.Time }

func (e *KeyReuseError) Error() string {
	return "this Idempotency-Key was already used at " + e.At.UTC().Format(time.RFC3339) + " for a different request; nothing was done"
}

// actionFunc decides one action on c (inside the case's transaction).
type actionFunc func(x *actx) error

var actionFuncs = map[string]actionFunc{
	"note": withInput(doNote), "attach": withInput(doAttach), "respond": withInput(doRespond),
	"decide": withInput(doDecide), "update": withInput(doUpdate), "withdraw": withInput(doWithdraw),
	"requeue": withInput(doRequeue), "p2p": withInput(doPeerToPeer), "appeal": withInput(doAppeal),
	"extension": withInput(doExtension), "deadline": withInput(doDeadline),
}

// withInput is the actionFunc of do, which takes the action's input
// decoded strictly into its input type (decode).
func withInput[T any](do func(x *actx, in T) error) actionFunc {
	return func(x *actx) error {
		var in T
		if err := x.decode(&in); err != nil {
			return err
		}
		return do(x, in)
	}
}

// Do carries out req and returns the case as it is afterwards.
func (s *Actions) Do(ctx context.Context, req ActionRequest) (*authpilot.Case, error) {
	c, _, err := s.DoReplay(ctx, req)
	return c, err
}

// DoReplay is Do that also reports whether the answer is a replay of an
// earlier request with the same Idempotency-Key (nothing was done again).
func (s *Actions) DoReplay(ctx context.Context, req ActionRequest) (*authpilot.Case, bool, error) {
	fn, ok := actionFuncs[req.Name]
	if !ok {
		return nil, false, fmt.Errorf("%w %q (one of %s)", ErrUnknownAction, req.Name, strings.Join(ActionNames, ", "))
	}
	if len(bytes.TrimSpace(req.Input)) == 0 {
		req.Input = json.RawMessage("{}")
	}
	var withFiles struct {
		Files []NewFile `json:"files"`
	}
	if err := json.Unmarshal(req.Input, &withFiles); err != nil {
		return nil, false, authpilot.ValidationError{{Field: "input", Rule: describeJSONError(err)}}
	}
	files := slices.Clone(req.Files)
	for _, f := range withFiles.Files {
		files = append(files, authpilot.File{Name: f.Name, ContentType: f.ContentType, Kind: f.Kind, Data: f.Content})
	}
	if errs := fileRules(files); len(errs) > 0 {
		return nil, false, errs
	}
	var rec *authpilot.IdempotencyRecord
	if req.IdempotencyKey != "" {
		if rule := keyRule(req.IdempotencyKey); rule != "" {
			return nil, false, authpilot.ValidationError{{Field: idempotencyHeader, Rule: rule}}
		}
		rec = &authpilot.IdempotencyRecord{Key: req.IdempotencyKey, Route: "POST /v1/cases/" + req.CaseID + "/actions/" + req.Name,
			RequestHash: actionHash(req, files), Status: 200, CaseID: req.CaseID}
		if c, done, err := s.replay(ctx, rec); done {
			return c, true, err
		}
	}
	// Content first, owned by no case: a failed or interrupted action
	// leaves no trace on the case; the case names its documents in its
	// own transaction, and the rows for the case follow it.
	stored := make([]storedFile, len(files))
	for i, f := range files {
		ct := mediaType(f.Name, f.ContentType, f.Data)
		doc, err := s.Store.PutDocument(ctx, authpilot.Document{Kind: authpilot.DocAttachment, Name: f.Name, ContentType: ct}, bytes.NewReader(f.Data))
		if err != nil {
			return nil, false, fmt.Errorf("store uploaded file: %w", err)
		}
		stored[i] = storedFile{Name: f.Name, ContentType: ct, Kind: f.Kind, SHA256: doc.SHA256, Data: f.Data}
	}
	now := s.Now()
	var x *actx
	c, err := s.Store.UpdateCase(ctx, req.CaseID, func(c *authpilot.Case) (authpilot.Changes, error) {
		if req.IfMatch != 0 && c.Version != req.IfMatch {
			return authpilot.Changes{}, &StaleError{CaseID: c.ID, IfMatch: req.IfMatch, Current: c.Version}
		}
		x = &actx{s: s, c: c, action: req.Name, input: req.Input, files: stored, actor: req.Actor, now: now.UTC(), local: now.In(s.Cal.Location())}
		if err := fn(x); err != nil {
			return authpilot.Changes{}, err
		}
		for i := range x.ch.Events {
			e := &x.ch.Events[i]
			e.CaseID, e.At = c.ID, now.UTC()
			if e.Actor == "" {
				e.Actor = req.Actor
			}
		}
		// The deadlines the action makes due now alert in the same
		// transaction (a moved service date outside the approval).
		x.ch.Alerts = append(x.ch.Alerts, s.Rules.Check(c, s.Rules.Compute(c, s.Cal, now), now)...)
		x.ch.Idempotency = rec
		return x.ch, nil
	})
	if err != nil {
		if rec != nil && errors.Is(err, authpilot.ErrConflict) && !errors.As(err, new(*StaleError)) {
			// A concurrent request with the same key won the race.
			if c, done, rerr := s.replay(ctx, rec); done {
				return c, true, rerr
			}
		}
		return nil, false, err
	}
	s.after(ctx, c, x)
	return c, false, nil
}

// after links the action's files to the case, stores its deadlines (the
// worklist index), wakes the dispatcher and hands queued sends on. A
// failure is logged: the case names its documents, and the next deadline
// sweep recomputes.
func (s *Actions) after(ctx context.Context, c *authpilot.Case, x *actx) {
	for _, f := range x.files {
		kind := authpilot.DocAttachment
		if f.letter {
			kind = authpilot.DocLetter
		}
		if _, err := s.Store.PutDocument(ctx, authpilot.Document{CaseID: c.ID, Kind: kind, Name: f.Name, ContentType: f.ContentType},
			bytes.NewReader(f.Data)); err != nil {
			s.Log.Warn("uploaded file not linked to its case; the case names it", "case", c.ID, "err", err)
		}
	}
	// Most actions leave the deadlines as they were: only a change is
	// written (each write is a synced transaction).
	ds := s.Rules.Compute(c, s.Cal, s.Now())
	if stored, err := s.Store.Deadlines(ctx, c.ID); err != nil || !sameDeadlines(stored, ds) {
		if err := s.Store.SetDeadlines(ctx, c.ID, ds); err != nil {
			s.Log.Warn("deadlines after an action not stored; the next check retries", "case", c.ID, "err", err)
		}
	}
	if s.Kick != nil && len(x.ch.Alerts) > 0 {
		s.Kick()
	}
	if x.queued && s.Send != nil {
		s.Send(c.ID)
	}
	s.Log.Info("case action", "case", c.ID, "action", x.name(), "actor", x.actor, "status", c.Status)
}

// replay answers a request whose Idempotency-Key is stored: the same
// request gets the case as it is now; another request a *KeyReuseError.
func (s *Actions) replay(ctx context.Context, rec *authpilot.IdempotencyRecord) (*authpilot.Case, bool, error) {
	prev, err := s.Store.Idempotency(ctx, rec.Key)
	switch {
	case errors.Is(err, authpilot.ErrNotFound):
		return nil, false, nil
	case err != nil:
		return nil, true, fmt.Errorf("read the Idempotency-Key: %w", err)
	case prev.Route != rec.Route || prev.RequestHash != rec.RequestHash:
		return nil, true, &KeyReuseError{At: prev.CreatedAt}
	}
	c, err := s.Store.GetCase(ctx, rec.CaseID)
	return c, true, err
}

// actionHash names a request: case, action, input and files.
func actionHash(req ActionRequest, files []authpilot.File) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", req.CaseID, req.Name)
	h.Write(req.Input)
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		fmt.Fprintf(h, "\n%s\x00%s\x00%s\x00%x", f.Name, f.ContentType, f.Kind, sum)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fileRules(files []authpilot.File) authpilot.ValidationError {
	var errs authpilot.ValidationError
	if len(files) > authpilot.MaxAttachments {
		errs = append(errs, authpilot.FieldError{Field: "files", Rule: fmt.Sprintf("has more than %d files", authpilot.MaxAttachments)})
	}
	for i, f := range files {
		field := fmt.Sprintf("files[%d]", i)
		for _, t := range []struct{ field, v string }{{"name", f.Name}, {"kind", f.Kind}, {"content_type", f.ContentType}} {
			if rule := authpilot.TextRule(t.v, false); rule != "" {
				errs = append(errs, authpilot.FieldError{Field: field + "." + t.field, Rule: rule})
			}
		}
		switch {
		case strings.TrimSpace(f.Name) == "":
			errs = append(errs, authpilot.FieldError{Field: field + ".name", Rule: "is required"})
		case len(f.Name) > 200:
			errs = append(errs, authpilot.FieldError{Field: field + ".name", Rule: "is longer than 200 characters"})
		case len(f.Data) == 0:
			errs = append(errs, authpilot.FieldError{Field: field + ".content", Rule: "is empty"})
		case len(f.Data) > maxFileSize:
			errs = append(errs, authpilot.FieldError{Field: field + ".content", Rule: "is larger than 20 MiB"})
		}
	}
	return errs
}

type storedFile struct {
	Name, ContentType, Kind, SHA256 string
	Data                            []byte
	letter                          bool
}

// actx is one action in its transaction.
type actx struct {
	s      *Actions
	c      *authpilot.Case
	input  json.RawMessage
	files  []storedFile
	actor  string
	now    time.Time // UTC
	local  time.Time // the practice's zone
	ch     authpilot.Changes
	errs   authpilot.ValidationError
	queued bool
	action string
}

func (x *actx) name() string { return x.action }

// decode reads the input strictly into v; a broken rule is a field error.
func (x *actx) decode(v any) error {
	dec := json.NewDecoder(bytes.NewReader(x.input))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return authpilot.ValidationError{{Field: "input", Rule: describeJSONError(err)}}
	}
	return nil
}

func (x *actx) fail(field, format string, a ...any) {
	x.errs = append(x.errs, authpilot.FieldError{Field: field, Rule: fmt.Sprintf(format, a...)})
}

// done returns the field errors collected, if any.
func (x *actx) done() error {
	if len(x.errs) > 0 {
		return x.errs
	}
	return nil
}

func (x *actx) event(t authpilot.EventType, from, to authpilot.Status, raw string, detail any) {
	e := authpilot.Event{Type: t, From: from, To: to, RawText: raw}
	if detail != nil {
		e.Detail, _ = json.Marshal(detail)
	}
	x.ch.Events = append(x.ch.Events, e)
}

func (x *actx) merge(ch authpilot.Changes) {
	x.ch.Events = append(x.ch.Events, ch.Events...)
	x.ch.Alerts = append(x.ch.Alerts, ch.Alerts...)
}

// text checks a free-text field: required or not, a length, one line or
// several.
func (x *actx) text(field, v string, required bool, max int, multiline bool) {
	switch {
	case strings.TrimSpace(v) == "" && required:
		x.fail(field, "is required")
	case len(v) > max:
		x.fail(field, "is longer than %d characters", max)
	default:
		if rule := authpilot.TextRule(v, multiline); rule != "" {
			x.fail(field, "%s", rule)
		}
	}
}

// when parses a time: RFC 3339, or a date (the start of that day in the
// practice's zone). "" is the zero time.
func (x *actx) when(field, v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC()
	}
	if d, err := authpilot.ParseDate(v); err == nil {
		return d.In(x.s.Cal.Location()).UTC()
	}
	x.fail(field, "must be an RFC 3339 time or a YYYY-MM-DD date")
	return time.Time{}
}

// notFuture refuses a time after now (a few minutes of clock skew allowed).
func (x *actx) notFuture(field string, t time.Time) {
	if t.After(x.now.Add(5 * time.Minute)) {
		x.fail(field, "is in the future")
	}
}

func (x *actx) date(field, v string) authpilot.Date {
	if v == "" {
		return authpilot.Date{}
	}
	d, err := authpilot.ParseDate(v)
	if err != nil {
		x.fail(field, "must be a YYYY-MM-DD date")
	}
	return d
}

func (x *actx) today() authpilot.Date { return authpilot.DateOf(x.local) }

// caps returns the case's connector's capabilities.
func (x *actx) caps() connectors.Capabilities {
	if x.s.Capabilities == nil {
		return connectors.Capabilities{}
	}
	c, _ := x.s.Capabilities(x.c.ConnectorID)
	return c
}

// attach adds the uploaded files to the case's attachments (kind given
// per file, else kind) and returns their digests.
func (x *actx) attach(kind string) []string {
	var shas []string
	for _, f := range x.files {
		k := f.Kind
		if k == "" {
			k = kind
		}
		if len(x.c.Attachments) >= authpilot.MaxAttachments {
			x.fail("files", "the case would have more than %d attachments", authpilot.MaxAttachments)
			return shas
		}
		known := slices.ContainsFunc(x.c.Attachments, func(a authpilot.Attachment) bool { return a.SHA256 == f.SHA256 && a.Name == f.Name })
		if !known {
			x.c.Attachments = append(x.c.Attachments, authpilot.Attachment{Name: f.Name, Kind: k, ContentType: f.ContentType, SHA256: f.SHA256})
			x.event(authpilot.EventDocumentStored, "", "", "", map[string]string{"sha256": f.SHA256, "kind": authpilot.DocAttachment})
		}
		shas = append(shas, f.SHA256)
	}
	return shas
}

// setStatus moves the case to st with a status_changed event, or refuses
// a transition the domain forbids as a field error on "status".
func (x *actx) setStatus(st authpilot.Status, text string) bool {
	old := x.c.Status
	if old == st {
		return true
	}
	if !authpilot.CanTransition(old, st) {
		x.fail("status", "a %s case cannot become %s", old, st)
		return false
	}
	x.c.Status, x.c.StatusText = st, text
	x.event(authpilot.EventStatusChanged, old, st, text, nil)
	return true
}

// --- note

type noteInput struct {
	Text string `json:"text"`
}

func doNote(x *actx, in noteInput) error {
	x.text("text", in.Text, true, 20000, true)
	if len(x.files) > 0 {
		x.fail("files", "a note takes no files (use attach)")
	}
	if err := x.done(); err != nil {
		return err
	}
	x.event(authpilot.EventNote, "", "", in.Text, nil)
	return nil
}

// --- attach

type attachInput struct {
	Files []NewFile `json:"files"`
	// Kind is the attachments' kind where a file names none (e.g.
	// "pt_notes", "imaging_report").
	Kind string `json:"kind"`
}

func doAttach(x *actx, in attachInput) error {
	x.text("kind", in.Kind, false, 200, false)
	if len(x.files) == 0 {
		x.fail("files", "needs at least one file (multipart, or files[] with content_base64)")
	}
	if x.c.Status.Closed() {
		x.fail("status", "a %s case takes no more documents", x.c.Status)
	}
	if err := x.done(); err != nil {
		return err
	}
	x.attach(in.Kind)
	return x.done()
}

// --- respond

type respondInput struct {
	Files []NewFile `json:"files"`
	// Via is how the response goes: portal or api through the connector,
	// or fax, phone or mail already sent (recorded).
	Via authpilot.Via `json:"via"`
	// SentAt is when a recorded response was sent (required for fax,
	// phone and mail).
	SentAt string `json:"sent_at"`
	Note   string `json:"note"`
	// Documents are sha256 digests of the case's attachments to send too.
	Documents []string `json:"documents"`
}

func doRespond(x *actx, in respondInput) error {
	c := x.c
	if rule := authpilot.ViaRule(in.Via, x.caps().Respond); rule != "" {
		x.fail("via", "%s", rule)
	}
	x.text("note", in.Note, false, 20000, true)
	sent := x.when("sent_at", in.SentAt)
	switch {
	case in.Via.Connector() && in.SentAt != "":
		x.fail("sent_at", "is set by the connector when it sends; leave it out")
	case !in.Via.Connector() && in.SentAt == "":
		x.fail("sent_at", "is required for a response sent by %s", in.Via)
	default:
		x.notFuture("sent_at", sent)
	}
	if c.Status != authpilot.StatusPended {
		x.fail("status", "only a pended case (the payer asked for information) takes a response; this one is %s", c.Status)
	}
	docs := []string{}
	for i, sha := range in.Documents {
		if !slices.ContainsFunc(c.Attachments, func(a authpilot.Attachment) bool { return a.SHA256 == sha }) {
			x.fail(fmt.Sprintf("documents[%d]", i), "is not the sha256 of one of the case's attachments")
		}
		docs = append(docs, sha)
	}
	if len(docs) == 0 && len(x.files) == 0 && strings.TrimSpace(in.Note) == "" {
		x.fail("files", "a response needs documents, files or a note")
	}
	if err := x.done(); err != nil {
		return err
	}
	for _, sha := range x.attach("response") {
		if !slices.Contains(docs, sha) {
			docs = append(docs, sha)
		}
	}
	ir := c.OpenInfoRequest()
	if ir == nil {
		// Pended before requests were recorded (or by hand): the request
		// starts when the case was pended, as far as we know.
		c.InfoRequests = append(c.InfoRequests, authpilot.InfoRequest{Asked: infoAsked(c), RequestedAt: x.now})
		ir = &c.InfoRequests[len(c.InfoRequests)-1]
	}
	if ir.Response != nil && ir.Response.State != authpilot.SendFailed {
		return authpilot.ValidationError{{Field: "status", Rule: "the response to this request is already " + string(ir.Response.State)}}
	}
	r := &authpilot.InfoResponse{Via: in.Via, Documents: docs, Note: in.Note, State: authpilot.SendQueued}
	ir.Response = r
	if in.Via.Connector() {
		x.queued = true
		x.event(authpilot.EventInfoResponse, "", "", "", map[string]any{"via": in.Via, "state": r.State, "documents": len(docs)})
		return nil
	}
	r.State, r.SentAt = authpilot.SendSent, &sent
	ir.ClosedAt = &sent
	x.event(authpilot.EventInfoResponse, "", "", "", map[string]any{"via": in.Via, "state": r.State, "documents": len(docs), "sent_at": sent})
	x.setStatus(authpilot.StatusSubmitted, "Response sent by "+string(in.Via)+"; back in review")
	return x.done()
}

func infoAsked(c *authpilot.Case) string {
	if c.Determination != nil {
		return c.Determination.InfoRequested
	}
	return ""
}

// --- decide

type decideInput struct {
	Files []NewFile `json:"files"`
	// Source is how the determination came: phone, fax, mail, portal, api.
	Source        authpilot.Via            `json:"source"`
	NoticeDate    string                   `json:"notice_date"`
	Status        authpilot.Status         `json:"status"`
	AuthNumber    string                   `json:"auth_number"`
	ValidFrom     string                   `json:"valid_from"`
	ValidTo       string                   `json:"valid_to"`
	ApprovedLines []authpilot.ApprovedLine `json:"approved_lines"`
	Reason        string                   `json:"reason"`
}

var decidable = []authpilot.Status{authpilot.StatusApproved, authpilot.StatusPartiallyApproved,
	authpilot.StatusModified, authpilot.StatusDenied, authpilot.StatusNotRequired}

func doDecide(x *actx, in decideInput) error {
	if in.Source == "" || !slices.Contains(authpilot.Vias, in.Source) {
		x.fail("source", "is required (one of portal, api, fax, phone, mail)")
	}
	if !slices.Contains(decidable, in.Status) {
		x.fail("status", "must be one of approved, partially_approved, modified, denied, not_required")
	}
	notice := x.date("notice_date", in.NoticeDate)
	switch {
	case in.NoticeDate == "":
		x.fail("notice_date", "is required (the date of the payer's notice, YYYY-MM-DD)")
	case notice.After(x.today()):
		x.fail("notice_date", "is in the future")
	}
	if in.Status.Authorized() && in.AuthNumber == "" {
		x.fail("auth_number", "is required for an approval")
	}
	if in.AuthNumber != "" && !authpilot.ValidRef(in.AuthNumber) {
		x.fail("auth_number", "must be 1-64 letters, digits or ._/- characters")
	}
	from, to := x.date("valid_from", in.ValidFrom), x.date("valid_to", in.ValidTo)
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		x.fail("valid_to", "is before valid_from")
	}
	if (!from.IsZero() || !to.IsZero()) && !in.Status.Authorized() {
		x.fail("valid_to", "a validity goes with an approval only")
	}
	for i, l := range in.ApprovedLines {
		if !authpilot.ValidProcedureCode(l.Code) {
			x.fail(fmt.Sprintf("approved_lines[%d].code", i), "must be a CPT or HCPCS code")
		} else if !slices.Contains(x.c.Codes(), l.Code) {
			x.fail(fmt.Sprintf("approved_lines[%d].code", i), "is not one of the case's service lines")
		}
		if l.Units < 1 || l.Units > 999 {
			x.fail(fmt.Sprintf("approved_lines[%d].units", i), "must be between 1 and 999")
		}
	}
	x.text("reason", in.Reason, false, 4000, true)
	if in.Status != "" && in.Status != x.c.Status && !authpilot.CanTransition(x.c.Status, in.Status) {
		x.fail("status", "a %s case cannot become %s (only a submitted, pended or decided request can be decided)", x.c.Status, in.Status)
	}
	if err := x.done(); err != nil {
		return err
	}
	var letters []string
	for i := range x.files {
		x.files[i].letter = true
		letters = append(letters, x.files[i].SHA256)
	}
	d := &authpilot.Determination{Status: in.Status, AuthNumber: in.AuthNumber, ApprovedLines: in.ApprovedLines,
		ValidFrom: from, ValidTo: to, DenialReason: in.Reason, DecidedAt: &x.now, NoticeDate: notice, Source: string(in.Source)}
	text := fmt.Sprintf("Determination recorded by hand (%s notice of %s)", in.Source, notice)
	x.recordDecision(in.Status, text, d, letters)
	x.event(authpilot.EventDeterminationRecorded, "", in.Status, "", map[string]string{"source": string(in.Source), "notice_date": notice.String()})
	return nil
}

// recordDecision applies a determination staff recorded as the payer's
// (the domain's Apply: transition check, history, events, alert), with the
// peer-to-peer and appeal windows in a denial's alert.
func (x *actx) recordDecision(st authpilot.Status, text string, d *authpilot.Determination, letters []string) {
	c := x.c
	if c.Determination != nil && c.Status != st && !c.Status.Watched() {
		// A pending case's determination (what was asked) is replaced.
		d.InfoRequested = c.Determination.InfoRequested
		c.Determination = nil
	} else if c.Determination != nil && c.Status != st {
		prev := *c.Determination
		c.History = append(c.History, prev)
		c.Determination = nil
	}
	ch := c.Apply(authpilot.Observation{CaseID: c.ID, Status: st, StatusText: text, Determination: d}, letters, x.actor, "", x.local)
	decisionWindows(ch.Alerts, x.s.Rules.Compute(c, x.s.Cal, x.now), x.s.Cal.Location())
	x.merge(ch)
}

// --- update

type updateInput struct {
	ServiceDate       *authpilot.Date     `json:"service_date"`
	Facility          *authpilot.Facility `json:"facility"`
	ServicingProvider *authpilot.Provider `json:"servicing_provider"`
}

func doUpdate(x *actx, in updateInput) error {
	c := x.c
	if in.ServiceDate == nil && in.Facility == nil && in.ServicingProvider == nil {
		x.fail("input", "names nothing to update (service_date, facility, servicing_provider)")
	}
	if c.Status.Closed() {
		x.fail("status", "a %s case cannot be updated", c.Status)
	}
	if err := x.done(); err != nil {
		return err
	}
	next := *c
	var fields, prefixes []string
	if in.ServiceDate != nil && *in.ServiceDate != c.ServiceDate {
		next.ServiceDate = *in.ServiceDate
		fields, prefixes = append(fields, "service_date"), append(prefixes, "service_date")
	}
	if in.Facility != nil && *in.Facility != c.Facility {
		next.Facility = *in.Facility
		fields, prefixes = append(fields, "facility"), append(prefixes, "facility.")
	}
	if in.ServicingProvider != nil && *in.ServicingProvider != c.ServicingProvider {
		next.ServicingProvider = *in.ServicingProvider
		fields, prefixes = append(fields, "servicing_provider"), append(prefixes, "servicing_provider.")
	}
	// The same rules as at intake, for the fields that change.
	if err := next.ValidateNew(x.today()); err != nil {
		for _, fe := range err.(authpilot.ValidationError) {
			if slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(fe.Field, p) }) {
				x.errs = append(x.errs, fe)
			}
		}
	}
	if err := x.done(); err != nil {
		return err
	}
	if len(fields) == 0 {
		return nil
	}
	if c.ServiceDate != next.ServiceDate && c.PayerRef != "" {
		// The payer keeps the date it was sent until told otherwise: its
		// pages showing that date are still this case's request.
		if c.PayerServiceDate.IsZero() {
			c.PayerServiceDate = c.ServiceDate
		}
		if c.PayerServiceDate == next.ServiceDate {
			c.PayerServiceDate = authpilot.Date{}
		}
	}
	c.ServiceDate, c.Facility, c.ServicingProvider = next.ServiceDate, next.Facility, next.ServicingProvider
	// Field names only: the values are the patient's.
	x.event(authpilot.EventUpdated, "", "", "", map[string]any{"fields": fields})
	return nil
}

// --- withdraw

type withdrawInput struct {
	Reason string `json:"reason"`
	// Via is portal or api to withdraw through the connector, or fax,
	// phone or mail when it was done outside authpilot. A case the payer
	// never received needs none.
	Via authpilot.Via `json:"via"`
}

func doWithdraw(x *actx, in withdrawInput) error {
	c := x.c
	x.text("reason", in.Reason, false, 2000, true)
	atPayer := c.Status != authpilot.StatusDraft && c.Status != authpilot.StatusReady && c.Status != authpilot.StatusRejected
	switch {
	case c.Status == authpilot.StatusSubmitting:
		x.fail("status", "the submission is in flight: re-queue it first, saying whether the payer received it")
	case !authpilot.CanTransition(c.Status, authpilot.StatusWithdrawn):
		x.fail("status", "a %s case cannot be withdrawn", c.Status)
	case atPayer:
		if rule := authpilot.ViaRule(in.Via, x.caps().Withdraw); rule != "" {
			x.fail("via", "%s", rule)
		}
	case in.Via != "":
		x.fail("via", "the payer never received this request: leave via out")
	}
	if c.Withdrawal != nil && c.Withdrawal.State != authpilot.SendFailed {
		x.fail("status", "a withdrawal is already %s", c.Withdrawal.State)
	}
	if err := x.done(); err != nil {
		return err
	}
	w := &authpilot.Withdrawal{At: x.now, Reason: in.Reason, Via: in.Via, State: authpilot.SendQueued}
	c.Withdrawal = w
	if in.Via.Connector() {
		x.queued = true
		x.event(authpilot.EventWithdrawal, "", "", "", map[string]any{"via": in.Via, "state": w.State})
		return nil
	}
	w.State = authpilot.SendSent
	x.event(authpilot.EventWithdrawal, "", "", "", map[string]any{"via": in.Via, "state": w.State})
	old := c.Status
	x.setStatus(authpilot.StatusWithdrawn, "Withdrawn by the practice")
	a := c.NewAlert(authpilot.AlertStatusChanged, authpilot.SeverityInfo, "Request withdrawn by the practice",
		"Nothing to do; authpilot no longer follows this request", x.now, "", "withdrawn:"+c.ID)
	a.PrevStatus = old
	x.ch.Alerts = append(x.ch.Alerts, a)
	return x.done()
}

// --- requeue

type requeueInput struct {
	// NotReceived is the person's word that the payer did NOT receive a
	// submission left in submitting (checked on its portal).
	NotReceived bool `json:"not_received"`
	// PayerRef is the payer's reference of a submission in submitting
	// found by hand: the case becomes submitted.
	PayerRef string `json:"payer_ref"`
	// SubmittedAt is when that submission reached the payer (default now).
	SubmittedAt string `json:"submitted_at"`
	Note        string `json:"note"`
}

func doRequeue(x *actx, in requeueInput) error {
	c := x.c
	x.text("note", in.Note, false, 2000, true)
	if in.PayerRef != "" && !authpilot.ValidRef(in.PayerRef) {
		x.fail("payer_ref", "must be 1-64 letters, digits or ._/- characters")
	}
	submitted := x.when("submitted_at", in.SubmittedAt)
	x.notFuture("submitted_at", submitted)
	switch c.Status {
	case authpilot.StatusRejected:
		if in.PayerRef != "" {
			x.fail("payer_ref", "a rejected request is not pending at the payer; correct the case and re-queue it without payer_ref")
		}
	case authpilot.StatusSubmitting:
		switch {
		case in.PayerRef != "" && in.NotReceived:
			x.fail("not_received", "contradicts payer_ref: give one or the other")
		case in.PayerRef == "" && !in.NotReceived:
			// Never posted again blindly: it may be at the payer.
			x.fail("not_received", "is required: the submission may have reached the payer; check its portal, then say not_received: true, or give payer_ref")
		}
	default:
		x.fail("status", "only a rejected case or one stuck in submitting can be re-queued; this one is %s", c.Status)
	}
	if in.SubmittedAt != "" && in.PayerRef == "" {
		x.fail("submitted_at", "goes with payer_ref")
	}
	if err := x.done(); err != nil {
		return err
	}
	old := c.Status
	c.LastError = ""
	if in.PayerRef != "" {
		if submitted.IsZero() {
			submitted = x.now
		}
		c.PayerRef, c.SubmittedAt = in.PayerRef, &submitted
		c.Status, c.StatusText = authpilot.StatusSubmitted, "Found at the payer by hand"
		x.event(authpilot.EventReconciled, old, c.Status, in.Note, map[string]string{"payer_ref": in.PayerRef})
		return nil
	}
	c.Status, c.StatusText = authpilot.StatusReady, ""
	x.event(authpilot.EventRequeued, old, c.Status, in.Note, nil)
	return nil
}

// --- p2p

type p2pInput struct {
	// Op is schedule (or reschedule) or outcome.
	Op          string `json:"op"`
	ScheduledAt string `json:"scheduled_at"`
	WithWhom    string `json:"with_whom"`
	Phone       string `json:"phone"`
	outcomeInput
	Note string `json:"note"`
}

// outcomeInput is how a peer-to-peer or an appeal ended, with the approval
// an overturned (or modified) outcome may bring.
type outcomeInput struct {
	Outcome authpilot.Outcome `json:"outcome"`
	// AuthNumber, given with an overturned (or modified) outcome, records
	// the approval at once; else the watch waits for the payer to show it.
	AuthNumber string `json:"auth_number"`
	ValidFrom  string `json:"valid_from"`
	ValidTo    string `json:"valid_to"`
}

// escalation checks what an escalation (what: a peer-to-peer, an appeal)
// needs of the case, and its note.
func (x *actx) escalation(what, note string) {
	x.text("note", note, false, 4000, true)
	if !escalable(x.c.Status) {
		x.fail("status", "%s follows a denial, partial approval or modification; this case is %s", what, x.c.Status)
	}
}

// escalable are the decisions a peer-to-peer or an appeal can change.
func escalable(s authpilot.Status) bool {
	return s == authpilot.StatusDenied || s == authpilot.StatusPartiallyApproved || s == authpilot.StatusModified
}

func doPeerToPeer(x *actx, in p2pInput) error {
	c := x.c
	x.text("with_whom", in.WithWhom, false, 200, false)
	x.text("phone", in.Phone, false, 40, false)
	x.escalation("a peer-to-peer", in.Note)
	open := c.OpenPeerToPeer()
	switch in.Op {
	case "schedule":
		at := x.when("scheduled_at", in.ScheduledAt)
		if in.ScheduledAt == "" {
			x.fail("scheduled_at", "is required (RFC 3339 time)")
		}
		if in.Outcome != "" || in.AuthNumber != "" {
			x.fail("outcome", "goes with op outcome")
		}
		if err := x.done(); err != nil {
			return err
		}
		if open == nil {
			c.PeerToPeers = append(c.PeerToPeers, authpilot.PeerToPeer{})
			open = &c.PeerToPeers[len(c.PeerToPeers)-1]
		}
		for _, d := range x.s.Rules.Compute(c, x.s.Cal, x.now) {
			if d.Kind == authpilot.DeadlinePeerToPeer {
				w := d.Due
				open.WindowCloses = &w
			}
		}
		open.ScheduledAt = &at
		if in.WithWhom != "" {
			open.WithWhom = in.WithWhom
		}
		if in.Phone != "" {
			open.Phone = in.Phone
		}
		if in.Note != "" {
			open.Note = in.Note
		}
		x.event(authpilot.EventPeerToPeer, "", "", in.Note, map[string]any{"op": "schedule", "scheduled_at": at})
		return nil
	case "outcome":
		x.outcome(in.outcomeInput, authpilot.PeerToPeerOutcomes)
		if err := x.done(); err != nil {
			return err
		}
		if open == nil {
			c.PeerToPeers = append(c.PeerToPeers, authpilot.PeerToPeer{})
			open = &c.PeerToPeers[len(c.PeerToPeers)-1]
		}
		open.Outcome, open.OutcomeAt = in.Outcome, &x.now
		if in.WithWhom != "" {
			open.WithWhom = in.WithWhom
		}
		if in.Note != "" {
			open.Note = in.Note
		}
		return x.concluded("peer-to-peer", authpilot.EventPeerToPeer, "outcome", in.Note, in.outcomeInput)
	default:
		x.fail("op", "must be schedule or outcome")
		return x.done()
	}
}

// outcome checks an escalation's outcome (one of valid) and the auth
// number and validity an overturn may carry.
func (x *actx) outcome(o outcomeInput, valid []authpilot.Outcome) {
	if !slices.Contains(valid, o.Outcome) {
		names := make([]string, len(valid))
		for i, v := range valid {
			names[i] = string(v)
		}
		x.fail("outcome", "must be one of %s", strings.Join(names, ", "))
	}
	if o.AuthNumber != "" && o.Outcome != authpilot.OutcomeOverturned && o.Outcome != authpilot.OutcomeModified {
		x.fail("auth_number", "goes with an overturned or modified outcome")
	}
	if o.AuthNumber != "" && !authpilot.ValidRef(o.AuthNumber) {
		x.fail("auth_number", "must be 1-64 letters, digits or ._/- characters")
	}
	if (o.ValidFrom != "" || o.ValidTo != "") && o.AuthNumber == "" {
		x.fail("auth_number", "is required with a validity")
	}
	f, t := x.date("valid_from", o.ValidFrom), x.date("valid_to", o.ValidTo)
	if !f.IsZero() && !t.IsZero() && t.Before(f) {
		x.fail("valid_to", "is before valid_from")
	}
}

// concluded records how an escalation (what) ended: its event (ev, with
// op) and the approval an overturn brings.
func (x *actx) concluded(what string, ev authpilot.EventType, op, note string, o outcomeInput) error {
	x.event(ev, "", "", note, map[string]any{"op": op, "outcome": o.Outcome})
	x.overturn(what, o)
	return x.done()
}

// overturn records the approval an overturned (or modified) outcome
// brings when staff give its auth number; without one the case keeps its
// status until the payer shows the approval (the watch looks daily).
func (x *actx) overturn(what string, o outcomeInput) {
	if o.AuthNumber == "" {
		return
	}
	st := authpilot.StatusApproved
	if o.Outcome == authpilot.OutcomeModified {
		st = authpilot.StatusModified
	}
	if x.c.Status == st {
		return
	}
	d := &authpilot.Determination{Status: st, AuthNumber: o.AuthNumber, ValidFrom: x.date("valid_from", o.ValidFrom), ValidTo: x.date("valid_to", o.ValidTo),
		DecidedAt: &x.now, NoticeDate: x.today(), Source: what}
	x.recordDecision(st, "Decision "+string(o.Outcome)+" after the "+what+" (recorded by staff)", d, nil)
}

// --- appeal

type appealInput struct {
	// Op is file or decide.
	Op        string                `json:"op"`
	Level     authpilot.AppealLevel `json:"level"`
	FiledAt   string                `json:"filed_at"`
	Method    authpilot.Via         `json:"method"`
	Expedited bool                  `json:"expedited"`
	// DecisionDue overrides the appeal clock with the payer's own date.
	DecisionDue string `json:"decision_due"`
	outcomeInput
	Note string `json:"note"`
}

func doAppeal(x *actx, in appealInput) error {
	c := x.c
	x.escalation("an appeal", in.Note)
	open := c.OpenAppeal()
	switch in.Op {
	case "file":
		if !slices.Contains(authpilot.AppealLevels, in.Level) {
			x.fail("level", "must be one of reconsideration, internal_appeal, external_review")
		}
		if in.Method == "" || !slices.Contains(authpilot.Vias, in.Method) {
			x.fail("method", "is required (one of portal, api, fax, phone, mail)")
		}
		filed := x.when("filed_at", in.FiledAt)
		if filed.IsZero() {
			filed = x.now
		}
		x.notFuture("filed_at", filed)
		due := x.when("decision_due", in.DecisionDue)
		if !due.IsZero() && !due.After(filed) {
			x.fail("decision_due", "is not after filed_at")
		}
		if open != nil {
			x.fail("op", "an appeal is already open; record its decision first")
		}
		if err := x.done(); err != nil {
			return err
		}
		ap := authpilot.Appeal{Level: in.Level, FiledAt: filed, Method: in.Method, Expedited: in.Expedited, Note: in.Note}
		ap.DecisionDue, ap.DueRule = authpilot.AppealDecisionDue(c.PlanType, in.Level, in.Expedited, filed, x.s.Cal.Location())
		if !due.IsZero() {
			ap.DecisionDue, ap.DueRule = due, "the payer's date"
		}
		ap.DecisionDue = ap.DecisionDue.UTC()
		c.Appeals = append(c.Appeals, ap)
		x.event(authpilot.EventAppeal, "", "", in.Note, map[string]any{"op": "file", "level": in.Level, "decision_due": ap.DecisionDue})
		return nil
	case "decide":
		if open == nil {
			x.fail("op", "no appeal is open (file one first)")
		}
		x.outcome(in.outcomeInput, authpilot.AppealOutcomes)
		if err := x.done(); err != nil {
			return err
		}
		open.Outcome, open.DecidedAt = in.Outcome, &x.now
		return x.concluded("appeal", authpilot.EventAppeal, "decide", in.Note, in.outcomeInput)
	default:
		x.fail("op", "must be file or decide")
		return x.done()
	}
}

// --- extension

type extensionInput struct {
	DecisionDue string `json:"decision_due"`
	Reason      string `json:"reason"`
}

func doExtension(x *actx, in extensionInput) error {
	c := x.c
	x.text("reason", in.Reason, true, 2000, true)
	due := x.when("decision_due", in.DecisionDue)
	if in.DecisionDue == "" {
		x.fail("decision_due", "is required (the payer's new decision date)")
	}
	if !c.Status.Pending() || c.SubmittedAt == nil {
		x.fail("status", "only a request awaiting the payer's decision can be extended; this case is %s", c.Status)
	}
	if err := x.done(); err != nil {
		return err
	}
	// The limit runs from the original timeframe, however many
	// extensions were recorded.
	base := *c
	base.Extensions = nil
	var orig time.Time
	for _, d := range x.s.Rules.Compute(&base, x.s.Cal, x.now) {
		if d.Kind == authpilot.DeadlineDecisionDue {
			orig = d.Due
		}
	}
	if orig.IsZero() {
		return authpilot.ValidationError{{Field: "status", Rule: "the decision clock is paused for an information request; it resumes with the response"}}
	}
	if in.DecisionDue != "" && !strings.Contains(in.DecisionDue, "T") {
		// A date: the end of that day.
		due = due.Add(24*time.Hour - time.Second)
	}
	days, rule := authpilot.ExtensionLimit(c.PlanType)
	limit := orig.In(x.s.Cal.Location()).AddDate(0, 0, days)
	switch {
	case !due.After(orig):
		x.fail("decision_due", "is not after the decision due without extension (%s)", orig.In(x.s.Cal.Location()).Format(time.RFC3339))
	case due.After(limit):
		x.fail("decision_due", "extends the decision by more than %d days (%s)", days, rule)
	}
	if err := x.done(); err != nil {
		return err
	}
	c.Extensions = append(c.Extensions, authpilot.Extension{At: x.now, DecisionDue: due.UTC(), Reason: in.Reason})
	x.event(authpilot.EventExtension, "", "", in.Reason, map[string]any{"decision_due": due.UTC()})
	return nil
}

// --- deadline

type deadlineInput struct {
	// Op is acknowledge (silence the deadline's alerts) or snooze.
	Op   string                 `json:"op"`
	Kind authpilot.DeadlineKind `json:"kind"`
	// Due picks the deadline when the case has several of the kind
	// (RFC 3339); default the soonest.
	Due string `json:"due"`
	// Until ends a snooze: an RFC 3339 time or a duration ("24h", "3d").
	Until string `json:"until"`
}

func doDeadline(x *actx, in deadlineInput) error {
	c := x.c
	due := x.when("due", in.Due)
	var found *authpilot.Deadline
	for _, d := range x.s.Rules.Compute(c, x.s.Cal, x.now) {
		if d.Kind == in.Kind && (due.IsZero() || d.Due.Equal(due)) {
			found = &d
			break
		}
	}
	if found == nil {
		x.fail("kind", "the case has no such deadline now (see its deadlines)")
	}
	var until *time.Time
	switch in.Op {
	case "acknowledge":
		if in.Until != "" {
			x.fail("until", "goes with op snooze")
		}
	case "snooze":
		t, err := ParseDueBefore(in.Until, x.now)
		switch {
		case in.Until == "":
			x.fail("until", "is required (an RFC 3339 time or a duration such as 24h or 3d)")
		case err != nil:
			x.fail("until", "%s", err.Error())
		case !t.After(x.now):
			x.fail("until", "is not in the future")
		case t.After(x.now.AddDate(0, 0, 90)):
			x.fail("until", "is more than 90 days ahead")
		default:
			t = t.UTC()
			until = &t
		}
	default:
		x.fail("op", "must be acknowledge or snooze")
	}
	if err := x.done(); err != nil {
		return err
	}
	ack := authpilot.DeadlineAck{Kind: found.Kind, Due: found.Due.UTC(), Until: until, At: x.now, By: x.actor}
	c.DeadlineAcks = slices.DeleteFunc(c.DeadlineAcks, func(a authpilot.DeadlineAck) bool { return a.Kind == ack.Kind && a.Due.Equal(ack.Due) })
	c.DeadlineAcks = append(c.DeadlineAcks, ack)
	x.event(authpilot.EventDeadlineAck, "", "", "", map[string]any{"op": in.Op, "kind": ack.Kind, "due": ack.Due, "until": until})
	return nil
}
