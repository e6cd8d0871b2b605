// Package handoffs adds the hand-off pages to the workspace: a card on
// the worklist for every visit paused for a person (the question, a
// screenshot of the paused page, a field for a texted code), and a live
// view of a paused page (a CAPTCHA, a page the flow does not know) that a
// coordinator clicks and types into, then hands back. It registers itself
// with the workspace; the daemon blank-imports it.
package handoffs

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authpilot/authpilot/agent/handoff"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/store"
	"github.com/authpilot/authpilot/web"
)

//go:embed templates/*.html live.js
var files embed.FS

// frameWait bounds how long a frame request waits for a new frame.
const frameWait = 20 * time.Second

func init() {
	web.Register(web.Extension{Name: "handoffs", Routes: routes, Worklist: cards})
}

var cardTmpl = template.Must(template.New("card.html").Funcs(template.FuncMap{
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).ParseFS(files, "templates/card.html"))

type cardData struct {
	handoff.View
	// Act: the person may answer or open the live view (a coordinator).
	Act bool
	// Expires is the expiry in the practice's zone.
	Expires string
}

// cards renders a card per open hand-off above the worklist.
func cards(s *web.Site, r *http.Request) (template.HTML, error) {
	list := s.Agent().HandOffs().List()
	if len(list) == 0 {
		return "", nil
	}
	u, _ := web.UserOf(r)
	loc := s.Agent().Config().Location()
	var b strings.Builder
	for _, v := range list {
		d := cardData{View: v, Act: u.Role.AtLeast(store.RoleCoordinator), Expires: v.Expires.In(loc).Format("15:04:05 MST")}
		if err := cardTmpl.Execute(&b, d); err != nil {
			return "", err
		}
	}
	return template.HTML(b.String()), nil // html/template escaped each card
}

func routes(s *web.Site) []web.Route {
	h := &pages{s: s, b: s.Agent().HandOffs()}
	live, err := s.Templates(files, "templates/live.html")
	if err != nil {
		panic(err) // the embedded template is checked by the tests
	}
	h.live = live
	return []web.Route{
		{Pattern: "GET /handoffs/live.js", Role: store.RoleViewer, Handler: h.script},
		{Pattern: "GET /handoffs/{id}/screenshot", Role: store.RoleViewer, Handler: h.screenshot},
		{Pattern: "POST /handoffs/{id}/answer", Role: store.RoleCoordinator, Handler: h.answer},
		{Pattern: "GET /handoffs/{id}/live", Role: store.RoleCoordinator, Handler: h.livePage},
		{Pattern: "GET /handoffs/{id}/frame", Role: store.RoleCoordinator, Handler: h.frame},
		{Pattern: "POST /handoffs/{id}/click", Role: store.RoleCoordinator, Handler: h.click},
		{Pattern: "POST /handoffs/{id}/keys", Role: store.RoleCoordinator, Handler: h.keys},
		{Pattern: "POST /handoffs/{id}/handback", Role: store.RoleCoordinator, Handler: h.handBack},
	}
}

type pages struct {
	s    *web.Site
	b    *handoff.Broker
	live *template.Template
	// viewing holds "user\x00hand-off" for each live-view session whose
	// opening is in the access log (its clicks and frames are not logged
	// again).
	viewing sync.Map
}

// caseIDs names the case a hand-off is about: its visit's Run when that
// is a case's ID.
func (h *pages) caseIDs(r *http.Request, v handoff.View) []string {
	if v.Run == "" {
		return nil
	}
	if _, err := h.s.Agent().Store().GetCase(r.Context(), v.Run); err != nil {
		return nil
	}
	return []string{v.Run}
}

// logLive logs the opening of a live-view session of v by the signed-in
// person, once per person and hand-off; false when the log cannot be
// written (503 answered, nothing shown).
func (h *pages) logLive(w http.ResponseWriter, r *http.Request, v handoff.View) bool {
	u, _ := web.UserOf(r)
	key := u.Name + "\x00" + v.ID
	if _, seen := h.viewing.Load(key); seen {
		return true
	}
	if !h.s.LogRead(w, r, "live_view", h.caseIDs(r, v)) {
		return false
	}
	h.viewing.Store(key, struct{}{})
	return true
}

// gone answers a hand-off that is not open any more.
func (h *pages) gone(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, handoff.ErrNotFound):
		h.s.Fail(w, r, http.StatusGone, "This hand-off is closed: it was answered, handed back or expired.")
	case errors.Is(err, handoff.ErrWrongKind):
		h.s.Fail(w, r, http.StatusConflict, "This hand-off is not of that kind.")
	case errors.Is(err, handoff.ErrEmptyAnswer):
		h.s.Fail(w, r, http.StatusUnprocessableEntity, "Type the code before sending it.")
	default:
		h.s.Fail(w, r, http.StatusBadGateway, "The paused page did not take it; try again.")
	}
}

func home(w http.ResponseWriter, r *http.Request, flash string) {
	http.Redirect(w, r, "/?flash="+url.QueryEscape(flash), http.StatusSeeOther)
}

func (h *pages) script(w http.ResponseWriter, _ *http.Request) {
	b, _ := files.ReadFile("live.js")
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	_, _ = w.Write(b)
}

func (h *pages) screenshot(w http.ResponseWriter, r *http.Request) {
	png, err := h.b.Screenshot(r.PathValue("id"))
	v, ok := h.b.Get(r.PathValue("id"))
	if err != nil || len(png) == 0 || !ok {
		h.gone(w, r, handoff.ErrNotFound)
		return
	}
	if !h.s.LogRead(w, r, "handoff_screenshot", h.caseIDs(r, v)) {
		return
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(png)
}

// answer sends the code typed on the card. It is a secret: not logged,
// not echoed.
func (h *pages) answer(w http.ResponseWriter, r *http.Request) {
	if err := h.b.Answer(r.PathValue("id"), strings.TrimSpace(r.PostFormValue("value"))); err != nil {
		h.gone(w, r, err)
		return
	}
	home(w, r, "Sent: the paused visit types it and goes on.")
}

type liveData struct {
	handoff.View
	// Keys are the keys offered as buttons.
	Keys []string
}

func (h *pages) livePage(w http.ResponseWriter, r *http.Request) {
	v, ok := h.b.Get(r.PathValue("id"))
	if !ok || !v.Live {
		h.gone(w, r, handoff.ErrNotFound)
		return
	}
	if !h.logLive(w, r, v) {
		return
	}
	h.s.Render(w, r, http.StatusOK, h.live, liveData{View: v, Keys: []string{"Enter", "Tab", "Backspace", "Escape"}})
}

// frame answers the live page's next JPEG after ?after=N (X-Frame-Seq
// names it), or 204 when none came in time.
func (h *pages) frame(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.Atoi(r.URL.Query().Get("after"))
	ctx, cancel := context.WithTimeout(r.Context(), frameWait)
	defer cancel()
	seq, jpeg, err := h.b.Frame(ctx, r.PathValue("id"), max(after, 0))
	if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	v, ok := h.b.Get(r.PathValue("id"))
	if err == nil && !ok {
		err = handoff.ErrNotFound
	}
	if err != nil {
		h.gone(w, r, err)
		return
	}
	if !h.logLive(w, r, v) {
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("X-Frame-Seq", strconv.Itoa(seq))
	_, _ = w.Write(jpeg)
}

// click forwards a click on the frame (an <input type=image> named "at"
// posts at.x and at.y, in the frame's pixels) to the paused page.
func (h *pages) click(w http.ResponseWriter, r *http.Request) {
	x, errX := strconv.ParseFloat(r.PostFormValue("at.x"), 64)
	y, errY := strconv.ParseFloat(r.PostFormValue("at.y"), 64)
	if errX != nil || errY != nil || x < 0 || y < 0 {
		h.s.Fail(w, r, http.StatusUnprocessableEntity, "Click on the page's picture.")
		return
	}
	h.input(w, r, connectors.InputEvent{Type: "click", X: x, Y: y})
}

// keys types text into the paused page, or presses one named key.
func (h *pages) keys(w http.ResponseWriter, r *http.Request) {
	ev := connectors.InputEvent{Type: "text", Text: r.PostFormValue("text")}
	if k := r.PostFormValue("key"); k != "" {
		ev = connectors.InputEvent{Type: "key", Key: k}
	}
	if ev.Type == "text" && ev.Text == "" {
		h.s.Fail(w, r, http.StatusUnprocessableEntity, "Type something to send.")
		return
	}
	h.input(w, r, ev)
}

func (h *pages) input(w http.ResponseWriter, r *http.Request, ev connectors.InputEvent) {
	id := r.PathValue("id")
	if err := h.b.Input(r.Context(), id, ev); err != nil {
		h.gone(w, r, err)
		return
	}
	if r.Header.Get("X-Live-View") != "" { // live.js posts without leaving the page
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, "/handoffs/"+url.PathEscape(id)+"/live", http.StatusSeeOther)
}

func (h *pages) handBack(w http.ResponseWriter, r *http.Request) {
	if err := h.b.HandBack(r.PathValue("id")); err != nil {
		h.gone(w, r, err)
		return
	}
	home(w, r, "Handed back: the visit checks the page against its flow again.")
}
