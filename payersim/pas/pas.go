// Package pas simulates a payer's Da Vinci PAS 2.x API for the demo, the
// fhirpas connector's tests and the benchmark: an OAuth2 token endpoint,
// Claim/$submit, Claim/$inquire, and an admin endpoint under /_sim/pas/ for
// scenarios, faults and stats. See ../README.md.
package pas

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PAS defaults.
const (
	DefaultClientID     = "authpilot"
	DefaultClientSecret = "pas-sim-secret"
	DefaultTokenTTL     = time.Hour
	DefaultValidDays    = 90
	maxBody             = 8 << 20
)

// Fate is what the simulated payer decides for a PAS request.
type Fate string

// PAS fates.
const (
	// Approve certifies every line (A1).
	Approve Fate = "approve"
	// Deny denies every line (A3) with the rule's reason.
	Deny Fate = "deny"
	// Pend pends the request (A4), asking for the rule's reason; with
	// AfterInquiries and Then it decides Then after that many inquiries.
	Pend Fate = "pend"
	// Modify certifies a different code or fewer units: the line gets A6
	// and an addItem carries what was authorized.
	Modify Fate = "modify"
	// Partial certifies some lines and denies others; a single line is
	// certified in part (A2) with fewer units.
	Partial Fate = "partial"
	// Reject answers $submit with HTTP 400 and an OperationOutcome (an
	// invalid member, say); nothing is recorded.
	Reject Fate = "reject"
)

var fates = []Fate{Approve, Deny, Pend, Modify, Partial, Reject}

// Rule scripts the fate of the requests it matches. A rule matches a
// request when every set matcher does; the first matching rule wins, and a
// request no rule matches is approved at once.
type Rule struct {
	// Code matches a request with a service line of this CPT/HCPCS code.
	Code string `json:"code,omitempty"`
	// MemberID matches the Coverage.subscriberId.
	MemberID string `json:"member_id,omitempty"`
	Fate     Fate   `json:"fate"`
	// Reason is the denial reason, the information a pend asks for, the
	// diagnostics of a reject, or the note of a partial approval.
	Reason string `json:"reason,omitempty"`
	// AfterInquiries delays the decision: the request is pended (A4) until
	// it has been inquired about this many times.
	AfterInquiries int `json:"after_inquiries,omitempty"`
	// Then is the fate a pend turns into after AfterInquiries inquiries.
	Then Fate `json:"then,omitempty"`
	// ModifyCode and ModifyUnits are what a modify (or partial) authorizes
	// instead: default the same code, and one unit fewer (at least one).
	ModifyCode  string `json:"modify_code,omitempty"`
	ModifyUnits int    `json:"modify_units,omitempty"`
	// ValidDays is the length of the authorization (default 90).
	ValidDays int `json:"valid_days,omitempty"`
	// AwaitUpdate (pend): the request stays pended, asking for Reason,
	// until a Claim Update answers it; then it is in review (A4 without
	// a request) for AfterInquiries inquiries and Then decides it.
	AwaitUpdate bool `json:"await_update,omitempty"`
}

// Scenario is the ordered rules of the PAS simulator.
type Scenario struct {
	Rules []Rule `json:"rules"`
}

// Validate checks the scenario's fates.
func (sc Scenario) Validate() error {
	for i, r := range sc.Rules {
		if !slices.Contains(fates, r.Fate) {
			return fmt.Errorf("rules[%d]: unknown fate %q", i, r.Fate)
		}
		if r.Then != "" && (!slices.Contains(fates, r.Then) || r.Then == Pend || r.Then == Reject) {
			return fmt.Errorf("rules[%d]: then: %q is not a decision", i, r.Then)
		}
		if r.Then != "" && r.AfterInquiries <= 0 && !r.AwaitUpdate {
			return fmt.Errorf("rules[%d]: then needs after_inquiries", i)
		}
		if r.AwaitUpdate && r.Fate != Pend {
			return fmt.Errorf("rules[%d]: await_update: only a pend awaits an update", i)
		}
		if r.AfterInquiries < 0 || r.ModifyUnits < 0 || r.ValidDays < 0 {
			return fmt.Errorf("rules[%d]: negative number", i)
		}
		if r.Fate == Reject && r.AfterInquiries > 0 {
			return fmt.Errorf("rules[%d]: a reject cannot be delayed", i)
		}
	}
	return nil
}

// FaultKind is a failure the simulator can inject.
type FaultKind string

// PAS fault kinds.
const (
	Fault500 FaultKind = "http_500"
	// Fault503 answers 503 with Retry-After (RetryAfter seconds).
	Fault503 FaultKind = "http_503"
	// FaultSlow delays the answer by Delay, then answers normally.
	FaultSlow FaultKind = "slow"
	// FaultBadRequest answers 400 with an OperationOutcome.
	FaultBadRequest FaultKind = "bad_request"
	// FaultExpireTokens expires every issued token at once.
	FaultExpireTokens FaultKind = "expire_tokens"
)

// Fault injects a failure into the next Count calls of an operation.
type Fault struct {
	Kind FaultKind `json:"kind"`
	// Op is "submit", "inquire" or "token"; empty means submit and inquire.
	Op string `json:"op,omitempty"`
	// Count is how many calls it affects (default 1).
	Count int `json:"count,omitempty"`
	// RetryAfter is the Retry-After of a 503, in seconds (0: none).
	RetryAfter int `json:"retry_after,omitempty"`
	// Delay is the pause of a slow answer, e.g. "250ms".
	Delay Duration `json:"delay,omitempty"`
	// Diagnostics is the OperationOutcome text of a bad request.
	Diagnostics string `json:"diagnostics,omitempty"`
}

// Duration is a time.Duration written as "250ms" in JSON.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON implements json.Unmarshaler; it takes "250ms" or
// nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration: %w", err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("duration: want a string such as \"250ms\"")
	}
	*d = Duration(n)
	return nil
}

// Stats counts what clients did.
type Stats struct {
	// Calls counts HTTP calls by operation: token, submit, inquire.
	Calls map[string]int `json:"calls"`
	// TokensIssued counts access tokens handed out.
	TokensIssued int `json:"tokens_issued"`
	// TokensRefused counts token requests with bad client credentials.
	TokensRefused int `json:"tokens_refused"`
	// Unauthorized counts API calls refused for a missing or expired token.
	Unauthorized int `json:"unauthorized"`
	// Submissions counts distinct request Bundle identifiers accepted.
	Submissions int `json:"submissions"`
	// Updates counts Claim Updates accepted (Claim.related to a request).
	Updates int `json:"updates"`
	// Inquiries counts $inquire calls that matched a request.
	Inquiries int `json:"inquiries"`
	// BadRequests counts 400 answers.
	BadRequests int `json:"bad_requests"`
	// FaultsServed counts injected failures.
	FaultsServed int `json:"faults_served"`
}

// Options configure the PAS simulator.
type Options struct {
	ClientID     string
	ClientSecret string
	// TokenTTL is the life of an access token on the Now clock.
	TokenTTL time.Duration
	// Now is the clock (tokens, timestamps, validity periods).
	Now      func() time.Time
	Scenario Scenario
	// InquiryParam names the Parameters output of $inquire: "return" (the
	// OperationDefinition's name, default), "responseBundle" (the name in
	// the IG's example), or "bundle" to answer with a bare Bundle.
	InquiryParam string
	// PayerName is the insurer's name in responses.
	PayerName string
	Logger    *slog.Logger
}

// Server is the simulated PAS API; it is an http.Handler.
type Server struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	rules   []Rule
	faults  []*Fault
	tokens  map[string]time.Time
	subs    map[string]*submission // by request Bundle identifier
	byTrace map[string]*submission // by Claim.identifier value
	byRef   map[string]*submission // by payer reference and authorization number
	updates map[string]*submission // by update Bundle identifier
	seq     int
	stats   Stats
}

// New returns a PAS simulator.
func New(opts Options) *Server {
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.InquiryParam == "" {
		opts.InquiryParam = "return"
	}
	if opts.PayerName == "" {
		opts.PayerName = "Summit Health Plan"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: log.With("sim", "pas")}
	s.resetLocked()
	s.rules = append([]Rule(nil), opts.Scenario.Rules...)
	return s
}

func (s *Server) resetLocked() {
	s.faults = nil
	s.tokens = map[string]time.Time{}
	s.subs = map[string]*submission{}
	s.byTrace = map[string]*submission{}
	s.updates = map[string]*submission{}
	s.byRef = map[string]*submission{}
	s.stats = Stats{Calls: map[string]int{}}
}

// SetScenario replaces the rules.
func (s *Server) SetScenario(sc Scenario) error {
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("pas scenario: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append([]Rule(nil), sc.Rules...)
	return nil
}

// AddFault queues a fault; an expire_tokens fault acts at once.
func (s *Server) AddFault(f Fault) error {
	switch f.Kind {
	case Fault500, Fault503, FaultSlow, FaultBadRequest:
	case FaultExpireTokens:
		s.ExpireTokens()
		return nil
	default:
		return fmt.Errorf("pas fault: unknown kind %q", f.Kind)
	}
	switch f.Op {
	case "", "submit", "inquire", "token":
	default:
		return fmt.Errorf("pas fault: unknown op %q", f.Op)
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
	return nil
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// ExpireTokens makes every issued token invalid now.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]time.Time{}
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Calls = make(map[string]int, len(s.stats.Calls))
	for k, v := range s.stats.Calls {
		st.Calls[k] = v
	}
	return st
}

// Request is a snapshot of one request accepted by $submit.
type Request struct {
	// Reference is the payer's preAuthRef; AuthNumber its authorization
	// number (both unique per request).
	Reference  string `json:"reference"`
	AuthNumber string `json:"auth_number"`
	// BundleID is the request Bundle's identifier value (repeats of it are
	// the same request); Trace the Claim.identifier value.
	BundleID string `json:"bundle_id"`
	Trace    string `json:"trace"`
	MemberID string `json:"member_id"`
	// Codes are the items' codes in order; ServiceDate the first item's
	// servicedDate as written ("" when absent).
	Codes       []string  `json:"codes"`
	ServiceDate string    `json:"service_date,omitempty"`
	Fate        Fate      `json:"fate"`
	SubmittedAt time.Time `json:"submitted_at"`
	// Updates are the Claim Updates that answered it, oldest first.
	Updates []Update `json:"updates,omitempty"`
}

// Requests returns every request accepted by $submit, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	subs := make([]*submission, 0, len(s.subs))
	for _, sub := range s.subs {
		subs = append(subs, sub)
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].n < subs[j].n })
	out := make([]Request, 0, len(subs))
	for _, sub := range subs {
		r := Request{Reference: sub.ref, AuthNumber: sub.authNumber, BundleID: sub.req.bundleID.Value,
			Trace: sub.req.trace.Value, MemberID: sub.req.memberID, Fate: sub.rule.Fate, SubmittedAt: sub.submittedAt,
			Updates: slices.Clone(sub.updates)}
		for _, l := range sub.req.lines {
			r.Codes = append(r.Codes, l.code)
			if r.ServiceDate == "" {
				r.ServiceDate = l.date
			}
		}
		out = append(out, r)
	}
	return out
}

// Reset forgets requests, tokens, faults and counters; the rules stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/token":
		s.serveToken(w, r)
	case p == "/Claim/$submit" || p == "/Claim/%24submit":
		s.serveAPI(w, r, "submit")
	case p == "/Claim/$inquire" || p == "/Claim/%24inquire":
		s.serveAPI(w, r, "inquire")
	case strings.HasPrefix(p, "/_sim/pas/"):
		s.serveAdmin(w, r, strings.TrimPrefix(p, "/_sim/pas/"))
	default:
		writeOutcome(w, http.StatusNotFound, "not-found", "no such endpoint")
	}
}

// takeFault returns the next fault for op, consuming one of its calls.
func (s *Server) takeFault(op string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Op != op && !(f.Op == "" && op != "token") {
			continue
		}
		f.Count--
		if f.Count <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		if f.Kind != FaultSlow {
			s.stats.FaultsServed++
		}
		s.log.Debug("pas fault injected", "op", op, "kind", string(f.Kind))
		c := *f
		return &c
	}
	return nil
}

// fault applies an injected fault; it reports whether the answer was sent.
func (s *Server) fault(w http.ResponseWriter, r *http.Request, op string) bool {
	f := s.takeFault(op)
	if f == nil {
		return false
	}
	switch f.Kind {
	case Fault500:
		writeOutcome(w, http.StatusInternalServerError, "exception", "simulated internal error")
	case Fault503:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		}
		writeOutcome(w, http.StatusServiceUnavailable, "transient", "simulated maintenance")
	case FaultBadRequest:
		s.countBadRequest()
		msg := f.Diagnostics
		if msg == "" {
			msg = "Subscriber not found"
		}
		writeOutcome(w, http.StatusBadRequest, "invalid", msg)
	case FaultSlow:
		// The client may give up first; then there is no one to answer.
		return sleepCtx(r.Context(), time.Duration(f.Delay)) != nil
	}
	return true
}

func (s *Server) countBadRequest() {
	s.mu.Lock()
	s.stats.BadRequests++
	s.mu.Unlock()
}

func (s *Server) count(op string) {
	s.mu.Lock()
	s.stats.Calls[op]++
	s.mu.Unlock()
}

// serveToken is the OAuth2 client-credentials token endpoint (RFC 6749
// 4.4): client authentication by HTTP Basic or by form parameters.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.count("token")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeTokenError(w, http.StatusMethodNotAllowed, "invalid_request")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeTokenError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if s.fault(w, r, "token") {
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 2.3.1: the credentials are form-urlencoded first.
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1 {
		s.mu.Lock()
		s.stats.TokensRefused++
		s.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="pas"`)
		writeTokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeTokenError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		writeTokenError(w, http.StatusInternalServerError, "server_error")
		return
	}
	tok := hex.EncodeToString(b[:])
	s.mu.Lock()
	s.tokens[tok] = s.opts.Now().Add(s.opts.TokenTTL)
	s.stats.TokensIssued++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(s.opts.TokenTTL / time.Second),
		"scope":        r.PostForm.Get("scope"),
	})
}

func writeTokenError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

// authorized checks the bearer token against the Now clock.
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if len(h) < 8 || !strings.EqualFold(h[:7], "bearer ") {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[h[7:]]
	return ok && s.opts.Now().Before(exp)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, op string) {
	s.count(op)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOutcome(w, http.StatusMethodNotAllowed, "not-supported", "use POST")
		return
	}
	// Read the body first: the server notices a client hanging up (and
	// cancels r.Context, ending a slow fault) only once it is consumed.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, "structure", "unreadable body")
		return
	}
	if s.fault(w, r, op) {
		return
	}
	if !s.authorized(r) {
		s.mu.Lock()
		s.stats.Unauthorized++
		s.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeOutcome(w, http.StatusUnauthorized, "login", "access token missing, invalid or expired")
		return
	}
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	if !strings.HasPrefix(ct, "application/fhir+json") && !strings.HasPrefix(ct, "application/json") {
		writeOutcome(w, http.StatusUnsupportedMediaType, "not-supported", "send application/fhir+json")
		return
	}
	var status int
	var out any
	switch req, problem := parseBundle(body, op != "submit"); {
	case problem != "":
		status, out = http.StatusBadRequest, outcomeResource("structure", problem)
	case op == "submit":
		status, out = s.submit(req)
	default:
		status, out = s.inquire(req)
	}
	if status == http.StatusBadRequest {
		s.countBadRequest()
	}
	s.log.Debug("pas call", "op", op, "status", status)
	writeJSON(w, status, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// writeOutcome answers an OperationOutcome with one issue.
func writeOutcome(w http.ResponseWriter, status int, code, diagnostics string) {
	writeJSON(w, status, outcomeResource(code, diagnostics))
}

func outcomeResource(code, diagnostics string) resource {
	return resource{
		"resourceType": "OperationOutcome",
		"issue": []any{map[string]any{
			"severity":    "error",
			"code":        code,
			"diagnostics": diagnostics,
		}},
	}
}

// serveAdmin is the scripting endpoint:
//
//	GET  /_sim/pas/stats            counters
//	GET  /_sim/pas/scenario         the rules
//	PUT  /_sim/pas/scenario         replace the rules ({"rules":[...]})
//	POST /_sim/pas/faults           queue a fault (one object or a list)
//	DELETE /_sim/pas/faults         drop queued faults
//	POST /_sim/pas/tokens/expire    expire every token now
//	POST /_sim/pas/reset            forget requests, tokens, faults, counters
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request, p string) {
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(status int, err error) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
	}
	body := func(v any) error {
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		return dec.Decode(v)
	}
	switch {
	case p == "stats" && r.Method == http.MethodGet:
		reply(s.Stats())
	case p == "scenario" && r.Method == http.MethodGet:
		s.mu.Lock()
		sc := Scenario{Rules: append([]Rule{}, s.rules...)}
		s.mu.Unlock()
		reply(sc)
	case p == "scenario" && (r.Method == http.MethodPut || r.Method == http.MethodPost):
		var sc Scenario
		if err := body(&sc); err != nil {
			fail(http.StatusBadRequest, fmt.Errorf("scenario: %w", err))
			return
		}
		if err := s.SetScenario(sc); err != nil {
			fail(http.StatusBadRequest, err)
			return
		}
		reply(sc)
	case p == "faults" && r.Method == http.MethodPost:
		raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			fail(http.StatusBadRequest, err)
			return
		}
		var list []Fault
		if t := strings.TrimSpace(string(raw)); strings.HasPrefix(t, "[") {
			err = decodeStrict(raw, &list)
		} else {
			var f Fault
			err = decodeStrict(raw, &f)
			list = []Fault{f}
		}
		if err != nil {
			fail(http.StatusBadRequest, fmt.Errorf("faults: %w", err))
			return
		}
		for _, f := range list {
			if err := s.AddFault(f); err != nil {
				fail(http.StatusBadRequest, err)
				return
			}
		}
		reply(map[string]int{"queued": len(list)})
	case p == "faults" && r.Method == http.MethodDelete:
		s.ClearFaults()
		reply(map[string]bool{"cleared": true})
	case p == "tokens/expire" && r.Method == http.MethodPost:
		s.ExpireTokens()
		reply(map[string]bool{"expired": true})
	case p == "reset" && r.Method == http.MethodPost:
		s.Reset()
		reply(map[string]bool{"reset": true})
	default:
		fail(http.StatusNotFound, fmt.Errorf("no admin route %s %s", r.Method, p))
	}
}

func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
