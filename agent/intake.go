package agent

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/ids"
)

// Directory tells intake which connector serves a payer, its plan type,
// and the practice's time zone.
type Directory interface {
	// Payer returns the connector and default plan type of a payer.
	Payer(id string) (connector string, plan authpilot.PlanType, ok bool)
	// HasConnector reports whether a connector is configured.
	HasConnector(id string) bool
	Location() *time.Location
}

// Intake validates and stores new cases; the API, the CLI and CSV import
// all go through it so a case is checked the same way whatever the door.
type Intake struct {
	Store authpilot.Store
	Dir   Directory
	Now   func() time.Time
	Log   *slog.Logger
}

// NewCase is a case as offered at intake, with attachments inline.
type NewCase struct {
	authpilot.Case `yaml:",inline"`
	// Files are attachment contents; Case.Attachments are filled from them.
	Files []NewFile `json:"files,omitempty" yaml:"files"`
}

// NewFile is an attachment's content offered at intake.
type NewFile struct {
	Name        string `json:"name" yaml:"name"`
	Kind        string `json:"kind,omitempty" yaml:"kind"`
	ContentType string `json:"content_type,omitempty" yaml:"content_type"`
	Content     []byte `json:"content_base64" yaml:"content"`
}

const maxFileSize = 20 << 20

// Create validates nc, stores its files and the case with a creation event,
// and returns the stored case. Nothing is stored when validation fails. An
// invalid case yields an authpilot.ValidationError; an open case at the
// same payer with the same external_ref yields a *authpilot.DuplicateError
// naming it, and nothing is stored.
func (in *Intake) Create(ctx context.Context, nc *NewCase, actor string) (*authpilot.Case, error) {
	return in.CreateIdempotent(ctx, nc, actor, nil)
}

// CreateIdempotent is Create that also stores rec (an API request made
// with an Idempotency-Key) in the case's own transaction, so a retry with
// the same key finds the case even if the first answer was lost.
func (in *Intake) CreateIdempotent(ctx context.Context, nc *NewCase, actor string, rec *authpilot.IdempotencyRecord) (*authpilot.Case, error) {
	c := nc.Case
	// Server-owned fields are never taken from input; a tracked case may
	// bring its true submission time and earlier determinations.
	submitted, history := c.SubmittedAt, c.History
	c.ID, c.Version, c.Determination, c.SubmittedAt, c.LastError, c.StatusText = "", 0, nil, nil, "", ""
	c.History, c.InfoRequests, c.PeerToPeers, c.Appeals, c.Extensions, c.Withdrawal, c.DeadlineAcks, c.WatchedAt = nil, nil, nil, nil, nil, nil, nil, nil
	c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
	c.Attachments, c.PayerServiceDate = nil, authpilot.Date{}
	c.Normalize()
	now := in.Now()
	var errs authpilot.ValidationError
	if err := c.ValidateNew(authpilot.Today(now, in.Dir.Location())); err != nil {
		errs = append(errs, err.(authpilot.ValidationError)...)
	}
	// The payer's configuration alone chooses the connector: a client may
	// leave connector out or repeat the payer's own, nothing else.
	if c.Payer != "" {
		conn, plan, ok := in.Dir.Payer(c.Payer)
		switch {
		case !ok:
			errs = append(errs, authpilot.FieldError{Field: "payer", Rule: "is not a configured payer (add it under payers: in authpilot.yaml)"})
		case c.ConnectorID != "" && c.ConnectorID != conn:
			errs = append(errs, authpilot.FieldError{Field: "connector",
				Rule: fmt.Sprintf("is chosen by the payer's configuration (payer %q uses %q); leave it out", c.Payer, conn)})
		default:
			c.ConnectorID = conn
			if !in.Dir.HasConnector(conn) {
				errs = append(errs, authpilot.FieldError{Field: "payer", Rule: "names a connector that is not configured"})
			}
		}
		if c.PlanType == "" {
			c.PlanType = plan
		}
	}
	switch {
	case (submitted != nil || len(history) > 0) && !c.Tracked:
		errs = append(errs, authpilot.FieldError{Field: "submitted_at", Rule: "and history are only allowed with tracked: true (an authorization submitted elsewhere)"})
	case submitted != nil && submitted.After(now.Add(5*time.Minute)):
		errs = append(errs, authpilot.FieldError{Field: "submitted_at", Rule: "is in the future"})
	}
	for i, d := range history {
		if !d.Status.Decided() && d.Status != authpilot.StatusPended {
			errs = append(errs, authpilot.FieldError{Field: fmt.Sprintf("history[%d].status", i), Rule: "must be a determination (approved, partially_approved, modified, denied, not_required) or pended"})
		}
		if d.NoticeDate.After(authpilot.Today(now, in.Dir.Location())) {
			errs = append(errs, authpilot.FieldError{Field: fmt.Sprintf("history[%d].notice_date", i), Rule: "is in the future"})
		}
		if len(d.Letters) > 0 {
			errs = append(errs, authpilot.FieldError{Field: fmt.Sprintf("history[%d].letters", i), Rule: "are attached with the decide action, not at intake"})
		}
	}
	if c.PlanType == "" && len(errs) == 0 {
		errs = append(errs, authpilot.FieldError{Field: "plan_type", Rule: "is required (the payer has no default plan type)"})
	}
	if len(nc.Files) > authpilot.MaxAttachments {
		errs = append(errs, authpilot.FieldError{Field: "files", Rule: fmt.Sprintf("has more than %d files", authpilot.MaxAttachments)})
	}
	for i, f := range nc.Files {
		for _, t := range []struct{ field, v string }{{"name", f.Name}, {"kind", f.Kind}, {"content_type", f.ContentType}} {
			if rule := authpilot.TextRule(t.v, false); rule != "" {
				errs = append(errs, authpilot.FieldError{Field: fmt.Sprintf("files[%d].%s", i, t.field), Rule: rule})
			}
		}
		switch {
		case strings.TrimSpace(f.Name) == "":
			errs = append(errs, authpilot.FieldError{Field: fmt.Sprintf("files[%d].name", i), Rule: "is required"})
		case len(f.Content) == 0:
			errs = append(errs, authpilot.FieldError{Field: fmt.Sprintf("files[%d].content_base64", i), Rule: "is empty"})
		case len(f.Content) > maxFileSize:
			errs = append(errs, authpilot.FieldError{Field: fmt.Sprintf("files[%d].content_base64", i), Rule: "is larger than 20 MiB"})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}

	c.ID = ids.New(now)
	c.Status = c.InitialStatus()
	if c.Tracked {
		// Tracked cases were submitted elsewhere; when the submit time is
		// not given, intake time stands in (deadlines need one).
		t := now.UTC()
		if submitted != nil {
			t = submitted.UTC()
		}
		c.SubmittedAt = &t
		c.History = history
	}
	// Content first, owned by no case yet: it is content-addressed and
	// idempotent, so a failure here leaves no case, and a failure later
	// never leaves a case pointing at missing content.
	for _, f := range nc.Files {
		ct := mediaType(f.Name, f.ContentType, f.Content)
		doc, err := in.Store.PutDocument(ctx, authpilot.Document{Kind: authpilot.DocAttachment, Name: f.Name, ContentType: ct}, bytes.NewReader(f.Content))
		if err != nil {
			return nil, fmt.Errorf("store attachment: %w", err)
		}
		c.Attachments = append(c.Attachments, authpilot.Attachment{Name: f.Name, Kind: f.Kind, ContentType: ct, SHA256: doc.SHA256})
	}
	detail, _ := json.Marshal(map[string]any{"tracked": c.Tracked, "attachments": len(c.Attachments)})
	ev := authpilot.Event{Type: authpilot.EventCreated, Actor: actor, To: c.Status, At: now.UTC(), Detail: detail}
	if err := in.Store.CreateCase(ctx, &c, authpilot.Changes{Events: []authpilot.Event{ev}, Idempotency: rec}); err != nil {
		var de *authpilot.DuplicateError
		if errors.As(err, &de) {
			return nil, de
		}
		return nil, fmt.Errorf("store case: %w", err)
	}
	// Then link the content to the case (the same file, a row for the case).
	for i, f := range nc.Files {
		a := c.Attachments[i]
		if _, err := in.Store.PutDocument(ctx, authpilot.Document{CaseID: c.ID, Kind: authpilot.DocAttachment, Name: a.Name, ContentType: a.ContentType}, bytes.NewReader(f.Content)); err != nil {
			in.Log.Error("attachment not linked to its case", "case", c.ID, "err", err)
		}
	}
	in.Log.Info("case created", "case", c.ID, "payer", c.Payer, "track", c.Track, "status", c.Status, "actor", actor)
	return &c, nil
}

// mediaType is a file's media type: the one given, else the one its name's
// extension says, else what its first bytes look like.
func mediaType(name, given string, content []byte) string {
	if given != "" {
		return given
	}
	if t := mime.TypeByExtension(strings.ToLower(filepath.Ext(name))); t != "" {
		return t
	}
	if len(content) > 0 {
		return http.DetectContentType(content)
	}
	return "application/octet-stream"
}

// csvColumns are the columns a practice-management export may carry.
var csvColumns = []string{
	"external_ref", "episode", "patient_first_name", "patient_last_name", "patient_dob", "member_id",
	"payer", "plan_type", "connector", "track", "urgency", "ordering_npi", "ordering_name",
	"servicing_npi", "facility_name", "facility_npi", "service_date", "procedures", "diagnoses",
	"clinical_notes", "tracked", "payer_ref",
}

var requiredCSV = []string{"patient_first_name", "patient_last_name", "patient_dob", "member_id", "payer", "track", "ordering_npi", "service_date", "procedures", "diagnoses"}

// RowError is one CSV row that was not imported.
type RowError struct {
	Line int
	Err  error
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// ImportResult is what a CSV import did.
type ImportResult struct {
	Created []string `json:"created"`
	// Present are rows already stored as an open case; they were skipped.
	Present []PresentRow `json:"present"`
	Errors  []RowError   `json:"-"`
}

// PresentRow is a CSV row (or a case file) that an open case already
// stands for: the same external_ref at the payer, or, for a row without
// one, the same member, codes and service date.
type PresentRow struct {
	Line   int    `json:"line"`
	CaseID string `json:"case_id"`
	// By is what matched: "external_ref" or "request".
	By string `json:"by"`
}

// requestIndex finds open cases by their request (see
// authpilot.Case.RequestKey), loading each payer's open cases once.
type requestIndex struct {
	in     *Intake
	loaded map[string]bool
	byKey  map[string]string
}

func (in *Intake) newRequestIndex() *requestIndex {
	return &requestIndex{in: in, loaded: map[string]bool{}, byKey: map[string]string{}}
}

// find returns the open case that is the same request as nc, if any.
func (x *requestIndex) find(ctx context.Context, nc *NewCase) (string, error) {
	c := nc.Case
	c.ServiceLines = append([]authpilot.ServiceLine(nil), c.ServiceLines...)
	c.Diagnoses = append([]string(nil), c.Diagnoses...)
	c.Normalize()
	if c.Payer == "" {
		return "", nil
	}
	if !x.loaded[c.Payer] {
		open, err := x.in.Store.ListCases(ctx, authpilot.CaseFilter{Payer: c.Payer, Statuses: requestStatuses()})
		if err != nil {
			return "", fmt.Errorf("list open cases: %w", err)
		}
		for _, o := range open {
			if _, ok := x.byKey[o.RequestKey()]; !ok {
				x.byKey[o.RequestKey()] = o.ID
			}
		}
		x.loaded[c.Payer] = true
	}
	return x.byKey[c.RequestKey()], nil
}

func (x *requestIndex) add(c *authpilot.Case) {
	if _, ok := x.byKey[c.RequestKey()]; !ok {
		x.byKey[c.RequestKey()] = c.ID
	}
}

// CreateOnce is Create for the CLI and import, which a person may run
// twice: a case that an open case already stands for (the same
// external_ref at the payer, or, without one, the same member, codes and
// service date) is not created; its ID is returned as present.
func (in *Intake) CreateOnce(ctx context.Context, nc *NewCase, actor string) (c *authpilot.Case, present *PresentRow, err error) {
	return in.createOnce(ctx, in.newRequestIndex(), nc, actor)
}

func (in *Intake) createOnce(ctx context.Context, idx *requestIndex, nc *NewCase, actor string) (*authpilot.Case, *PresentRow, error) {
	if strings.TrimSpace(nc.ExternalRef) == "" {
		id, err := idx.find(ctx, nc)
		if err != nil {
			return nil, nil, err
		}
		if id != "" {
			return nil, &PresentRow{CaseID: id, By: "request"}, nil
		}
	}
	c, err := in.Create(ctx, nc, actor)
	var de *authpilot.DuplicateError
	if errors.As(err, &de) {
		return nil, &PresentRow{CaseID: de.CaseID, By: "external_ref"}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	idx.add(c)
	return c, nil, nil
}

// ImportCSV creates one case per row. A bad row is reported with its line
// and imports nothing; good rows go in; a row an open case already stands
// for (see CreateOnce; rows of the same file count too) is reported as
// present and skipped, so importing a file twice creates nothing new. A malformed header fails the whole
// file before any row is read. progress, if not nil, is called after each row.
func (in *Intake) ImportCSV(ctx context.Context, r io.Reader, actor string, progress func(done int)) (*ImportResult, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("line 1: read header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(csvColumns, h) {
			return nil, fmt.Errorf("line 1: unknown column %q (columns: %s)", h, strings.Join(csvColumns, ", "))
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("line 1: column %q appears twice", h)
		}
		col[h] = i
	}
	for _, req := range requiredCSV {
		if _, ok := col[req]; !ok {
			return nil, fmt.Errorf("line 1: missing required column %q", req)
		}
	}
	res := &ImportResult{}
	idx := in.newRequestIndex()
	rows := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			res.Errors = append(res.Errors, RowError{Line: line, Err: fmt.Errorf("malformed CSV row: %w", unwrapParse(err))})
			continue
		}
		rows++
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		nc, perr := caseFromRow(get)
		if perr == nil {
			var c *authpilot.Case
			var present *PresentRow
			c, present, perr = in.createOnce(ctx, idx, nc, actor)
			switch {
			case present != nil:
				present.Line = line
				res.Present = append(res.Present, *present)
			case perr == nil:
				res.Created = append(res.Created, c.ID)
			}
		}
		if perr != nil {
			var ve authpilot.ValidationError
			if !errors.As(perr, &ve) && ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.Errors = append(res.Errors, RowError{Line: line, Err: perr})
		}
		if progress != nil {
			progress(rows)
		}
	}
	return res, nil
}

func unwrapParse(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// caseFromRow maps a CSV row to a case. procedures are "CODE[xUNITS][@LEVEL]"
// separated by ";", diagnoses by ";".
func caseFromRow(get func(string) string) (*NewCase, error) {
	var errs authpilot.ValidationError
	date := func(col string) authpilot.Date {
		v := get(col)
		if v == "" {
			return authpilot.Date{}
		}
		d, err := authpilot.ParseDate(v)
		if err != nil {
			errs = append(errs, authpilot.FieldError{Field: col, Rule: "must be a date in YYYY-MM-DD form"})
		}
		return d
	}
	c := authpilot.Case{
		ExternalRef: get("external_ref"), Episode: get("episode"),
		Patient: authpilot.Patient{FirstName: get("patient_first_name"), LastName: get("patient_last_name"),
			DOB: date("patient_dob"), MemberID: get("member_id")},
		Payer: get("payer"), PlanType: authpilot.PlanType(get("plan_type")), ConnectorID: get("connector"),
		Track: authpilot.Track(get("track")), Urgency: authpilot.Urgency(get("urgency")),
		OrderingProvider:  authpilot.Provider{NPI: get("ordering_npi"), Name: get("ordering_name")},
		ServicingProvider: authpilot.Provider{NPI: get("servicing_npi")},
		Facility:          authpilot.Facility{Name: get("facility_name"), NPI: get("facility_npi")},
		ServiceDate:       date("service_date"),
		ClinicalNotes:     get("clinical_notes"),
		PayerRef:          get("payer_ref"),
	}
	if v := get("tracked"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, authpilot.FieldError{Field: "tracked", Rule: "must be true or false"})
		}
		c.Tracked = b
	}
	for i, p := range splitList(get("procedures")) {
		line, err := parseProcedure(p)
		if err != nil {
			errs = append(errs, authpilot.FieldError{Field: fmt.Sprintf("procedures[%d]", i), Rule: err.Error()})
			continue
		}
		c.ServiceLines = append(c.ServiceLines, line)
	}
	c.Diagnoses = splitList(get("diagnoses"))
	if len(errs) > 0 {
		return nil, errs
	}
	return &NewCase{Case: c}, nil
}

func parseProcedure(p string) (authpilot.ServiceLine, error) {
	var l authpilot.ServiceLine
	if at := strings.IndexByte(p, '@'); at >= 0 {
		l.Level = strings.TrimSpace(p[at+1:])
		p = p[:at]
	}
	l.Units = 1
	if x := strings.IndexAny(p, "xX*"); x >= 0 {
		n, err := strconv.Atoi(strings.TrimSpace(p[x+1:]))
		if err != nil {
			return l, errors.New(`must look like CODE, CODExUNITS or CODExUNITS@LEVEL`)
		}
		l.Units = n
		p = p[:x]
	}
	l.Code = strings.TrimSpace(p)
	return l, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '|' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// NewIntake returns an intake over st that resolves payers from cfg.
func NewIntake(cfg *config.Config, st authpilot.Store, log *slog.Logger, now func() time.Time) *Intake {
	return &Intake{Store: st, Dir: directory{cfg}, Now: now, Log: log}
}

// CSVColumns lists the columns case import understands.
func CSVColumns() []string { return append([]string(nil), csvColumns...) }
