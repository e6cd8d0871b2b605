package recordings

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"
)

// maxRecordedBody bounds what Transport keeps of one body.
const maxRecordedBody = 64 << 20

// Attacher is what Transport records into: a connector run's recorder
// (connectors.Recorder and *Recording are Attachers).
type Attacher interface {
	Wants(kind string, failed bool) bool
	Attach(kind, name, contentType string, data []byte)
}

type attacherKey struct{}

// WithRecorder returns a context whose requests Transport records into
// rec: an API connector shares one client between runs and hands each
// run's recorder to its requests this way.
func WithRecorder(ctx context.Context, rec Attacher) context.Context {
	return context.WithValue(ctx, attacherKey{}, rec)
}

// RecorderFrom returns the recorder WithRecorder put in ctx, or nil.
func RecorderFrom(ctx context.Context) Attacher {
	rec, _ := ctx.Value(attacherKey{}).(Attacher)
	return rec
}

// Transport is an http.RoundTripper that attaches every exchange it carries
// (each attempt of a retried request) to a recorder as a "network"
// artifact, in the Exchange format replay serves: the fhirpas connector
// records its token, $submit and $inquire calls through it. The recorder
// is the request context's (WithRecorder), else Rec; with neither the
// request passes through untouched. Response bodies are buffered. An
// exchange with a transport error or a status of 400 or more counts as
// failed for Wants. The recorder redacts what it is given.
type Transport struct {
	// Base carries the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Rec records requests whose context carries no recorder.
	Rec Attacher
	// Now is the clock for timings; nil means time.Now.
	Now func() time.Time
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	rec := RecorderFrom(req.Context())
	if rec == nil {
		rec = t.Rec
	}
	if rec == nil || !rec.Wants("network", true) {
		return base.RoundTrip(req)
	}
	now := t.Now
	if now == nil {
		now = time.Now
	}
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		var body io.ReadCloser
		var err error
		if req.GetBody != nil {
			body, err = req.GetBody()
		} else {
			// The body can be read once: read it and hand on a copy.
			body = req.Body
			req = req.Clone(req.Context())
		}
		if err != nil {
			return nil, fmt.Errorf("record request: copy body: %w", err)
		}
		reqBody, err = io.ReadAll(io.LimitReader(body, maxRecordedBody))
		_ = body.Close()
		if err != nil {
			return nil, fmt.Errorf("record request: read body: %w", err)
		}
		if req.GetBody == nil {
			req.Body = io.NopCloser(bytes.NewReader(reqBody))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(reqBody)), nil }
		}
	}
	start := now()
	resp, err := base.RoundTrip(req)
	ex := Exchange{
		Method:         req.Method,
		URL:            req.URL.String(),
		RequestHeaders: req.Header.Clone(),
		RequestBody:    string(reqBody),
		Started:        start,
	}
	if err != nil {
		ex.DurationMS = now().Sub(start).Milliseconds()
		ex.Error = err.Error()
		attach(rec, &ex, req.URL.Path, true)
		return nil, err
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxRecordedBody))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	ex.Status = resp.StatusCode
	ex.ResponseHeaders = resp.Header.Clone()
	ex.Body = body
	ex.DurationMS = now().Sub(start).Milliseconds()
	if rerr != nil {
		ex.Error = "read response body: " + rerr.Error()
	}
	attach(rec, &ex, req.URL.Path, resp.StatusCode >= 400 || rerr != nil)
	if rerr != nil {
		return nil, fmt.Errorf("record response: read body: %w", rerr)
	}
	return resp, nil
}

// attach hands an exchange to rec when it wants it, named after the
// request ("post-submit" for POST /Claim/$submit).
func attach(rec Attacher, ex *Exchange, urlPath string, failed bool) {
	if !rec.Wants("network", failed) {
		return
	}
	data, err := json.Marshal(ex)
	if err != nil {
		return
	}
	name := strings.ToLower(ex.Method)
	if b := strings.TrimLeft(path.Base(urlPath), "$"); b != "" && b != "/" && b != "." {
		name += "-" + b
	}
	rec.Attach("network", name, "application/json", data)
}
