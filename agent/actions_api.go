package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/authpilot/authpilot"
)

// caseAction serves POST /v1/cases/{id}/actions/{name}: a JSON body, or
// multipart/form-data with the JSON in a "json" field and the files as
// file parts (each part's file name and media type kept).
func (a *API) caseAction(w http.ResponseWriter, r *http.Request) {
	a.action(w, r, r.PathValue("name"))
}

// patchCase serves PATCH /v1/cases/{id}: the update action.
func (a *API) patchCase(w http.ResponseWriter, r *http.Request) { a.action(w, r, "update") }

// deleteCase serves DELETE /v1/cases/{id}: the withdraw action (a body,
// if any, carries its reason and via).
func (a *API) deleteCase(w http.ResponseWriter, r *http.Request) { a.action(w, r, "withdraw") }

func (a *API) action(w http.ResponseWriter, r *http.Request, name string) {
	release, ok := a.admitBody(w, r)
	if !ok {
		return
	}
	defer release()
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	req := ActionRequest{CaseID: r.PathValue("id"), Name: name, Actor: a.callerOf(r).actor}
	var errs authpilot.ValidationError
	if _, sent := r.Header[idempotencyHeader]; sent {
		req.IdempotencyKey = r.Header.Get(idempotencyHeader)
		if rule := keyRule(req.IdempotencyKey); rule != "" {
			errs = append(errs, authpilot.FieldError{Field: idempotencyHeader, Rule: rule})
		}
	}
	if v := r.Header.Get("If-Match"); v != "" {
		n, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(v, "W/"), `"`))
		if err != nil || n < 1 {
			errs = append(errs, authpilot.FieldError{Field: "If-Match", Rule: `must be the case's version in quotes, as its ETag ("7")`})
		}
		req.IfMatch = n
	}
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, "invalid headers", errs)
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(smallBody); err != nil {
			writeError(w, http.StatusBadRequest, "malformed multipart body: "+describeJSONError(err), nil)
			return
		}
		defer r.MultipartForm.RemoveAll()
		req.Input = json.RawMessage(r.FormValue("json"))
		keys := make([]string, 0, len(r.MultipartForm.File))
		for k := range r.MultipartForm.File {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			for _, fh := range r.MultipartForm.File[k] {
				f, err := fh.Open()
				if err != nil {
					writeError(w, http.StatusBadRequest, "could not read an uploaded file", nil)
					return
				}
				data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
				f.Close()
				if err != nil {
					writeError(w, http.StatusBadRequest, "could not read an uploaded file", nil)
					return
				}
				kind := k
				if k == "file" || k == "files" {
					kind = ""
				}
				req.Files = append(req.Files, authpilot.File{Name: fh.Filename, ContentType: fh.Header.Get("Content-Type"), Kind: kind, Data: data})
			}
		}
	case "", "application/json":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, describeJSONError(err), nil)
			return
		}
		req.Input = body
	default:
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json or multipart/form-data", nil)
		return
	}
	c, replayed, err := a.Actions.DoReplay(r.Context(), req)
	if a.actionError(w, r, err) {
		return
	}
	if replayed {
		w.Header().Set(replayedHeader, "true")
	}
	w.Header().Set("ETag", etag(c))
	writeJSON(w, http.StatusOK, c)
}

// actionError answers an action's error, if any, and reports whether it
// did: 422 names field and rule, 409 a stale If-Match, 404 an unknown
// case or action.
func (a *API) actionError(w http.ResponseWriter, r *http.Request, err error) bool {
	var ve authpilot.ValidationError
	var stale *StaleError
	var reuse *KeyReuseError
	switch {
	case err == nil:
		return false
	case errors.As(err, &ve):
		writeError(w, http.StatusUnprocessableEntity, "invalid action", ve)
	case errors.As(err, &stale):
		w.Header().Set("ETag", fmt.Sprintf("%q", strconv.Itoa(stale.Current)))
		writeError(w, http.StatusConflict, stale.Error(), authpilot.ValidationError{{Field: "If-Match", Rule: "is stale: the case changed since"}})
	case errors.As(err, &reuse):
		writeError(w, http.StatusUnprocessableEntity, reuse.Error(), authpilot.ValidationError{{Field: idempotencyHeader, Rule: "was used for a different request"}})
	case errors.Is(err, ErrUnknownAction):
		writeError(w, http.StatusNotFound, err.Error(), nil)
	case errors.Is(err, authpilot.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such case", nil)
	case errors.Is(err, authpilot.ErrConflict):
		writeError(w, http.StatusConflict, "the case changed during the action; read it again", nil)
	default:
		a.Log.Error("case action failed", "case", r.PathValue("id"), "route", r.Pattern, "err", err)
		writeError(w, http.StatusInternalServerError, "could not carry out the action", nil)
	}
	return true
}

// actor names who acts through the API: the token's secret name.
func (a *API) actor() string {
	if a.TokenName != "" {
		return "token:" + a.TokenName
	}
	return "api"
}

// etag is a case's entity tag: its version.
func etag(c *authpilot.Case) string { return fmt.Sprintf("%q", strconv.Itoa(c.Version)) }

// getEvents serves GET /v1/cases/{id}/events: the case's history, oldest
// first.
func (a *API) getEvents(w http.ResponseWriter, r *http.Request) {
	evs, err := a.Store.Events(r.Context(), r.PathValue("id"))
	if a.readFailed(w, r, "events", err) {
		return
	}
	if evs == nil {
		evs = []authpilot.Event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
}

// namesDocument reports whether the case itself names the document (an
// attachment, a letter, a response's document): the case's transaction is
// the authority, even if the row linking the content to the case was not
// written (a crash right after the action).
func namesDocument(c *authpilot.Case, sha string) bool {
	if slices.ContainsFunc(c.Attachments, func(a authpilot.Attachment) bool { return a.SHA256 == sha }) {
		return true
	}
	dets := slices.Clone(c.History)
	if c.Determination != nil {
		dets = append(dets, *c.Determination)
	}
	for _, d := range dets {
		if slices.Contains(d.Letters, sha) {
			return true
		}
	}
	for _, ir := range c.InfoRequests {
		if ir.Response != nil && slices.Contains(ir.Response.Documents, sha) {
			return true
		}
	}
	return false
}
