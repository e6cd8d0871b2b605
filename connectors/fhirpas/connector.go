package fhirpas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/recordings"
)

// Interface guards.
var (
	_ connectors.Responder   = (*Session)(nil)
	_ connectors.LoginReuser = (*Session)(nil)
	_ connectors.Connector   = (*Connector)(nil)
	_ connectors.Session     = (*Session)(nil)
)

// pollAbortAfter is how many cases in a row may fail with a temporary
// error before a poll visit gives up on the payer.
const pollAbortAfter = 3

// Connector is one configured PAS payer.
type Connector struct {
	opts       Options
	id         string
	log        *slog.Logger
	now        func() time.Time
	loc        *time.Location // the practice's zone
	secrets    authpilot.Secrets
	build      *builder
	submitURL  string
	inquireURL string

	mu        sync.Mutex // guards arming the token source
	tokens    *tokenSource
	tokenHTTP *retryablehttp.Client
	api       *retryablehttp.Client
}

func newConnector(o Options, env connectors.Env) (*Connector, error) {
	if env.Secrets == nil {
		return nil, errors.New("fhirpas: build connector: no secrets store")
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("connector", env.ID, "kind", KindName)
	now := env.Now
	if now == nil {
		now = time.Now
	}
	loc := env.Location
	if loc == nil {
		loc = time.UTC
	}
	base := strings.TrimRight(o.BaseURL, "/")
	tokenHTTP := newTokenHTTPClient(o, log, env.Limiter)
	tokens := newTokenSource(o, tokenHTTP.StandardClient())
	return &Connector{
		opts:       o,
		id:         env.ID,
		log:        log,
		now:        now,
		loc:        loc,
		secrets:    env.Secrets,
		build:      &builder{insurer: o.Insurer, requester: o.Requester, now: now},
		submitURL:  base + "/Claim/$submit",
		inquireURL: base + "/Claim/$inquire",
		tokens:     tokens,
		tokenHTTP:  tokenHTTP,
		api:        newAPIClient(o, log, tokens, env.Limiter),
	}, nil
}

// localNow is the clock's time in the practice's zone.
func (c *Connector) localNow() time.Time { return c.now().In(c.loc) }

// Capabilities implements connectors.Connector: PAS submits, polls by
// inquiry, finds a request by its identifier and answers a pended request
// with an update Claim/$submit. It does not withdraw: PAS 2.2.1 has no
// whole-request cancel with a defined answer (a cancel is an update whose
// items carry the infoCancelled modifier, and the IG does not say what
// the payer answers), so a withdrawal is recorded, not sent.
func (c *Connector) Capabilities() connectors.Capabilities {
	return connectors.Capabilities{Submit: true, Poll: true, Find: true, Respond: true}
}

// Open implements connectors.Connector. The first Open reads the client
// secret from the keyring; every Open makes sure a valid access token is at
// hand (the cached one, or a new one).
func (c *Connector) Open(ctx context.Context, rec connectors.Recorder) (connectors.Session, error) {
	if rec == nil {
		rec = nopRecorder{}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fhirpas: open: %w", err)
	}
	start := c.now()
	if err := c.arm(rec); err != nil {
		rec.Step("token", start, err)
		return nil, err
	}
	rec.Redact(c.tokens.secret()) // every run's recorder, not only the first's
	issued := c.tokens.issued.Load()
	tok, origin, err := c.tokens.token(recordings.WithRecorder(ctx, rec))
	if err != nil {
		e := classifyTokenErr(err)
		rec.Step("token", start, e)
		return nil, e
	}
	rec.Redact(tok.AccessToken)
	if origin != nil && rec.Wants("network", false) {
		// The token was issued to an earlier run: its exchange goes in
		// this run's recording too, so the recording replays on its own.
		ex := *origin
		ex.ResponseHeaders = ex.ResponseHeaders.Clone()
		if ex.ResponseHeaders == nil {
			ex.ResponseHeaders = http.Header{}
		}
		ex.ResponseHeaders.Set("X-Authpilot-Recording", "token reused: issued to an earlier run")
		if data, err := json.Marshal(&ex); err == nil {
			rec.Attach("network", "post-token-reused", "application/json", data)
		}
	}
	rec.Step("token", start, nil)
	return &Session{c: c, rec: rec, reused: c.tokens.issued.Load() == issued}, nil
}

// arm reads the client secret once.
func (c *Connector) arm(rec connectors.Recorder) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens.ready() {
		return nil
	}
	secret, err := c.secrets.Get(c.opts.ClientSecret)
	if err != nil {
		return &authpilot.Error{Class: authpilot.ErrAuth, Step: "token",
			Msg: fmt.Sprintf("client secret %q not readable from the keyring", c.opts.ClientSecret), Err: err}
	}
	if secret == "" {
		return &authpilot.Error{Class: authpilot.ErrAuth, Step: "token",
			Msg: fmt.Sprintf("client secret %q is empty", c.opts.ClientSecret)}
	}
	rec.Redact(secret)
	c.tokens.setSecret(secret)
	return nil
}

// Close implements connectors.Connector.
func (c *Connector) Close() error {
	c.api.HTTPClient.CloseIdleConnections()
	c.tokenHTTP.HTTPClient.CloseIdleConnections()
	return nil
}

// Session is one visit to the PAS API.
type Session struct {
	c   *Connector
	rec connectors.Recorder
	// reused is set when Open took a cached access token (no call to the
	// token endpoint).
	reused bool
}

// ReusedLogin implements connectors.LoginReuser.
func (s *Session) ReusedLogin() bool { return s.reused }

// Close implements connectors.Session.
func (s *Session) Close() error { return nil }

// Submit implements connectors.Session: it builds the PAS request Bundle,
// records the intent with commit, posts Claim/$submit and reads the
// ClaimResponse (a decision, a pend, or a rejection).
func (s *Session) Submit(ctx context.Context, c *authpilot.Case, commit func(context.Context) error) (*authpilot.Submission, error) {
	body, start, err := s.bundle("submit", c, s.c.build.submitBundle)
	if err != nil {
		return nil, err
	}
	if err := commit(ctx); err != nil {
		err = fmt.Errorf("fhirpas: submit: record intent: %w", err)
		s.rec.Step("submit", start, err)
		return nil, err
	}
	r, err := s.call(ctx, "submit", c, body)
	if err != nil {
		return nil, err
	}
	return r.submission(c, s.c.localNow()), nil
}

// Respond implements connectors.Responder: it sends the PAS Claim Update
// of c's request (updateBundle: the prior Claim, the note, each file as a
// DocumentReference) with Claim/$submit and reads the ClaimResponse — in
// review (A4 without an information request: submitted) or a decision.
// The answer must be about c's request (its identifier) and show c's
// member, or nothing of it is applied.
func (s *Session) Respond(ctx context.Context, c *authpilot.Case, resp connectors.Response) (authpilot.Observation, error) {
	redact := []string{resp.Note}
	for _, f := range resp.Files {
		redact = append(redact, f.Name)
	}
	s.rec.Redact(redact...)
	obs := authpilot.Observation{CaseID: c.ID}
	body, _, err := s.bundle("respond", c, func(c *authpilot.Case) ([]byte, error) {
		return s.c.build.updateBundle(c, resp)
	})
	if err != nil {
		return obs, err
	}
	r, err := s.call(ctx, "respond", c, body)
	if err != nil {
		return obs, err
	}
	obs.Status, obs.StatusText, obs.Shown = r.status, r.statusText, r.shown
	obs.Determination = r.determination(c, s.c.localNow())
	return obs, nil
}

// Poll implements connectors.Session with one $inquire per case. A failure
// about one case goes in its observation; an authentication failure, a
// cancelled context, a 503/429 with Retry-After (after the client's own
// clamped retries), or pollAbortAfter temporary failures in a row end the
// visit (the observations made so far are returned with the error).
func (s *Session) Poll(ctx context.Context, cases []*authpilot.Case) ([]authpilot.Observation, error) {
	out := make([]authpilot.Observation, 0, len(cases))
	failing := 0
	for _, c := range cases {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("fhirpas: poll: %w", err)
		}
		r, err := s.inquire(ctx, c)
		if err != nil {
			out = append(out, authpilot.Observation{CaseID: c.ID, Err: err})
			switch {
			case errors.Is(err, authpilot.ErrAuth), ctx.Err() != nil:
				return out, err
			case authpilot.RetryAfterOf(err) > 0:
				// The payer said when to come back: end the visit; the
				// agent keeps away until then.
				return out, fmt.Errorf("fhirpas: poll: the payer asked to come back later: %w", err)
			case errors.Is(err, authpilot.ErrRetryable):
				if failing++; failing >= pollAbortAfter {
					return out, fmt.Errorf("fhirpas: poll: %d cases in a row failed: %w", failing, err)
				}
			default:
				failing = 0
			}
			continue
		}
		failing = 0
		o := authpilot.Observation{
			CaseID:        c.ID,
			Status:        r.status,
			StatusText:    r.statusText,
			Determination: r.determination(c, s.c.localNow()),
			Shown:         r.shown,
		}
		if r.payerRef != "" && r.payerRef != c.PayerRef {
			o.PayerRef = r.payerRef
		}
		out = append(out, o)
	}
	return out, nil
}

// Find implements connectors.Session: an inquiry by the request identifier
// derived from the case ID (and the payer's reference when known). It
// returns an error wrapping authpilot.ErrRequestNotFound when the payer has none,
// or when the ClaimResponse is dated before since (it answers an older
// request). What the response shows of the patient (member number, birth
// date) goes in Submission.Shown for the agent to check.
func (s *Session) Find(ctx context.Context, c *authpilot.Case, since time.Time) (*authpilot.Submission, error) {
	r, err := s.inquire(ctx, c)
	if err != nil {
		return nil, err
	}
	if madeBefore(r.created, since) {
		return nil, &authpilot.Error{Class: authpilot.ErrRequestNotFound, Step: "inquire",
			Msg: "the payer's answer is about a request made before the submission intent"}
	}
	return r.submission(c, s.c.localNow()), nil
}

func (s *Session) inquire(ctx context.Context, c *authpilot.Case) (*result, error) {
	body, _, err := s.bundle("inquire", c, s.c.build.inquiryBundle)
	if err != nil {
		return nil, err
	}
	return s.call(ctx, "inquire", c, body)
}

// bundle registers c's PHI with the recorder and builds the request body
// of operation op with build; a build failure is recorded as op's failed
// step. start is when the operation began.
func (s *Session) bundle(op string, c *authpilot.Case, build func(*authpilot.Case) ([]byte, error)) (body []byte, start time.Time, err error) {
	s.register(c)
	start = s.c.now()
	if body, err = build(c); err != nil {
		s.rec.Step(op, start, err)
	}
	return body, start, err
}

// register tells the recorder which values of the case are PHI.
func (s *Session) register(c *authpilot.Case) {
	p := c.Patient
	var vals []string
	for _, v := range []string{p.MemberID, p.FirstName, p.LastName,
		strings.TrimSpace(p.FirstName + " " + p.LastName), p.DOB.String()} {
		if len(strings.TrimSpace(v)) >= 2 {
			vals = append(vals, v)
		}
	}
	if len(vals) > 0 {
		s.rec.Redact(vals...)
	}
}

// call posts one operation, records it as a step, and reads the answer.
func (s *Session) call(ctx context.Context, op string, c *authpilot.Case, body []byte) (*result, error) {
	start := s.c.now()
	r, err := s.exchange(ctx, op, c, body)
	if err != nil {
		err = scrub(err, c)
	}
	s.rec.Step(op, start, err)
	return r, err
}

func (s *Session) exchange(ctx context.Context, op string, c *authpilot.Case, body []byte) (*result, error) {
	url := s.c.inquireURL
	if op != "inquire" { // submit, respond: Claim/$submit
		url = s.c.submitURL
	}
	var resp *response
	for try := 0; ; try++ {
		var err error
		resp, err = s.post(ctx, op, url, body)
		if err != nil {
			return nil, err
		}
		if resp.status != http.StatusUnauthorized || try > 0 {
			break
		}
		// The payer refused a token the library still held valid
		// (revoked, or expired early): fetch a new one and try once more.
		// A 401 is answered before the request is processed, so this is
		// safe for $submit too.
		s.c.log.Warn("pas access token refused, fetching a new one", "op", op)
		s.c.tokens.invalidate(resp.token)
		if tok, _, err := s.c.tokens.token(recordings.WithRecorder(ctx, s.rec)); err == nil {
			s.rec.Redact(tok.AccessToken)
		}
	}
	if err := classifyStatus(op, resp); err != nil {
		return nil, err
	}
	fs, err := extract(resp.body)
	if err != nil {
		var oe *outcomeError
		if errors.As(err, &oe) {
			e := rejected(op, oe.Error(), nil)
			e.PayerText = issueTexts(oe.issues)
			return nil, e
		}
		return nil, &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: op,
			Msg: "response is not a PAS Bundle or Parameters", Err: err}
	}
	if len(fs) == 0 {
		if op == "inquire" {
			return nil, &authpilot.Error{Class: authpilot.ErrRequestNotFound, Step: op,
				Msg: "payer has no request matching the case"}
		}
		return nil, &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: op, Err: errNoClaimResponse}
	}
	f := pick(fs, traceNumber(c.ID))
	r, err := interpret(f)
	if err != nil {
		var ce *authpilot.Error
		if errors.As(err, &ce) {
			ce.Step = op
		}
		return nil, err
	}
	r.shown = shownIdentity(f)
	return r, nil
}

// response is what one logical POST brought back.
type response struct {
	status   int
	header   http.Header
	body     []byte
	token    string // the bearer token the request carried
	attempts int
}

// post sends body with retries (see checkRetry) and returns the final
// response; the client's transport records each attempt into s.rec. Transport failures are ErrRetryable.
func (s *Session) post(ctx context.Context, op, url string, body []byte) (*response, error) {
	st := &callState{submit: op != "inquire"}
	cctx := context.WithValue(recordings.WithRecorder(ctx, s.rec), callStateKey{}, st)
	cctx = httptrace.WithClientTrace(cctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				st.wrote.Store(true)
			}
		},
	})
	req, err := retryablehttp.NewRequestWithContext(cctx, http.MethodPost, url, body)
	if err != nil {
		return nil, fmt.Errorf("fhirpas: %s: build request: %w", op, err)
	}
	req.Header.Set("Content-Type", mediaFHIR)
	req.Header.Set("Accept", mediaFHIR)

	began := time.Now()
	hr, err := s.c.api.Do(req)
	if err != nil {
		var te *tokenError
		switch {
		case errors.As(err, &te):
			return nil, classifyTokenErr(te)
		case ctx.Err() != nil:
			return nil, &authpilot.Error{Class: authpilot.ErrRetryable, Step: op, Msg: "cancelled", Err: ctx.Err()}
		case st.submit && st.wrote.Load():
			return nil, &authpilot.Error{Class: authpilot.ErrRetryable, Step: op,
				Msg: "no answer after the request was sent; the payer may have received it", Err: err}
		}
		return nil, &authpilot.Error{Class: authpilot.ErrRetryable, Step: op,
			Msg: fmt.Sprintf("no answer after %d attempt(s)", st.attempts.Load()), Err: err}
	}
	defer hr.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(hr.Body, maxBody))
	resp := &response{status: hr.StatusCode, header: hr.Header, body: data, attempts: int(st.attempts.Load())}
	if hr.Request != nil {
		resp.token = bearer(hr.Request.Header)
	}
	s.c.log.Debug("pas call", "op", op, "status", hr.StatusCode, "attempts", resp.attempts,
		"duration", time.Since(began))
	if rerr != nil {
		return nil, &authpilot.Error{Class: authpilot.ErrRetryable, Step: op, Msg: "read response", Err: rerr}
	}
	return resp, nil
}

// classifyStatus turns a non-2xx final status into a connector error.
func classifyStatus(op string, r *response) error {
	if r.status >= 200 && r.status < 300 {
		return nil
	}
	what := fmt.Sprintf("HTTP %d", r.status)
	if r.attempts > 1 {
		what += fmt.Sprintf(" after %d attempts", r.attempts)
	}
	detail := ""
	oe, isOO := parseOutcome(r.body)
	if isOO {
		detail = summarizeIssues(oe.issues)
	}
	switch {
	case r.status == http.StatusUnauthorized:
		return &authpilot.Error{Class: authpilot.ErrAuth, Step: op, Msg: what + ": payer refused the access token twice"}
	case r.status == http.StatusForbidden:
		return &authpilot.Error{Class: authpilot.ErrAuth, Step: op, Msg: withDetail(what+": forbidden", detail)}
	case r.status == http.StatusNotFound && isOO && hasIssueCode(oe, "not-found") && op == "inquire":
		return &authpilot.Error{Class: authpilot.ErrRequestNotFound, Step: op, Msg: withDetail(what, detail)}
	case r.status >= 400 && r.status < 500 && r.status != http.StatusTooManyRequests && r.status != http.StatusRequestTimeout:
		if !isOO {
			// Not the payer's answer about this request (a wrong base_url,
			// a gateway): a person checks the connector.
			return &authpilot.Error{Class: authpilot.ErrNeedsHuman, Step: op,
				Msg: what + " without an OperationOutcome (check the connector's base_url)"}
		}
		e := rejected(op, withDetail(what, detail), nil)
		e.PayerText = issueTexts(oe.issues)
		return e
	case r.status >= 500 || r.status == http.StatusTooManyRequests || r.status == http.StatusRequestTimeout:
		if !isOO {
			detail = snippet(r.header.Get("Content-Type"), r.body)
		}
		msg := withDetail(what, detail)
		if op != "inquire" && r.status != http.StatusServiceUnavailable && r.status != http.StatusTooManyRequests {
			msg += " (not retried: the payer may have received the request)"
		}
		e := &authpilot.Error{Class: authpilot.ErrRetryable, Step: op, Msg: msg}
		if r.status == http.StatusServiceUnavailable || r.status == http.StatusTooManyRequests {
			// The agent keeps away until then (clamped by
			// limits.max_retry_after: retryablehttp does not cap it).
			e.RetryAfter, _ = connectors.ParseRetryAfter(r.header.Get("Retry-After"), time.Now())
		}
		return e
	}
	return rejected(op, "unexpected "+what, nil)
}

func withDetail(s, detail string) string {
	if detail == "" {
		return s
	}
	return s + ": " + detail
}

func hasIssueCode(oe *outcomeError, code string) bool {
	for _, is := range oe.issues {
		if is.Code == code {
			return true
		}
	}
	return false
}

// snippet is a short, single-line excerpt of a textual error body.
func snippet(contentType string, body []byte) string {
	ct := strings.ToLower(contentType)
	if len(body) == 0 || !(strings.HasPrefix(ct, "text/plain") || strings.Contains(ct, "json")) {
		return ""
	}
	s := strings.Join(strings.FieldsFunc(string(body), unicode.IsSpace), " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return "body: " + s
}

// scrub removes the case's PHI values from an error's text, whatever their
// case, in case a payer echoed them in a diagnostic.
func scrub(err error, c *authpilot.Case) error {
	var ce *authpilot.Error
	if !errors.As(err, &ce) {
		return err
	}
	p := c.Patient
	var alts []string
	for _, v := range []string{p.MemberID, p.FirstName, p.LastName, p.DOB.String()} {
		if v = strings.TrimSpace(v); len(v) >= 2 {
			alts = append(alts, regexp.QuoteMeta(v))
		}
	}
	if len(alts) > 0 {
		re := regexp.MustCompile("(?i)" + strings.Join(alts, "|"))
		ce.Msg = re.ReplaceAllString(ce.Msg, "<redacted>")
	}
	return err
}

// nopRecorder is used when Open is given no recorder.
type nopRecorder struct{}

func (nopRecorder) ID() string                            { return "" }
func (nopRecorder) Redact(...string)                      {}
func (nopRecorder) Step(string, time.Time, error)         {}
func (nopRecorder) Attach(string, string, string, []byte) {}
func (nopRecorder) Wants(string, bool) bool               { return false }
