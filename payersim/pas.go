package payersim

// The simulated Da Vinci PAS API: an OAuth2 token endpoint, Claim/$submit,
// Claim/$inquire, and an admin endpoint under /_sim/pas/ for scenarios,
// faults and stats. Everything is in files named pas*.go; exported names
// start with PAS.

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
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PAS defaults.
const (
	PASDefaultClientID     = "authpilot"
	PASDefaultClientSecret = "pas-sim-secret"
	PASDefaultTokenTTL     = time.Hour
	PASDefaultValidDays    = 90
	pasMaxBody             = 8 << 20
)

// PASFate is what the simulated payer decides for a PAS request.
type PASFate string

// PAS fates.
const (
	// PASApprove certifies every line (A1).
	PASApprove PASFate = "approve"
	// PASDeny denies every line (A3) with the rule's reason.
	PASDeny PASFate = "deny"
	// PASPend pends the request (A4), asking for the rule's reason; with
	// AfterInquiries and Then it decides Then after that many inquiries.
	PASPend PASFate = "pend"
	// PASModify certifies a different code or fewer units: the line gets A6
	// and an addItem carries what was authorized.
	PASModify PASFate = "modify"
	// PASPartial certifies some lines and denies others; a single line is
	// certified in part (A2) with fewer units.
	PASPartial PASFate = "partial"
	// PASReject answers $submit with HTTP 400 and an OperationOutcome (an
	// invalid member, say); nothing is recorded.
	PASReject PASFate = "reject"
)

var pasFates = []PASFate{PASApprove, PASDeny, PASPend, PASModify, PASPartial, PASReject}

// PASRule scripts the fate of the requests it matches. A rule matches a
// request when every set matcher does; the first matching rule wins, and a
// request no rule matches is approved at once.
type PASRule struct {
	// Code matches a request with a service line of this CPT/HCPCS code.
	Code string `json:"code,omitempty"`
	// MemberID matches the Coverage.subscriberId.
	MemberID string  `json:"member_id,omitempty"`
	Fate     PASFate `json:"fate"`
	// Reason is the denial reason, the information a pend asks for, the
	// diagnostics of a reject, or the note of a partial approval.
	Reason string `json:"reason,omitempty"`
	// AfterInquiries delays the decision: the request is pended (A4) until
	// it has been inquired about this many times.
	AfterInquiries int `json:"after_inquiries,omitempty"`
	// Then is the fate a pend turns into after AfterInquiries inquiries.
	Then PASFate `json:"then,omitempty"`
	// ModifyCode and ModifyUnits are what a modify (or partial) authorizes
	// instead: default the same code, and one unit fewer (at least one).
	ModifyCode  string `json:"modify_code,omitempty"`
	ModifyUnits int    `json:"modify_units,omitempty"`
	// ValidDays is the length of the authorization (default 90).
	ValidDays int `json:"valid_days,omitempty"`
}

// PASScenario is the ordered rules of the PAS simulator.
type PASScenario struct {
	Rules []PASRule `json:"rules"`
}

// Validate checks the scenario's fates.
func (sc PASScenario) Validate() error {
	for i, r := range sc.Rules {
		if !pasValidFate(r.Fate) {
			return fmt.Errorf("rules[%d]: unknown fate %q", i, r.Fate)
		}
		if r.Then != "" && (!pasValidFate(r.Then) || r.Then == PASPend || r.Then == PASReject) {
			return fmt.Errorf("rules[%d]: then: %q is not a decision", i, r.Then)
		}
		if r.Then != "" && r.AfterInquiries <= 0 {
			return fmt.Errorf("rules[%d]: then needs after_inquiries", i)
		}
		if r.AfterInquiries < 0 || r.ModifyUnits < 0 || r.ValidDays < 0 {
			return fmt.Errorf("rules[%d]: negative number", i)
		}
		if r.Fate == PASReject && r.AfterInquiries > 0 {
			return fmt.Errorf("rules[%d]: a reject cannot be delayed", i)
		}
	}
	return nil
}

func pasValidFate(f PASFate) bool {
	for _, x := range pasFates {
		if f == x {
			return true
		}
	}
	return false
}

// PASFaultKind is a failure the simulator can inject.
type PASFaultKind string

// PAS fault kinds.
const (
	PASFault500 PASFaultKind = "http_500"
	// PASFault503 answers 503 with Retry-After (RetryAfter seconds).
	PASFault503 PASFaultKind = "http_503"
	// PASFaultSlow delays the answer by Delay, then answers normally.
	PASFaultSlow PASFaultKind = "slow"
	// PASFaultBadRequest answers 400 with an OperationOutcome.
	PASFaultBadRequest PASFaultKind = "bad_request"
	// PASFaultExpireTokens expires every issued token at once.
	PASFaultExpireTokens PASFaultKind = "expire_tokens"
)

// PASFault injects a failure into the next Count calls of an operation.
type PASFault struct {
	Kind PASFaultKind `json:"kind"`
	// Op is "submit", "inquire" or "token"; empty means submit and inquire.
	Op string `json:"op,omitempty"`
	// Count is how many calls it affects (default 1).
	Count int `json:"count,omitempty"`
	// RetryAfter is the Retry-After of a 503, in seconds (0: none).
	RetryAfter int `json:"retry_after,omitempty"`
	// Delay is the pause of a slow answer, e.g. "250ms".
	Delay PASDuration `json:"delay,omitempty"`
	// Diagnostics is the OperationOutcome text of a bad request.
	Diagnostics string `json:"diagnostics,omitempty"`
}

// PASDuration is a time.Duration written as "250ms" in JSON.
type PASDuration time.Duration

// MarshalJSON implements json.Marshaler.
func (d PASDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON implements json.Unmarshaler; it takes "250ms" or
// nanoseconds.
func (d *PASDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration: %w", err)
		}
		*d = PASDuration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("duration: want a string such as \"250ms\"")
	}
	*d = PASDuration(n)
	return nil
}

// PASStats counts what clients did.
type PASStats struct {
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
	// Inquiries counts $inquire calls that matched a request.
	Inquiries int `json:"inquiries"`
	// BadRequests counts 400 answers.
	BadRequests int `json:"bad_requests"`
	// FaultsServed counts injected failures.
	FaultsServed int `json:"faults_served"`
}

// PASOptions configure the PAS simulator.
type PASOptions struct {
	ClientID     string
	ClientSecret string
	// TokenTTL is the life of an access token on the Now clock.
	TokenTTL time.Duration
	// Now is the clock (tokens, timestamps, validity periods).
	Now      func() time.Time
	Scenario PASScenario
	// InquiryParam names the Parameters output of $inquire: "return" (the
	// OperationDefinition's name, default), "responseBundle" (the name in
	// the IG's example), or "bundle" to answer with a bare Bundle.
	InquiryParam string
	// PayerName is the insurer's name in responses.
	PayerName string
	Logger    *slog.Logger
}

// PASServer is the simulated PAS API; it is an http.Handler.
type PASServer struct {
	opts PASOptions
	log  *slog.Logger

	mu      sync.Mutex
	rules   []PASRule
	faults  []*PASFault
	tokens  map[string]time.Time
	subs    map[string]*pasSub // by request Bundle identifier
	byTrace map[string]*pasSub // by Claim.identifier value
	byRef   map[string]*pasSub // by payer reference and authorization number
	seq     int
	stats   PASStats
}

// NewPAS returns a PAS simulator.
func NewPAS(opts PASOptions) *PASServer {
	if opts.ClientID == "" {
		opts.ClientID = PASDefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = PASDefaultClientSecret
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = PASDefaultTokenTTL
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
	s := &PASServer{opts: opts, log: log.With("sim", "pas")}
	s.resetLocked()
	s.rules = append([]PASRule(nil), opts.Scenario.Rules...)
	return s
}

func (s *PASServer) resetLocked() {
	s.faults = nil
	s.tokens = map[string]time.Time{}
	s.subs = map[string]*pasSub{}
	s.byTrace = map[string]*pasSub{}
	s.byRef = map[string]*pasSub{}
	s.stats = PASStats{Calls: map[string]int{}}
}

// SetScenario replaces the rules.
func (s *PASServer) SetScenario(sc PASScenario) error {
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("pas scenario: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append([]PASRule(nil), sc.Rules...)
	return nil
}

// AddFault queues a fault; an expire_tokens fault acts at once.
func (s *PASServer) AddFault(f PASFault) error {
	switch f.Kind {
	case PASFault500, PASFault503, PASFaultSlow, PASFaultBadRequest:
	case PASFaultExpireTokens:
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
func (s *PASServer) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// ExpireTokens makes every issued token invalid now.
func (s *PASServer) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]time.Time{}
}

// Stats returns a copy of the counters.
func (s *PASServer) Stats() PASStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Calls = make(map[string]int, len(s.stats.Calls))
	for k, v := range s.stats.Calls {
		st.Calls[k] = v
	}
	return st
}

// PASRequest is a snapshot of one request accepted by $submit.
type PASRequest struct {
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
	Fate        PASFate   `json:"fate"`
	SubmittedAt time.Time `json:"submitted_at"`
}

// Requests returns every request accepted by $submit, oldest first.
func (s *PASServer) Requests() []PASRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	subs := make([]*pasSub, 0, len(s.subs))
	for _, sub := range s.subs {
		subs = append(subs, sub)
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].n < subs[j].n })
	out := make([]PASRequest, 0, len(subs))
	for _, sub := range subs {
		r := PASRequest{Reference: sub.ref, AuthNumber: sub.authNumber, BundleID: sub.req.bundleID.Value,
			Trace: sub.req.trace.Value, MemberID: sub.req.memberID, Fate: sub.rule.Fate, SubmittedAt: sub.submittedAt}
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
func (s *PASServer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

// ServeHTTP implements http.Handler.
func (s *PASServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
		pasOutcome(w, http.StatusNotFound, "not-found", "no such endpoint")
	}
}

// takeFault returns the next fault for op, consuming one of its calls.
func (s *PASServer) takeFault(op string) *PASFault {
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
		if f.Kind != PASFaultSlow {
			s.stats.FaultsServed++
		}
		s.log.Debug("pas fault injected", "op", op, "kind", string(f.Kind))
		c := *f
		return &c
	}
	return nil
}

// fault applies an injected fault; it reports whether the answer was sent.
func (s *PASServer) fault(w http.ResponseWriter, r *http.Request, op string) bool {
	f := s.takeFault(op)
	if f == nil {
		return false
	}
	switch f.Kind {
	case PASFault500:
		pasOutcome(w, http.StatusInternalServerError, "exception", "simulated internal error")
	case PASFault503:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		}
		pasOutcome(w, http.StatusServiceUnavailable, "transient", "simulated maintenance")
	case PASFaultBadRequest:
		s.countBadRequest()
		msg := f.Diagnostics
		if msg == "" {
			msg = "Subscriber not found"
		}
		pasOutcome(w, http.StatusBadRequest, "invalid", msg)
	case PASFaultSlow:
		// The client may give up first; then there is no one to answer.
		return pasSleep(r.Context(), time.Duration(f.Delay)) != nil
	}
	return true
}

func (s *PASServer) countBadRequest() {
	s.mu.Lock()
	s.stats.BadRequests++
	s.mu.Unlock()
}

func (s *PASServer) count(op string) {
	s.mu.Lock()
	s.stats.Calls[op]++
	s.mu.Unlock()
}

// serveToken is the OAuth2 client-credentials token endpoint (RFC 6749
// 4.4): client authentication by HTTP Basic or by form parameters.
func (s *PASServer) serveToken(w http.ResponseWriter, r *http.Request) {
	s.count("token")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		pasTokenError(w, http.StatusMethodNotAllowed, "invalid_request")
		return
	}
	if err := r.ParseForm(); err != nil {
		pasTokenError(w, http.StatusBadRequest, "invalid_request")
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
		pasTokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		pasTokenError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		pasTokenError(w, http.StatusInternalServerError, "server_error")
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

func pasTokenError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

// authorized checks the bearer token against the Now clock.
func (s *PASServer) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if len(h) < 8 || !strings.EqualFold(h[:7], "bearer ") {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[h[7:]]
	return ok && s.opts.Now().Before(exp)
}

func (s *PASServer) serveAPI(w http.ResponseWriter, r *http.Request, op string) {
	s.count(op)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		pasOutcome(w, http.StatusMethodNotAllowed, "not-supported", "use POST")
		return
	}
	// Read the body first: the server notices a client hanging up (and
	// cancels r.Context, ending a slow fault) only once it is consumed.
	body, err := io.ReadAll(io.LimitReader(r.Body, pasMaxBody))
	if err != nil {
		pasOutcome(w, http.StatusBadRequest, "structure", "unreadable body")
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
		pasOutcome(w, http.StatusUnauthorized, "login", "access token missing, invalid or expired")
		return
	}
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	if !strings.HasPrefix(ct, "application/fhir+json") && !strings.HasPrefix(ct, "application/json") {
		pasOutcome(w, http.StatusUnsupportedMediaType, "not-supported", "send application/fhir+json")
		return
	}
	var status int
	var out any
	if op == "submit" {
		status, out = s.submit(body)
	} else {
		status, out = s.inquire(body)
	}
	if status == http.StatusBadRequest {
		s.countBadRequest()
	}
	s.log.Debug("pas call", "op", op, "status", status)
	pasWrite(w, status, out)
}

func pasWrite(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// pasOutcome answers an OperationOutcome with one issue.
func pasOutcome(w http.ResponseWriter, status int, code, diagnostics string) {
	pasWrite(w, status, pasOutcomeResource(code, diagnostics))
}

func pasOutcomeResource(code, diagnostics string) pasResource {
	return pasResource{
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
func (s *PASServer) serveAdmin(w http.ResponseWriter, r *http.Request, p string) {
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
		sc := PASScenario{Rules: append([]PASRule{}, s.rules...)}
		s.mu.Unlock()
		reply(sc)
	case p == "scenario" && (r.Method == http.MethodPut || r.Method == http.MethodPost):
		var sc PASScenario
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
		var list []PASFault
		if t := strings.TrimSpace(string(raw)); strings.HasPrefix(t, "[") {
			err = pasStrict(raw, &list)
		} else {
			var f PASFault
			err = pasStrict(raw, &f)
			list = []PASFault{f}
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

func pasStrict(raw []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// pasSleep waits d or until ctx ends.
func pasSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
