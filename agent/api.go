package agent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent/handoff"
	"github.com/authpilot/authpilot/internal/jsonhttp"
	"github.com/authpilot/authpilot/store"
)

// Request bodies. A body over maxBody is refused before it is read. A
// body over smallBody (or of unknown length) needs one of maxLargeBodies
// slots while it is read and decoded, so concurrent uploads cannot take
// more than a few times maxBody of memory; a request that finds no slot
// within largeBodyWait gets 503 with Retry-After.
const (
	maxBody        = 32 << 20
	smallBody      = 1 << 20
	maxLargeBodies = 2
	largeBodyWait  = 15 * time.Second
)

// ServerTimeouts bound the API server's connections: a client that stalls
// sending headers or a body, or keeps a connection idle, is cut off.
type ServerTimeouts struct {
	ReadHeader time.Duration
	// Read bounds reading a whole request, headers and body.
	Read  time.Duration
	Write time.Duration
	Idle  time.Duration
}

// DefaultServerTimeouts are the API server's timeouts unless Options
// change them.
var DefaultServerTimeouts = ServerTimeouts{ReadHeader: 5 * time.Second, Read: 30 * time.Second,
	Write: 60 * time.Second, Idle: 30 * time.Second}

// NewServer returns the HTTP server for h with the timeouts t (zero
// fields take DefaultServerTimeouts') and a 64 KiB header limit.
func NewServer(h http.Handler, t ServerTimeouts, log *slog.Logger) *http.Server {
	d := DefaultServerTimeouts
	pick := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: pick(t.ReadHeader, d.ReadHeader), ReadTimeout: pick(t.Read, d.Read),
		WriteTimeout: pick(t.Write, d.Write), IdleTimeout: pick(t.Idle, d.Idle), MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}

// API is the intake and worklist HTTP API.
type API struct {
	Intake  *Intake
	Store   authpilot.Store
	Token   authpilot.Secret
	Log     *slog.Logger
	Metrics *Metrics
	Now     func() time.Time
	// Connectors are the configured connectors (GET /v1/connectors, resume).
	Connectors []ConnectorLimits
	// Actions carries out staff actions on cases.
	Actions *Actions
	// TokenName names the bearer token (its secret's name): the actor of
	// the API's actions.
	TokenName string
	// People, if set, resolves a person's own API token (`authpilot token
	// create`): what is done with it is theirs ("user:NAME"), a viewer's
	// token only reads, and each read of a case is access-logged.
	People PersonTokens
	// HandOffs are the visits paused for a person (/v1/handoffs); nil
	// serves an empty broker.
	HandOffs *handoff.Broker

	largeOnce sync.Once
	large     chan struct{}
}

// CaseView is a case with its history, deadlines and documents.
type CaseView struct {
	*authpilot.Case
	Events    []authpilot.Event    `json:"events"`
	Deadlines []authpilot.Deadline `json:"deadlines"`
	Documents []authpilot.Document `json:"documents"`
}

// route is one pattern the API serves and its handler.
type route struct {
	pattern string
	handler http.Handler
}

// routes is the one list of what the API serves: Handler registers
// exactly these, and TestOpenAPIRouteCoverage checks that each is
// documented in openapi.json and that each documented route answers.
// /healthz, /metrics and /v1/openapi.json are open (they carry no PHI and
// no secret); every other /v1 route needs the bearer token. Every POST
// that changes a case goes through idempotent: Idempotency-Key is
// honoured.
func (a *API) routes() []route {
	rs := []route{
		{"GET /healthz", http.HandlerFunc(a.healthz)},
		{"GET /metrics", promhttp.HandlerFor(a.Metrics.Registry, promhttp.HandlerOpts{})},
		{"GET /v1/openapi.json", http.HandlerFunc(serveOpenAPI)},
		{"POST /v1/cases", a.auth(a.idempotent(a.createCase))},
		{"GET /v1/cases", a.auth(a.listCases)},
		{"GET /v1/cases/{id}", a.auth(a.getCase)},
		{"GET /v1/cases/{id}/documents/{sha256}", a.auth(a.getDocument)},
		{"GET /v1/cases/{id}/events", a.auth(a.getEvents)},
		// Actions honour If-Match and Idempotency-Key themselves (Actions.Do).
		{"POST /v1/cases/{id}/actions/{name}", a.auth(a.caseAction)},
		{"PATCH /v1/cases/{id}", a.auth(a.patchCase)},
		{"DELETE /v1/cases/{id}", a.auth(a.deleteCase)},
		{"GET /v1/connectors", a.auth(a.listConnectors)},
		{"POST /v1/connectors/{id}/resume", a.auth(a.resumeConnector)},
	}
	b := a.HandOffs
	if b == nil {
		b = handoff.New(a.Now, a.Log)
	}
	for _, rt := range b.Routes() {
		rs = append(rs, route{rt.Pattern, a.auth(rt.Handler)})
	}
	return rs
}

// Handler returns the API's routes (see routes; register none elsewhere).
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.routes() {
		mux.Handle(rt.pattern, rt.handler)
	}
	return a.logRequests(mux)
}

// PersonTokens finds the enabled account whose API token hashes to
// tokenHash (store.HashToken); authpilot.ErrNotFound when none.
type PersonTokens interface {
	TokenUser(ctx context.Context, tokenHash string) (store.User, error)
}

// caller is who sent an API request: the service token, or a person by
// their own token.
type caller struct {
	actor  string
	person bool
	from   string
}

type callerKey struct{}

// callerOf is the request's caller (auth put it there).
func (a *API) callerOf(r *http.Request) caller {
	if c, ok := r.Context().Value(callerKey{}).(caller); ok {
		return c
	}
	return caller{actor: a.actor()}
}

func (a *API) auth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		want := a.Token.Reveal()
		c := caller{actor: a.actor()}
		if !ok || want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			u, err := a.person(r, got, ok)
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="authpilot"`)
				writeError(w, http.StatusUnauthorized, "missing or wrong bearer token", nil)
				return
			}
			c = caller{actor: "user:" + u.Name, person: true, from: remoteHost(r)}
			if r.Method != http.MethodGet && !u.Role.AtLeast(store.RoleCoordinator) {
				writeError(w, http.StatusForbidden, "this token's account ("+string(u.Role)+") may only read", nil)
				return
			}
			// A person's read of a case is logged before it is answered.
			if id := r.PathValue("id"); r.Method == http.MethodGet && id != "" && strings.HasPrefix(r.URL.Path, "/v1/cases/") {
				err := a.Store.LogAccess(r.Context(), authpilot.Access{Actor: c.actor, Action: "api read", From: c.from, CaseIDs: []string{id}})
				if err != nil {
					a.Log.Error("access log failed", "err", err)
					writeError(w, http.StatusServiceUnavailable, "the access log cannot be written; nothing returned", nil)
					return
				}
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

// person is the account whose own API token got is.
func (a *API) person(r *http.Request, got string, sent bool) (store.User, error) {
	if !sent || got == "" || a.People == nil {
		return store.User{}, authpilot.ErrNotFound
	}
	u, err := a.People.TokenUser(r.Context(), store.HashToken(got))
	if err != nil && !errors.Is(err, authpilot.ErrNotFound) {
		a.Log.Error("look up a person's token failed", "err", err)
	}
	return u, err
}

// remoteHost is the address a request came from, without its port.
func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// logRequests logs method, route pattern, status and duration; never the
// query or the body, which may hold PHI.
func (a *API) logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		a.Metrics.HTTPRequests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		a.Log.Debug("http request", "route", route, "status", sw.status, "duration", time.Since(start))
	})
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := a.Store.ListCases(r.Context(), authpilot.CaseFilter{Limit: 1}); err != nil {
		a.Log.Error("health check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *API) createCase(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json", nil)
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	var nc NewCase
	if err := dec.Decode(&nc); err != nil {
		writeError(w, http.StatusBadRequest, describeJSONError(err), nil)
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "body holds more than one JSON value", nil)
		return
	}
	idem := idempotencyOf(r)
	var rec *authpilot.IdempotencyRecord
	if idem != nil {
		rec = &idem.rec
		rec.Status = http.StatusCreated
	}
	c, err := a.Intake.CreateIdempotent(r.Context(), &nc, "api", rec)
	var ve authpilot.ValidationError
	var de *authpilot.DuplicateError
	switch {
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, "invalid case", ve)
		return
	case idem != nil && errors.Is(err, authpilot.ErrConflict) && a.replayStored(w, r, idem):
		// A concurrent request with the same key won the race.
		return
	case errors.As(err, &de):
		w.Header().Set("Location", "/v1/cases/"+de.CaseID)
		writeJSON(w, http.StatusConflict, map[string]any{
			"error":         "an open case at this payer already has this external_ref; nothing was created",
			"existing_case": de.CaseID,
			"fields":        authpilot.ValidationError{{Field: "external_ref", Rule: "is already used by open case " + de.CaseID + " at this payer"}},
		})
		return
	case err != nil:
		a.Log.Error("create case failed", "err", err)
		writeError(w, http.StatusInternalServerError, "could not store the case", nil)
		return
	}
	if idem != nil {
		idem.stored = true
	}
	a.Metrics.CasesCreated.Inc()
	w.Header().Set("Location", "/v1/cases/"+c.ID)
	writeJSON(w, http.StatusCreated, c)
}

// describeJSONError names the field of a decoding error without echoing
// values.
func describeJSONError(err error) string {
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ute):
		return fmt.Sprintf("field %s: must be %s", ute.Field, ute.Type)
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &mbe):
		return fmt.Sprintf("body is larger than %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return "body is empty"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case strings.Contains(err.Error(), "YYYY-MM-DD"):
		return "a date must be in YYYY-MM-DD form"
	}
	return "malformed JSON"
}

func (a *API) getCase(w http.ResponseWriter, r *http.Request) {
	v, err := LoadCaseView(r.Context(), a.Store, r.PathValue("id"))
	if a.readFailed(w, r, "case", err) {
		return
	}
	w.Header().Set("ETag", etag(v.Case))
	writeJSON(w, http.StatusOK, v)
}

// readFailed answers a failed read of the case named by the path, or of
// its what: 404 when there is no such case, else 500 (logged). It reports
// whether err was a failure.
func (a *API) readFailed(w http.ResponseWriter, r *http.Request, what string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, authpilot.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such case", nil)
	default:
		a.Log.Error("read "+what+" failed", "case", r.PathValue("id"), "err", err)
		writeError(w, http.StatusInternalServerError, "could not read the "+what, nil)
	}
	return true
}

func (a *API) listCases(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f authpilot.CaseFilter
	var errs authpilot.ValidationError
	for key := range q {
		if !slices.Contains(listParams, key) {
			errs = append(errs, authpilot.FieldError{Field: key, Rule: "is not a filter (" + strings.Join(listParams, ", ") + ")"})
		}
	}
	for _, s := range q["status"] {
		for _, part := range strings.Split(s, ",") {
			st, err := authpilot.ParseStatus(part)
			if err != nil {
				errs = append(errs, authpilot.FieldError{Field: "status", Rule: err.Error()})
				continue
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	f.Payer, f.ConnectorID, f.Episode = q.Get("payer"), q.Get("connector"), q.Get("episode")
	if _, ok := q["q"]; ok {
		f.Query = q.Get("q")
		if rule := SearchRule(f.Query); rule != "" {
			errs = append(errs, authpilot.FieldError{Field: "q", Rule: rule})
		}
	}
	f.Track = authpilot.Track(q.Get("track"))
	if v := q.Get("due_before"); v != "" {
		t, err := ParseDueBefore(v, a.Now())
		if err != nil {
			errs = append(errs, authpilot.FieldError{Field: "due_before", Rule: err.Error()})
		}
		f.DueBefore = t
	}
	f.Limit = 500
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 5000 {
			errs = append(errs, authpilot.FieldError{Field: "limit", Rule: "must be an integer from 1 to 5000"})
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		if _, err := a.Store.GetCase(r.Context(), v); err != nil {
			errs = append(errs, authpilot.FieldError{Field: "cursor", Rule: "is not a case ID (take it from the next link of the page before)"})
		}
		f.After = v
	}
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, "invalid query", errs)
		return
	}
	c := a.callerOf(r)
	cases, err := SearchCasesFrom(r.Context(), a.Store, f, c.actor, c.from)
	if err == nil && c.person && f.Query == "" && len(cases) > 0 {
		// A person's list shows patients even without a search.
		err = LogAccess(r.Context(), a.Store, authpilot.Access{Action: "api list", Actor: c.actor, From: c.from}, cases)
	}
	if err != nil {
		a.Log.Error("list cases failed", "err", err)
		writeError(w, http.StatusInternalServerError, "could not list cases (or write the access log of a search); nothing returned", nil)
		return
	}
	if cases == nil {
		cases = []*authpilot.Case{}
	}
	body := map[string]any{"cases": cases}
	// A full page may have more after it: next continues after its last
	// case, with the same filters.
	if len(cases) == f.Limit {
		q.Set("cursor", cases[len(cases)-1].ID)
		body["next"] = "/v1/cases?" + q.Encode()
	}
	writeJSON(w, http.StatusOK, body)
}

// listParams are the query parameters of GET /v1/cases.
var listParams = []string{"status", "payer", "connector", "track", "episode", "due_before", "q", "limit", "cursor"}

// SearchRule checks a search (q): 1-100 characters of printable text.
func SearchRule(q string) string {
	if strings.TrimSpace(strings.ReplaceAll(q, ",", " ")) == "" || len(q) > 100 {
		return "must be 1-100 characters (a case ID prefix, an external or payer ref, a member ID or a patient's name)"
	}
	return authpilot.TextRule(q, false)
}

// ParseDueBefore accepts RFC 3339, a date, or a duration from now ("48h", "7d").
func ParseDueBefore(v string, now time.Time) (time.Time, error) { return parseWhen(v, now, 1) }

// ParseSince accepts RFC 3339, a date, or a duration back from now ("24h",
// "7d").
func ParseSince(v string, now time.Time) (time.Time, error) { return parseWhen(v, now, -1) }

// parseWhen reads RFC 3339, a date (midnight UTC), or a duration ("48h",
// "7d") from now forward (dir 1) or back (dir -1).
func parseWhen(v string, now time.Time, dir int) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := authpilot.ParseDate(v); err == nil {
		return d.In(time.UTC), nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(time.Duration(dir*n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(time.Duration(dir) * d), nil
	}
	return time.Time{}, errors.New("must be an RFC 3339 time, a YYYY-MM-DD date or a duration such as 48h or 7d")
}

func (a *API) getDocument(w http.ResponseWriter, r *http.Request) {
	rc, doc, err := OpenCaseDocument(r.Context(), a.Store, r.PathValue("id"), r.PathValue("sha256"))
	switch {
	case errors.Is(err, authpilot.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such document for this case", nil)
		return
	case err != nil:
		a.Log.Error("open document failed", "case", r.PathValue("id"), "err", err)
		writeError(w, http.StatusInternalServerError, "could not read the document", nil)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", doc.ContentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", doc.Name))
	_, _ = io.Copy(w, rc)
}

// OpenCaseDocument opens the document sha256 of case caseID: one the case
// has a document row for, or one the case itself names. Neither is an
// error wrapping authpilot.ErrNotFound.
func OpenCaseDocument(ctx context.Context, st authpilot.Store, caseID, sha256 string) (io.ReadCloser, authpilot.Document, error) {
	// The same content may be stored for several cases (or for none, while
	// intake links it), so the case's own document row is the authority.
	docs, err := st.Documents(ctx, caseID)
	var doc *authpilot.Document
	for i := range docs {
		if docs[i].SHA256 == sha256 {
			doc = &docs[i]
		}
	}
	if err == nil && doc == nil {
		// Named by the case but its row not linked (see namesDocument).
		if c, cerr := st.GetCase(ctx, caseID); cerr == nil && namesDocument(c, sha256) {
			doc = &authpilot.Document{SHA256: sha256}
		}
	}
	if err != nil || doc == nil {
		return nil, authpilot.Document{}, fmt.Errorf("document of case %s: %w", caseID, authpilot.ErrNotFound)
	}
	rc, first, err := st.OpenDocument(ctx, doc.SHA256)
	if err != nil {
		return nil, authpilot.Document{}, fmt.Errorf("open document: %w", err)
	}
	if doc.Name == "" {
		doc.Name, doc.ContentType = first.Name, first.ContentType
	}
	return rc, *doc, nil
}

// writeJSON answers status with v as indented JSON.
var writeJSON = jsonhttp.Write

func writeError(w http.ResponseWriter, status int, msg string, fields authpilot.ValidationError) {
	body := map[string]any{"error": msg}
	if len(fields) > 0 {
		body["fields"] = fields
	}
	writeJSON(w, status, body)
}

// Metrics are the agent's Prometheus metrics, on a registry of its own.
type Metrics struct {
	Registry      *prometheus.Registry
	HTTPRequests  *prometheus.CounterVec
	CasesCreated  prometheus.Counter
	ConnectorRuns *prometheus.CounterVec
	RunDuration   *prometheus.HistogramVec
	StatusChanges *prometheus.CounterVec
	AlertsRaised  *prometheus.CounterVec
	Logins        *prometheus.CounterVec
	RateLimitWait *prometheus.HistogramVec
}

// NewMetrics registers the agent's metrics and the Go runtime collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authpilot_http_requests_total",
			Help: "API requests by route and status code."}, []string{"route", "code"}),
		CasesCreated: prometheus.NewCounter(prometheus.CounterOpts{Name: "authpilot_cases_created_total",
			Help: "Cases accepted at intake."}),
		ConnectorRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authpilot_connector_runs_total",
			Help: "Connector runs by connector, job and outcome."}, []string{"connector", "job", "outcome"}),
		RunDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "authpilot_connector_run_seconds",
			Help: "Connector run wall time.", Buckets: prometheus.ExponentialBuckets(0.1, 2, 12)}, []string{"connector", "job"}),
		StatusChanges: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authpilot_status_changes_total",
			Help: "Case status changes applied, by new status."}, []string{"status"}),
		AlertsRaised: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authpilot_alerts_raised_total",
			Help: "Alerts written to the outbox, by type."}, []string{"type"}),
		Logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authpilot_connector_sessions_total",
			Help: "Connector sessions opened (logins), by connector."}, []string{"connector"}),
		RateLimitWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "authpilot_connector_rate_limit_wait_seconds",
			Help:    "Waits for a connector's limits.requests_per_minute before a request to the payer.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12)}, []string{"connector"}),
	}
	m.Registry.MustRegister(m.HTTPRequests, m.CasesCreated, m.ConnectorRuns, m.RunDuration,
		m.StatusChanges, m.AlertsRaised, m.Logins, m.RateLimitWait,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
