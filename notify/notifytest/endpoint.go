package notifytest

import (
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify/webhook"
)

// Endpoint is a real HTTP receiver on loopback standing in for a webhook,
// Slack or Teams endpoint: it keeps every request it gets and answers as
// the test scripts. With Secret set it checks Standard Webhooks signatures
// and answers 401 where a bad one would have been accepted. It closes
// when the test ends.
type Endpoint struct {
	URL string

	srv     *httptest.Server
	opts    EndpointOptions
	mu      sync.Mutex
	reqs    []Request
	fixed   Answer        // SetAnswer's
	arrived chan struct{} // a value per request
}

// EndpointOptions script an Endpoint; the zero value checks nothing and
// answers 200 "ok".
type EndpointOptions struct {
	// Secret is the webhook signing secret to check requests with.
	Secret string
	// Now stamps requests and is the time signatures are checked against
	// (5 minutes' tolerance): the sender's clock. Nil: time.Now.
	Now func() time.Time
	// Answer decides the answer to request n (from 0), r as it was
	// received; it must not call the Endpoint. Nil: 200.
	Answer func(n int, r Request) Answer
}

// Answer is what an Endpoint answers: a zero Code is 200, an empty Body
// "ok"; RetryAfter, when set, is sent as the Retry-After header.
type Answer struct {
	Code       int
	RetryAfter string
	Body       string
}

// Request is one request an Endpoint got and how it answered.
type Request struct {
	Method    string
	Path      string
	Header    http.Header
	Body      []byte
	At        time.Time // EndpointOptions.Now at receipt
	Code      int       // the status answered
	VerifyErr error     // the signature check's error, with a Secret
}

// ID is the request's webhook-id: the alert's ID.
func (r Request) ID() string { return r.Header.Get(webhook.HeaderID) }

// Payload decodes the request's body as a webhook payload (zero when it is
// not one).
func (r Request) Payload() webhook.Payload {
	var p webhook.Payload
	_ = json.Unmarshal(r.Body, &p)
	return p
}

// Accepted reports whether the request was answered 2xx.
func (r Request) Accepted() bool { return r.Code >= 200 && r.Code < 300 }

// NewEndpoint starts an Endpoint.
func NewEndpoint(t testing.TB, opts EndpointOptions) *Endpoint {
	t.Helper()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Endpoint{opts: opts, arrived: make(chan struct{}, 1000)}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	e.URL = e.srv.URL
	return e
}

// Close shuts the endpoint down before the test ends (a receiver that is
// not there).
func (e *Endpoint) Close() { e.srv.Close() }

func (e *Endpoint) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, At: e.opts.Now()}
	if e.opts.Secret != "" {
		req.VerifyErr = webhook.Verify(e.opts.Secret, r.Header, body, 5*time.Minute, req.At)
	}
	e.mu.Lock()
	a := e.fixed
	if a == (Answer{}) && e.opts.Answer != nil {
		a = e.opts.Answer(len(e.reqs), req)
	}
	req.Code = cmp.Or(a.Code, http.StatusOK)
	if req.VerifyErr != nil && req.Code < 300 {
		a = Answer{Body: "bad signature"}
		req.Code = http.StatusUnauthorized
	}
	e.reqs = append(e.reqs, req)
	e.mu.Unlock()
	select {
	case e.arrived <- struct{}{}:
	default: // a test that does not wait on Arrived
	}
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	w.WriteHeader(req.Code)
	_, _ = io.WriteString(w, cmp.Or(a.Body, "ok"))
}

// SetAnswer makes the endpoint answer a to every request from now on (a
// receiver that is down or gone), over EndpointOptions.Answer; the zero
// Answer ends that.
func (e *Endpoint) SetAnswer(a Answer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fixed = a
}

// Arrived receives a value for each request the endpoint has answered (up
// to 1,000 not yet received).
func (e *Endpoint) Arrived() <-chan struct{} { return e.arrived }

// Requests returns every request so far, in the order received.
func (e *Endpoint) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.reqs)
}

// Bodies returns the bodies of the requests answered 2xx.
func (e *Endpoint) Bodies() []string {
	var out []string
	for _, r := range e.Requests() {
		if r.Accepted() {
			out = append(out, string(r.Body))
		}
	}
	return out
}

// Delivered returns the requests answered 2xx, the first of each
// webhook-id only, in the order received; repeats is how many more there
// were.
func (e *Endpoint) Delivered() (first []Request, repeats int) {
	seen := map[string]bool{}
	for _, r := range e.Requests() {
		switch {
		case !r.Accepted():
		case seen[r.ID()]:
			repeats++
		default:
			seen[r.ID()] = true
			first = append(first, r)
		}
	}
	return first, repeats
}

// Alerts returns the alerts of the webhook requests answered 2xx, in the
// order received.
func (e *Endpoint) Alerts() []authpilot.Alert {
	var out []authpilot.Alert
	for _, r := range e.Requests() {
		if r.Accepted() {
			out = append(out, r.Payload().Data.Alert)
		}
	}
	return out
}
