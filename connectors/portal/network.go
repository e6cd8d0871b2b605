package portal

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"

	"github.com/authpilot/authpilot/recordings"
)

// maxCapturedBody bounds one captured response body.
const maxCapturedBody = 8 << 20

// pendingExchange is a captured exchange waiting for its response.
type pendingExchange struct {
	ex      recordings.Exchange
	startTS proto.MonotonicTime
}

// captured resource types: documents and scripted requests, not images,
// styles or scripts.
func capturedType(t proto.NetworkResourceType) bool {
	return t == proto.NetworkResourceTypeDocument || t == proto.NetworkResourceTypeXHR || t == proto.NetworkResourceTypeFetch
}

// capture passively records a page's document, XHR and fetch exchanges
// (no request interception) and hands each to attach; onDoc, if set, is
// told the headers of every main-frame document response (a maintenance
// page's Retry-After). stop ends the capture and waits (briefly) until no
// attach call is running.
func capture(p *rod.Page, seq *atomic.Int64, attach func(name string, data []byte), onDoc func(status int, h http.Header)) (stop func()) {
	pc, cancel := p.WithCancel()
	var mu sync.Mutex
	pending := map[proto.NetworkRequestID]*pendingExchange{}

	emit := func(pe *pendingExchange, endTS proto.MonotonicTime) {
		if endTS > pe.startTS {
			pe.ex.DurationMS = (endTS.Duration() - pe.startTS.Duration()).Milliseconds()
		}
		data, err := json.Marshal(&pe.ex)
		if err != nil {
			return
		}
		attach(fmt.Sprintf("network-%04d.json", seq.Add(1)), data)
	}

	wait := pc.EachEvent(
		func(e *proto.NetworkRequestWillBeSent) {
			mu.Lock()
			defer mu.Unlock()
			if prev := pending[e.RequestID]; prev != nil && e.RedirectResponse != nil {
				// A redirect reuses the request ID: close the previous hop.
				prev.ex.Status = e.RedirectResponse.Status
				prev.ex.ResponseHeaders = headerMap(e.RedirectResponse.Headers)
				delete(pending, e.RequestID)
				emit(prev, e.Timestamp)
			}
			if !capturedType(e.Type) || e.Request == nil {
				return
			}
			pe := &pendingExchange{startTS: e.Timestamp}
			pe.ex.Method = e.Request.Method
			pe.ex.URL = e.Request.URL
			pe.ex.RequestHeaders = headerMap(e.Request.Headers)
			pe.ex.RequestBody = e.Request.PostData
			if pe.ex.RequestBody == "" && len(e.Request.PostDataEntries) > 0 {
				var b strings.Builder
				for _, en := range e.Request.PostDataEntries {
					b.Write(en.Bytes)
				}
				pe.ex.RequestBody = b.String()
			}
			if pe.ex.RequestBody == "" && e.Request.HasPostData {
				if res, err := (proto.NetworkGetRequestPostData{RequestID: e.RequestID}).Call(pc); err == nil {
					pe.ex.RequestBody = res.PostData
				}
			}
			started := e.WallTime.Time()
			if e.WallTime == 0 {
				started = time.Now()
			}
			pe.ex.Started = started.UTC()
			pending[e.RequestID] = pe
		},
		func(e *proto.NetworkResponseReceived) {
			if onDoc != nil && e.Type == proto.NetworkResourceTypeDocument && e.Response != nil &&
				(p.FrameID == "" || e.FrameID == p.FrameID) {
				onDoc(e.Response.Status, headerMap(e.Response.Headers))
			}
			mu.Lock()
			defer mu.Unlock()
			if pe := pending[e.RequestID]; pe != nil && e.Response != nil {
				pe.ex.Status = e.Response.Status
				pe.ex.ResponseHeaders = headerMap(e.Response.Headers)
			}
		},
		func(e *proto.NetworkLoadingFinished) {
			mu.Lock()
			pe := pending[e.RequestID]
			delete(pending, e.RequestID)
			mu.Unlock()
			if pe == nil {
				return
			}
			if e.EncodedDataLength <= maxCapturedBody {
				if res, err := (proto.NetworkGetResponseBody{RequestID: e.RequestID}).Call(pc); err == nil {
					if !res.Base64Encoded {
						pe.ex.Body = []byte(res.Body)
					} else if b, err := base64.StdEncoding.DecodeString(res.Body); err == nil {
						pe.ex.Body = b
					}
				}
			}
			emit(pe, e.Timestamp)
		},
		func(e *proto.NetworkLoadingFailed) {
			mu.Lock()
			pe := pending[e.RequestID]
			delete(pending, e.RequestID)
			mu.Unlock()
			if pe != nil && pe.ex.Status != 0 {
				emit(pe, e.Timestamp)
			}
		},
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		wait()
	}()
	return func() {
		cancel()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
}

// headerMap turns CDP headers (multiple values joined by newlines) into
// canonical http.Header form.
func headerMap(h proto.NetworkHeaders) http.Header {
	out := http.Header{}
	for k, v := range h {
		for _, line := range strings.Split(v.Str(), "\n") {
			key := http.CanonicalHeaderKey(k)
			out[key] = append(out[key], line)
		}
	}
	return out
}
