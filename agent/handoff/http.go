package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/internal/jsonhttp"
)

// frameWait bounds how long GET …/frame waits for a new frame before it
// answers 204 (the client asks again).
const frameWait = 20 * time.Second

// maxInput bounds an answer or input body.
const maxInput = 4 << 10

// Route is one HTTP route of the hand-offs; the agent's API serves them
// behind its authentication.
type Route struct {
	Pattern string
	Handler http.HandlerFunc
}

// Routes are the hand-off API: list, look, answer, hand back, and the
// live view (frames out, input in).
func (b *Broker) Routes() []Route {
	return []Route{
		{"GET /v1/handoffs", b.serveList},
		{"GET /v1/handoffs/{id}", b.serveGet},
		{"GET /v1/handoffs/{id}/screenshot", b.serveScreenshot},
		{"POST /v1/handoffs/{id}/answer", b.serveAnswer},
		{"POST /v1/handoffs/{id}/handback", b.serveHandBack},
		{"GET /v1/handoffs/{id}/frame", b.serveFrame},
		{"POST /v1/handoffs/{id}/input", b.serveInput},
	}
}

func (b *Broker) serveList(w http.ResponseWriter, _ *http.Request) {
	jsonhttp.Write(w, http.StatusOK, map[string][]View{"handoffs": b.List()})
}

func (b *Broker) serveGet(w http.ResponseWriter, r *http.Request) {
	v, ok := b.Get(r.PathValue("id"))
	if !ok {
		writeErr(w, ErrNotFound)
		return
	}
	jsonhttp.Write(w, http.StatusOK, v)
}

func (b *Broker) serveScreenshot(w http.ResponseWriter, r *http.Request) {
	png, err := b.Screenshot(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	if len(png) == 0 {
		writeErr(w, ErrNotFound)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(png)
}

// answerBody is POST …/answer's body. The value is a secret: it is not
// logged, and an error never quotes it.
type answerBody struct {
	Value string `json:"value"`
}

func (b *Broker) serveAnswer(w http.ResponseWriter, r *http.Request) {
	var body answerBody
	if !decode(w, r, &body) {
		return
	}
	writeErr(w, b.Answer(r.PathValue("id"), body.Value))
}

func (b *Broker) serveHandBack(w http.ResponseWriter, r *http.Request) {
	writeErr(w, b.HandBack(r.PathValue("id")))
}

// serveFrame answers the live page's next JPEG frame after ?after=N
// (X-Frame-Seq names it), or 204 when none came within frameWait.
func (b *Broker) serveFrame(w http.ResponseWriter, r *http.Request) {
	after := 0
	if s := r.URL.Query().Get("after"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeInvalid(w, "after", "must be a frame number (0 or more)")
			return
		}
		after = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), frameWait)
	defer cancel()
	seq, jpeg, err := b.Frame(ctx, r.PathValue("id"), after)
	if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Seq", strconv.Itoa(seq))
	_, _ = w.Write(jpeg)
}

func (b *Broker) serveInput(w http.ResponseWriter, r *http.Request) {
	var ev connectors.InputEvent
	if !decode(w, r, &ev) {
		return
	}
	if field, rule := checkInput(ev); field != "" {
		writeInvalid(w, field, rule)
		return
	}
	writeErr(w, b.Input(r.Context(), r.PathValue("id"), ev))
}

// checkInput names the field of an input event that is wrong, and its
// rule.
func checkInput(ev connectors.InputEvent) (field, rule string) {
	switch ev.Type {
	case "click":
		if ev.X < 0 || ev.Y < 0 {
			return "x", "x and y must not be negative"
		}
	case "key":
		if ev.Key == "" {
			return "key", "required for a key event"
		}
	case "text":
		if ev.Text == "" {
			return "text", "required for a text event"
		}
	default:
		return "type", `must be "click", "key" or "text"`
	}
	return "", ""
}

type fieldError struct {
	Field string `json:"field"`
	Rule  string `json:"rule"`
}

// writeInvalid answers 422 naming the field and its rule (never the
// value: an answer is a secret).
func writeInvalid(w http.ResponseWriter, field, rule string) {
	jsonhttp.Write(w, http.StatusUnprocessableEntity, map[string]any{"error": field + ": " + rule,
		"fields": []fieldError{{Field: field, Rule: rule}}})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxInput))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// The decoder's message can quote the body (the answer): say only
		// what is wrong with it.
		jsonhttp.Write(w, http.StatusBadRequest, map[string]string{"error": "body: must be one JSON object of the documented fields"})
		return false
	}
	return true
}

// writeErr answers 204 for nil, else the error's status: 410 Gone for a
// hand-off that is not open (answered, expired, or never was: hand-offs
// are not kept).
func writeErr(w http.ResponseWriter, err error) {
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ErrNotFound):
		jsonhttp.Write(w, http.StatusGone, map[string]string{"error": err.Error()})
	case errors.Is(err, ErrWrongKind):
		jsonhttp.Write(w, http.StatusConflict, map[string]string{"error": err.Error()})
	case errors.Is(err, ErrEmptyAnswer):
		writeInvalid(w, "value", "required: "+err.Error())
	default:
		jsonhttp.Write(w, http.StatusBadGateway, map[string]string{"error": "the paused page did not take it: " + err.Error()})
	}
}
