package recordings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"time"

	"github.com/authpilot/authpilot/connectors"
)

// maxRecordedBody bounds what Transport keeps of one body.
const maxRecordedBody = 64 << 20

// Transport is an http.RoundTripper that attaches every exchange it carries
// to a recorder as a "network" artifact (for API connectors such as
// fhirpas). It buffers each response body. Exchanges with an error or a
// status of 400 or more count as failed for Recorder.Wants.
type Transport struct {
	// Base carries the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	Rec  connectors.Recorder
	// Now is the clock for timings; nil means time.Now.
	Now func() time.Time
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
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
		t.attach(&ex, req, true)
		return nil, err
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxRecordedBody))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	ex.Status = resp.StatusCode
	ex.ResponseHeaders = resp.Header.Clone()
	ex.Body = body
	ex.DurationMS = now().Sub(start).Milliseconds()
	t.attach(&ex, req, resp.StatusCode >= 400 || rerr != nil)
	if rerr != nil {
		return nil, fmt.Errorf("record response: read body: %w", rerr)
	}
	return resp, nil
}

func (t *Transport) attach(ex *Exchange, req *http.Request, failed bool) {
	if t.Rec == nil || !t.Rec.Wants("network", failed) {
		return
	}
	data, err := json.Marshal(ex)
	if err != nil {
		return
	}
	t.Rec.Attach("network", req.Method+"-"+path.Base(req.URL.Path), "application/json", data)
}
