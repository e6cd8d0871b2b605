package recordings

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Exchange is one recorded HTTP request and its response: the JSON a
// "network" artifact holds (see the package doc), and the only network
// format of the project. The portal connector builds one per request its
// browser makes; API connectors record theirs through Transport. Either
// way its JSON encoding is Attached and the recorder redacts it.
type Exchange struct {
	Method          string      `json:"method"`
	URL             string      `json:"url"`
	Status          int         `json:"status"`
	RequestHeaders  http.Header `json:"request_headers,omitempty"`
	RequestBody     string      `json:"request_body,omitempty"`
	ResponseHeaders http.Header `json:"response_headers,omitempty"`
	// Body is the decoded response body; JSON encodes it as base64.
	Body       []byte    `json:"body_base64,omitempty"`
	Started    time.Time `json:"started"`
	DurationMS int64     `json:"duration_ms"`
	// Error is why an exchange has no (whole) response: a transport error
	// (Status is 0), or a failure reading the body.
	Error string `json:"error,omitempty"`
}

// exchangeJSON is the wire form, with headers that accept a string or an
// array of strings per name.
type exchangeJSON struct {
	Method          string                     `json:"method"`
	URL             string                     `json:"url"`
	Status          int                        `json:"status"`
	RequestHeaders  map[string]json.RawMessage `json:"request_headers,omitempty"`
	RequestBody     string                     `json:"request_body,omitempty"`
	ResponseHeaders map[string]json.RawMessage `json:"response_headers,omitempty"`
	Body            []byte                     `json:"body_base64,omitempty"`
	Started         time.Time                  `json:"started"`
	DurationMS      int64                      `json:"duration_ms"`
	Error           string                     `json:"error,omitempty"`
}

// ParseExchange decodes a network artifact strictly: unknown fields are an
// error, so nothing a recorder does not know how to redact is written.
func ParseExchange(data []byte) (*Exchange, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w exchangeJSON
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("decode network exchange: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode network exchange: trailing data after the object")
	}
	if w.Method == "" || w.URL == "" {
		return nil, errors.New("decode network exchange: method and url are required")
	}
	reqH, err := decodeHeaders(w.RequestHeaders)
	if err != nil {
		return nil, fmt.Errorf("decode network exchange: request_headers: %w", err)
	}
	respH, err := decodeHeaders(w.ResponseHeaders)
	if err != nil {
		return nil, fmt.Errorf("decode network exchange: response_headers: %w", err)
	}
	return &Exchange{
		Method: strings.ToUpper(w.Method), URL: w.URL, Status: w.Status,
		RequestHeaders: reqH, RequestBody: w.RequestBody,
		ResponseHeaders: respH, Body: w.Body,
		Started: w.Started, DurationMS: w.DurationMS, Error: w.Error,
	}, nil
}

func decodeHeaders(m map[string]json.RawMessage) (http.Header, error) {
	if m == nil {
		return nil, nil
	}
	h := make(http.Header, len(m))
	for k, raw := range m {
		var list []string
		if err := json.Unmarshal(raw, &list); err == nil {
			h[k] = list
			continue
		}
		var one string
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, fmt.Errorf("header %q: want a string or an array of strings", k)
		}
		h[k] = strings.Split(one, "\n") // CDP joins repeated headers with \n
	}
	return h, nil
}

// exchange returns a redacted copy of e, its response body decoded
// from any Content-Encoding first.
func (r *redactor) exchange(e *Exchange) *Exchange {
	out := *e
	out.URL = r.string(redactURLParams(e.URL))
	out.Error = r.string(e.Error)
	out.RequestHeaders = r.headers(e.RequestHeaders)
	out.RequestBody = string(r.body(headerGet(e.RequestHeaders, "Content-Type"), []byte(e.RequestBody)))
	out.ResponseHeaders = r.headers(e.ResponseHeaders)
	body, decoded, ok := decodeContent(headerGet(e.ResponseHeaders, "Content-Encoding"), e.Body)
	if out.ResponseHeaders == nil {
		out.ResponseHeaders = http.Header{}
	}
	if !ok {
		// Still compressed with an encoding we cannot read: its text
		// cannot be redacted, so it is not kept.
		body = nil
		out.ResponseHeaders.Set("X-Authpilot-Recording", "body omitted: undecodable content-encoding")
	}
	if decoded || !ok {
		out.ResponseHeaders.Del("Content-Encoding")
		out.ResponseHeaders.Del("Content-Length")
	}
	out.Body = r.body(headerGet(e.ResponseHeaders, "Content-Type"), body)
	return &out
}

// headerGet reads a header whatever the case of its recorded name (CDP
// reports HTTP/2 headers in lower case).
func headerGet(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// decodeContent undoes a Content-Encoding when the body is still encoded.
// Browsers usually hand over decoded bodies with the header left in place,
// so a body that does not look encoded is returned as is. ok is false when
// the body is encoded in a way that cannot be read.
func decodeContent(encoding string, b []byte) (body []byte, decoded, ok bool) {
	enc := strings.ToLower(strings.TrimSpace(encoding))
	if enc == "" || enc == "identity" || len(b) == 0 {
		return b, false, true
	}
	var rd io.ReadCloser
	var err error
	switch enc {
	case "gzip", "x-gzip":
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			return b, false, true
		}
		rd, err = gzip.NewReader(bytes.NewReader(b))
	case "deflate":
		if rd, err = zlib.NewReader(bytes.NewReader(b)); err != nil {
			rd, err = flate.NewReader(bytes.NewReader(b)), nil
		}
	default: // br, zstd, compress
		return b, false, utf8.Valid(b)
	}
	if err != nil {
		return b, false, utf8.Valid(b)
	}
	defer rd.Close()
	out, err := io.ReadAll(io.LimitReader(rd, 256<<20))
	if err != nil {
		return b, false, utf8.Valid(b)
	}
	return out, true, true
}

// motw is the "saved from url" comment browsers put at the top of a saved
// page ("mark of the web"); DOMSnapshot uses it to keep a snapshot's URL.
var motw = regexp.MustCompile(`^\s*<!-- saved from url=\((\d{4})\)(\S+?) -->`)

// DOMSnapshot prefixes a page's HTML with its URL, in the form browsers use
// when saving a page, so replay can serve the snapshot for that URL.
func DOMSnapshot(pageURL string, html []byte) []byte {
	head := fmt.Sprintf("<!-- saved from url=(%04d)%s -->\n", len(pageURL), pageURL)
	return append([]byte(head), html...)
}

// snapshotURL returns the URL a DOM snapshot was taken at, if it says.
func snapshotURL(html []byte) string {
	m := motw.FindSubmatch(html[:min(len(html), 4096)])
	if m == nil {
		return ""
	}
	// The length in parentheses is not checked: redaction may have
	// changed the URL after it was written.
	return string(m[2])
}
