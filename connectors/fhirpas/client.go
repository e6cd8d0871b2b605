package fhirpas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/recordings"
)

// maxBody bounds what is read of a response.
const maxBody = 16 << 20

// rejected builds an ErrRejected connector error.
func rejected(step, msg string, err error) *authpilot.Error {
	return &authpilot.Error{Class: authpilot.ErrRejected, Step: step, Msg: msg, Err: err}
}

// callState follows one logical call across its attempts. CheckRetry finds
// it in the request's context.
type callState struct {
	// submit marks a non-idempotent call: it is retried only when the
	// payer cannot have acted on it.
	submit bool
	// wrote is set once the current attempt's request was written in full
	// to the connection: from then on the payer may have received it.
	wrote atomic.Bool
	// attempts counts the attempts made.
	attempts atomic.Int32
}

type callStateKey struct{}

func stateOf(ctx context.Context) *callState {
	st, _ := ctx.Value(callStateKey{}).(*callState)
	if st == nil {
		return &callState{}
	}
	return st
}

// checkRetry is the retry policy of API calls.
//
//   - A token failure is not retried here (the token client retried its own
//     transport failures); neither is a permanent transport error (bad
//     scheme, TLS verification, redirect loop).
//   - $inquire is a read: connection errors, timeouts, 408, 429 and 5xx
//     other than 501 are retried.
//   - $submit is not idempotent at every payer. It is retried only when the
//     payer cannot have acted on it: a transport failure before the request
//     was written in full, or a 429/503 that carries Retry-After (the server
//     turned it away). A 5xx or a timeout after the request was sent is not
//     retried: the agent reconciles with Find before it submits again.
//   - Any other status (2xx, 3xx, 4xx) ends the call; 401 is handled by the
//     caller (one token refresh), 4xx becomes ErrRejected.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	st := stateOf(ctx)
	if err != nil {
		var te *tokenError
		if errors.As(err, &te) {
			return false, nil
		}
		if retry, _ := retryablehttp.DefaultRetryPolicy(ctx, nil, err); !retry {
			return false, nil
		}
		if st.submit && st.wrote.Load() {
			return false, nil
		}
		return true, nil
	}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if st.submit {
			return resp.Header.Get("Retry-After") != "", nil
		}
		return true, nil
	case code == http.StatusRequestTimeout:
		return true, nil // the server gave up waiting for the request: not processed
	case code >= 500 && code != http.StatusNotImplemented:
		return !st.submit, nil
	}
	return false, nil
}

// backoff is retryablehttp's exponential backoff, which honours
// Retry-After on 429/503, with the wait clamped to max: the library does
// not cap Retry-After, and a payer asking for an hour must not stall a
// visit for an hour.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	d := retryablehttp.DefaultBackoff(minWait, maxWait, attempt, resp)
	return min(max(d, 0), maxWait)
}

// keepLast is the ErrorHandler used when retries are exhausted: it keeps
// the last response (and its body) so the error can say what the payer
// answered; with no response it returns the transport error.
func keepLast(resp *http.Response, err error, tries int) (*http.Response, error) {
	if resp != nil {
		return resp, nil
	}
	if err == nil {
		err = errors.New("no response")
	}
	return nil, fmt.Errorf("giving up after %d attempt(s): %w", tries, err)
}

// retryLogger adapts slog to retryablehttp. The library reports every
// failed attempt at error level; those are retried or classified by the
// caller, so they are logged as warnings.
type retryLogger struct{ l *slog.Logger }

func (r retryLogger) Error(msg string, kv ...any) { r.l.Warn(msg, kv...) }
func (r retryLogger) Warn(msg string, kv ...any)  { r.l.Warn(msg, kv...) }
func (r retryLogger) Info(msg string, kv ...any)  { r.l.Info(msg, kv...) }
func (r retryLogger) Debug(msg string, kv ...any) { r.l.Debug(msg, kv...) }

func retryWaitMin(o Options) time.Duration { return min(500*time.Millisecond, o.RetryWaitMax) }

// newAPIClient builds the retrying client of $submit and $inquire. Its
// transport sets the bearer token from tokens and records every attempt
// into the recorder of the request's context (recordings.WithRecorder).
func newAPIClient(o Options, log *slog.Logger, tokens *tokenSource, lim connectors.Limiter) *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport: &bearerTransport{tokens: tokens, base: &recordings.Transport{Base: paced(lim, cleanhttp.DefaultPooledTransport())}},
			Timeout:   o.Timeout,
		},
		Logger:       retryLogger{log},
		RetryWaitMin: retryWaitMin(o),
		RetryWaitMax: o.RetryWaitMax,
		RetryMax:     o.Retries,
		CheckRetry:   checkRetry,
		Backoff:      backoff,
		ErrorHandler: keepLast,
		RequestLogHook: func(_ retryablehttp.Logger, r *http.Request, _ int) {
			st := stateOf(r.Context())
			st.wrote.Store(false)
			st.attempts.Add(1)
		},
	}
}

// pacedTransport waits for the connector's rate limit
// (limits.requests_per_minute) before every HTTP attempt: each retry and
// each token request is one request to the payer.
type pacedTransport struct {
	lim  connectors.Limiter
	base *http.Transport
}

func paced(lim connectors.Limiter, base *http.Transport) http.RoundTripper {
	if lim == nil {
		return base
	}
	return &pacedTransport{lim: lim, base: base}
}

func (p *pacedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := p.lim.Wait(r.Context()); err != nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, fmt.Errorf("wait for the rate limit (limits.requests_per_minute): %w", err)
	}
	return p.base.RoundTrip(r)
}

// CloseIdleConnections closes the base transport's idle connections.
func (p *pacedTransport) CloseIdleConnections() { p.base.CloseIdleConnections() }

// bearerTransport sets the access token of every API request, fetching one
// (recorded into the request's recorder) when the cached one is stale.
type bearerTransport struct {
	tokens *tokenSource
	base   http.RoundTripper
}

func (b *bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, _, err := b.tokens.token(r.Context())
	if err != nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, err
	}
	r2 := r.Clone(r.Context())
	tok.SetAuthHeader(r2)
	return b.base.RoundTrip(r2)
}

// CloseIdleConnections closes the base transport's idle connections.
func (b *bearerTransport) CloseIdleConnections() {
	if c, ok := b.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// newTokenHTTPClient is the client of the token endpoint: a POST there is
// safe to repeat, so transport errors, 429 and 5xx are retried. Its
// attempts are recorded like the API's.
func newTokenHTTPClient(o Options, log *slog.Logger, lim connectors.Limiter) *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient:   &http.Client{Transport: &recordings.Transport{Base: paced(lim, cleanhttp.DefaultPooledTransport())}, Timeout: o.Timeout},
		Logger:       retryLogger{log},
		RetryWaitMin: retryWaitMin(o),
		RetryWaitMax: o.RetryWaitMax,
		RetryMax:     o.Retries,
		CheckRetry:   retryablehttp.DefaultRetryPolicy,
		Backoff:      backoff,
	}
}

// tokenError marks a failure to get an access token.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "access token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// tokenSource hands out the cached client-credentials token, fetching a
// new one when it is missing or about to expire (oauth2.Token.Valid);
// invalidate drops it when the payer refused a token still thought valid.
// A fetch is recorded into the recorder of the asking request's context;
// the exchange that issued the cached token is kept so that a later run
// reusing the token can put it in its own recording (a recording replays
// only if it holds a token answer).
type tokenSource struct {
	cfg    clientcredentials.Config
	hc     *http.Client
	fetch  sync.Mutex // one token request at a time
	mu     sync.Mutex // guards the fields below and cfg.ClientSecret
	armed  bool
	tok    *oauth2.Token
	origin *recordings.Exchange // the exchange that issued tok, unredacted
	issued atomic.Int64         // tokens fetched (for tests and logs)
}

func newTokenSource(o Options, hc *http.Client) *tokenSource {
	return &tokenSource{
		cfg: clientcredentials.Config{
			ClientID:  o.ClientID,
			TokenURL:  o.TokenURL,
			Scopes:    o.Scopes,
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		hc: hc,
	}
}

// ready reports whether the secret was set.
func (t *tokenSource) ready() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.armed
}

// secret returns the client secret.
func (t *tokenSource) secret() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cfg.ClientSecret
}

// setSecret arms the source with the client secret.
func (t *tokenSource) setSecret(secret string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cfg.ClientSecret = secret
	t.armed, t.tok, t.origin = true, nil, nil
}

// token returns a valid access token. When it is the cached one, origin
// is the exchange that issued it (nil if that was not recorded).
func (t *tokenSource) token(ctx context.Context) (tok *oauth2.Token, origin *recordings.Exchange, err error) {
	t.fetch.Lock()
	defer t.fetch.Unlock()
	t.mu.Lock()
	armed, tok, origin, cfg := t.armed, t.tok, t.origin, t.cfg
	t.mu.Unlock()
	if !armed {
		return nil, nil, &tokenError{errors.New("connector not opened")}
	}
	if tok.Valid() {
		return tok, origin, nil
	}
	// Not the caller's context: the token outlives the call, and the
	// call's trace hooks are about the API request only.
	tc := &tokenCapture{rec: recordings.RecorderFrom(ctx)}
	fctx := context.WithValue(recordings.WithRecorder(context.Background(), tc), oauth2.HTTPClient, t.hc)
	tok, err = cfg.Token(fctx)
	if err != nil {
		return nil, nil, &tokenError{err}
	}
	t.issued.Add(1)
	t.mu.Lock()
	t.tok, t.origin = tok, tc.last
	t.mu.Unlock()
	return tok, nil, nil
}

// invalidate drops the cached token if it is still the refused one, so the
// next request fetches a new token; concurrent refusals of the same token
// cause one refresh.
func (t *tokenSource) invalidate(refused string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.AccessToken == refused {
		t.tok, t.origin = nil, nil
	}
}

// tokenCapture passes the token endpoint's exchanges on to the run's
// recorder and keeps the last successful one. It serves one fetch, which
// runs on one goroutine.
type tokenCapture struct {
	rec    recordings.Attacher
	failed bool
	last   *recordings.Exchange
}

func (c *tokenCapture) Wants(_ string, failed bool) bool {
	c.failed = failed
	return true
}

func (c *tokenCapture) Attach(kind, name, contentType string, data []byte) {
	ex, err := recordings.ParseExchange(data)
	if err == nil && !c.failed {
		c.last = ex
	}
	if r, ok := c.rec.(interface{ Redact(...string) }); ok && err == nil {
		// Registered before the exchange is written.
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(ex.Body, &body) == nil && body.AccessToken != "" {
			r.Redact(body.AccessToken)
		}
	}
	if c.rec != nil && c.rec.Wants(kind, c.failed) {
		c.rec.Attach(kind, name, contentType, data)
	}
}

// classifyTokenErr turns a token failure into a connector error: the token
// endpoint refusing the client (4xx) is ErrAuth, anything else retryable.
func classifyTokenErr(err error) *authpilot.Error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if status == http.StatusTooManyRequests || status >= 500 {
			return &authpilot.Error{Class: authpilot.ErrRetryable, Step: "token",
				Msg: fmt.Sprintf("token endpoint answered HTTP %d", status)}
		}
		msg := fmt.Sprintf("token endpoint refused the client credentials (HTTP %d", status)
		if re.ErrorCode != "" {
			msg += ", " + re.ErrorCode
		}
		return &authpilot.Error{Class: authpilot.ErrAuth, Step: "token", Msg: msg + ")"}
	}
	return &authpilot.Error{Class: authpilot.ErrRetryable, Step: "token", Msg: "token endpoint unreachable", Err: unwrapToken(err)}
}

func unwrapToken(err error) error {
	var te *tokenError
	if errors.As(err, &te) {
		return te.err
	}
	return err
}

// bearer returns the token of an Authorization header.
func bearer(h http.Header) string {
	v := h.Get("Authorization")
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return v[7:]
	}
	return ""
}
