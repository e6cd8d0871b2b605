package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/authpilot/authpilot"
)

// idempotencyHeader is the request header a client sets so that a retried
// POST (after a lost answer) does its work once.
const idempotencyHeader = "Idempotency-Key"

// replayedHeader marks an answer replayed for a repeated Idempotency-Key.
const replayedHeader = "Idempotent-Replayed"

// maxStoredBody bounds the answer kept for a replay where no case stands
// for it.
const maxStoredBody = 1 << 20

type idemCtxKey struct{}

// idemState is a POST made with an Idempotency-Key while its handler runs.
// A handler that stores rec with its own change (createCase does, in the
// case's transaction) sets stored; otherwise idempotent stores the answer
// after the handler.
type idemState struct {
	rec    authpilot.IdempotencyRecord
	stored bool
}

func idempotencyOf(r *http.Request) *idemState {
	s, _ := r.Context().Value(idemCtxKey{}).(*idemState)
	return s
}

// idempotent wraps a POST handler: it bounds and reads the body (see
// maxBody), and for a request with an Idempotency-Key it answers a key seen
// before from the store: the same request (method, path and body bytes)
// gets the first answer again, with Idempotent-Replayed: true; another
// request under a used key gets 422 and changes nothing.
func (a *API) idempotent(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		release, ok := a.admitBody(w, r)
		if !ok {
			return
		}
		defer release()
		if _, sent := r.Header[idempotencyHeader]; !sent {
			// Nothing to hash: the handler reads the body as it decodes.
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			h(w, r)
			return
		}
		body, err := readBody(w, r)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", maxBody), nil)
				return
			}
			writeError(w, http.StatusBadRequest, "could not read the body (sent too slowly or cut off)", nil)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		key := r.Header.Get(idempotencyHeader)
		if rule := keyRule(key); rule != "" {
			writeError(w, http.StatusBadRequest, "invalid Idempotency-Key", authpilot.ValidationError{{Field: idempotencyHeader, Rule: rule}})
			return
		}
		route := r.Method + " " + r.URL.Path
		sum := sha256.Sum256(append([]byte(route+"\n"), body...))
		st := &idemState{rec: authpilot.IdempotencyRecord{Key: key, Route: route, RequestHash: hex.EncodeToString(sum[:])}}
		if a.replayStored(w, r, st) {
			return
		}
		cw := &captureWriter{ResponseWriter: w, status: http.StatusOK}
		h(cw, r.WithContext(context.WithValue(r.Context(), idemCtxKey{}, st)))
		if st.stored || cw.status < 200 || cw.status > 299 || cw.overflow {
			return
		}
		st.rec.Status, st.rec.Body = cw.status, cw.buf.Bytes()
		if err := a.Store.PutIdempotency(context.WithoutCancel(r.Context()), st.rec); err != nil {
			a.Log.Error("idempotency key not stored", "route", r.Pattern, "err", err)
		}
	}
}

// replayStored answers from the record stored under st's key, if there is
// one, and reports whether it answered.
func (a *API) replayStored(w http.ResponseWriter, r *http.Request, st *idemState) bool {
	prev, err := a.Store.Idempotency(r.Context(), st.rec.Key)
	switch {
	case errors.Is(err, authpilot.ErrNotFound):
		return false
	case err != nil:
		a.Log.Error("idempotency key lookup failed", "err", err)
		writeError(w, http.StatusInternalServerError, "could not read the Idempotency-Key", nil)
		return true
	}
	if prev.Route != st.rec.Route || prev.RequestHash != st.rec.RequestHash {
		writeError(w, http.StatusUnprocessableEntity,
			"this Idempotency-Key was already used for a different request (another body or path); nothing was done. Use a new key for a new request",
			authpilot.ValidationError{{Field: idempotencyHeader, Rule: "was used at " + prev.CreatedAt.UTC().Format(time.RFC3339) + " for a different request"}})
		return true
	}
	w.Header().Set(replayedHeader, "true")
	if prev.CaseID != "" && prev.Body == nil {
		c, err := a.Store.GetCase(r.Context(), prev.CaseID)
		if err != nil {
			a.Log.Error("idempotent replay: case not readable", "case", prev.CaseID, "err", err)
			writeError(w, http.StatusInternalServerError, "could not read the case this key created", nil)
			return true
		}
		w.Header().Set("Location", "/v1/cases/"+c.ID)
		writeJSON(w, prev.Status, c)
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(prev.Status)
	_, _ = w.Write(prev.Body)
	return true
}

// keyRule checks an Idempotency-Key: 1-255 visible ASCII characters.
func keyRule(k string) string {
	if k == "" || len(k) > 255 {
		return "must be 1-255 characters"
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return "must be visible ASCII characters (a UUID is a good key)"
		}
	}
	return ""
}

// admitBody refuses a body over maxBody by its Content-Length, and makes a
// large body (or one of unknown length) wait for one of maxLargeBodies
// slots. release must be called when the body is no longer held.
func (a *API) admitBody(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	if r.ContentLength > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", maxBody), nil)
		return nil, false
	}
	if r.ContentLength >= 0 && r.ContentLength <= smallBody {
		return func() {}, true
	}
	a.largeOnce.Do(func() { a.large = make(chan struct{}, maxLargeBodies) })
	t := time.NewTimer(largeBodyWait)
	defer t.Stop()
	select {
	case a.large <- struct{}{}:
		return func() { <-a.large }, true
	case <-t.C:
	case <-r.Context().Done():
	}
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, "too many large requests at once; retry later", nil)
	return nil, false
}

// readBody reads the whole body, at most maxBody bytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBody))
	return buf.Bytes(), err
}

// captureWriter keeps a copy of a handler's answer (up to maxStoredBody).
type captureWriter struct {
	http.ResponseWriter
	status   int
	buf      bytes.Buffer
	overflow bool
}

func (c *captureWriter) WriteHeader(code int) { c.status = code; c.ResponseWriter.WriteHeader(code) }

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.buf.Len()+len(b) > maxStoredBody {
		c.overflow = true
	} else {
		c.buf.Write(b)
	}
	return c.ResponseWriter.Write(b)
}
