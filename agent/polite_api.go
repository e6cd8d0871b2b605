package agent

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// listConnectors answers GET /v1/connectors: each connector's login state
// (active, paused until when and why, held by a Retry-After, at its cap).
func (a *API) listConnectors(w http.ResponseWriter, r *http.Request) {
	sts, err := ConnectorStatuses(r.Context(), a.Store, a.Connectors, politeNow(a))
	if err != nil {
		a.Log.Error("list connectors failed", "err", err)
		writeError(w, http.StatusInternalServerError, "cannot read the connectors' state", nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"connectors": sts})
}

// resumeConnector answers POST /v1/connectors/{id}/resume: a paused
// connector logs in again at its next run. 404 names an unknown connector;
// 409 says it is not paused.
func (a *API) resumeConnector(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	known := false
	for _, c := range a.Connectors {
		known = known || c.ID == id
	}
	if !known {
		writeError(w, http.StatusNotFound, fmt.Sprintf("id: unknown connector %q", id), nil)
		return
	}
	_, err := ResumeConnector(r.Context(), a.Store, id, "api", politeNow(a))
	switch {
	case errors.Is(err, ErrNotPaused):
		writeError(w, http.StatusConflict, fmt.Sprintf("id: connector %q is not paused", id), nil)
		return
	case err != nil:
		a.Log.Error("resume connector failed", "connector", id, "err", err)
		writeError(w, http.StatusInternalServerError, "cannot resume the connector", nil)
		return
	}
	a.Log.Info("connector resumed", "connector", id, "by", "api")
	sts, err := ConnectorStatuses(r.Context(), a.Store, a.Connectors, politeNow(a))
	if err == nil {
		for _, s := range sts {
			if s.ID == id {
				writeJSON(w, http.StatusOK, s)
				return
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "state": "active"})
}

func politeNow(a *API) time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}
