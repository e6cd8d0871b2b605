package fhirpas

import (
	"context"
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

	"github.com/authpilot/authpilot/connectors"
)

// maxBody bounds what is read of a response.
const maxBody = 16 << 20

// rejected builds an ErrRejected connector error.
func rejected(step, msg string, err error) *connectors.Error {
	return &connectors.Error{Class: connectors.ErrRejected, Step: step, Msg: msg, Err: err}
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
	// waits records the backoff chosen before each retry.
	mu    sync.Mutex
	waits []time.Duration
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
	d = min(max(d, 0), maxWait)
	if resp != nil && resp.Request != nil {
		st := stateOf(resp.Request.Context())
		st.mu.Lock()
		st.waits = append(st.waits, d)
		st.mu.Unlock()
	}
	return d
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
// transport sets the bearer token from tokens.
func newAPIClient(o Options, log *slog.Logger, tokens oauth2.TokenSource) *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport: bearerTransport{&oauth2.Transport{Source: tokens, Base: cleanhttp.DefaultPooledTransport()}},
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

// bearerTransport hides oauth2.Transport's deprecated CancelRequest, which
// http.Client calls on a timeout and which only logs a warning.
type bearerTransport struct{ t *oauth2.Transport }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) { return b.t.RoundTrip(r) }

// CloseIdleConnections closes the base transport's idle connections.
func (b bearerTransport) CloseIdleConnections() {
	if c, ok := b.t.Base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// newTokenHTTPClient is the client of the token endpoint: a POST there is
// safe to repeat, so transport errors, 429 and 5xx are retried.
func newTokenHTTPClient(o Options, log *slog.Logger) *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient:   &http.Client{Transport: cleanhttp.DefaultPooledTransport(), Timeout: o.Timeout},
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

// tokenSource hands out the cached client-credentials token. The oauth2
// library caches and refreshes it before expiry; invalidate drops the cache
// when the payer refused a token the library still thought valid.
type tokenSource struct {
	cfg    clientcredentials.Config
	ctx    context.Context
	mu     sync.Mutex
	src    oauth2.TokenSource
	issued atomic.Int64 // tokens fetched (for tests and logs)
}

func newTokenSource(o Options, hc *http.Client) *tokenSource {
	return &tokenSource{
		cfg: clientcredentials.Config{
			ClientID:  o.ClientID,
			TokenURL:  o.TokenURL,
			Scopes:    o.Scopes,
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		ctx: context.WithValue(context.Background(), oauth2.HTTPClient, hc),
	}
}

// ready reports whether the secret was set.
func (t *tokenSource) ready() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.src != nil
}

// setSecret arms the source with the client secret.
func (t *tokenSource) setSecret(secret string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cfg.ClientSecret = secret
	t.src = oauth2.ReuseTokenSource(nil, countingSource{t})
}

type countingSource struct{ t *tokenSource }

func (c countingSource) Token() (*oauth2.Token, error) {
	tok, err := c.t.cfg.Token(c.t.ctx)
	if err == nil {
		c.t.issued.Add(1)
	}
	return tok, err
}

// Token implements oauth2.TokenSource.
func (t *tokenSource) Token() (*oauth2.Token, error) {
	t.mu.Lock()
	src := t.src
	t.mu.Unlock()
	if src == nil {
		return nil, &tokenError{errors.New("connector not opened")}
	}
	tok, err := src.Token()
	if err != nil {
		return nil, &tokenError{err}
	}
	return tok, nil
}

// invalidate drops the cached token if it is still the refused one, so the
// next request fetches a new token; concurrent refusals of the same token
// cause one refresh.
func (t *tokenSource) invalidate(refused string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.src == nil {
		return
	}
	if tok, err := t.src.Token(); err == nil && tok.AccessToken != refused {
		return // already replaced
	}
	t.src = oauth2.ReuseTokenSource(nil, countingSource{t})
}

// classifyTokenErr turns a token failure into a connector error: the token
// endpoint refusing the client (4xx) is ErrAuth, anything else retryable.
func classifyTokenErr(err error) *connectors.Error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if status == http.StatusTooManyRequests || status >= 500 {
			return &connectors.Error{Class: connectors.ErrRetryable, Step: "token",
				Msg: fmt.Sprintf("token endpoint answered HTTP %d", status)}
		}
		msg := fmt.Sprintf("token endpoint refused the client credentials (HTTP %d", status)
		if re.ErrorCode != "" {
			msg += ", " + re.ErrorCode
		}
		return &connectors.Error{Class: connectors.ErrAuth, Step: "token", Msg: msg + ")"}
	}
	return &connectors.Error{Class: connectors.ErrRetryable, Step: "token", Msg: "token endpoint unreachable", Err: unwrapToken(err)}
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
