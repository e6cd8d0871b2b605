package payersim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/authpilot/authpilot/internal/jsonhttp"
	"github.com/pquerna/otp/totp"
)

// routesAdmin registers the JSON admin endpoints under /_sim/. They are
// not counted, not faulted and not authenticated (a simulator only).
func (p *Portal) routesAdmin() {
	m := p.mux
	m.HandleFunc("GET /_sim/{$}", func(w http.ResponseWriter, _ *http.Request) {
		simJSON(w, http.StatusOK, map[string]any{
			"portal": p.kind.String(),
			"endpoints": []string{
				"GET /_sim/scenario", "PUT /_sim/scenario",
				"GET /_sim/faults", "POST /_sim/faults", "DELETE /_sim/faults",
				"GET /_sim/stats", "DELETE /_sim/stats",
				"GET /_sim/requests", "POST /_sim/requests",
				"GET /_sim/requests/{ref}", "POST /_sim/requests/{ref}/outcome", "POST /_sim/requests/{ref}/p2p",
				"POST /_sim/expire-sessions", "GET /_sim/totp", "GET /_sim/sms",
			},
		})
	})
	m.HandleFunc("GET /_sim/scenario", func(w http.ResponseWriter, _ *http.Request) {
		simJSON(w, http.StatusOK, p.Scenario())
	})
	m.HandleFunc("PUT /_sim/scenario", setting(p.SetScenario, p.Scenario))
	m.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		simJSON(w, http.StatusOK, p.Faults())
	})
	m.HandleFunc("POST /_sim/faults", setting(p.SetFaults, p.Faults))
	m.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		_ = p.SetFaults(Faults{})
		simJSON(w, http.StatusOK, p.Faults())
	})
	m.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, _ *http.Request) {
		simJSON(w, http.StatusOK, p.Stats())
	})
	m.HandleFunc("DELETE /_sim/stats", func(w http.ResponseWriter, _ *http.Request) {
		p.ResetStats()
		simJSON(w, http.StatusOK, p.Stats())
	})
	m.HandleFunc("GET /_sim/requests", func(w http.ResponseWriter, _ *http.Request) {
		simJSON(w, http.StatusOK, p.Requests())
	})
	m.HandleFunc("POST /_sim/requests", func(w http.ResponseWriter, r *http.Request) {
		var subs []Submission
		if err := decodeStrict(r, &subs); err != nil {
			simError(w, http.StatusBadRequest, err)
			return
		}
		refs, err := Seed(p, subs...)
		if err != nil {
			simError(w, http.StatusUnprocessableEntity, err)
			return
		}
		simJSON(w, http.StatusCreated, map[string][]string{"references": refs})
	})
	m.HandleFunc("POST /_sim/requests/{ref}/outcome", func(w http.ResponseWriter, r *http.Request) {
		var o Outcome
		if err := decodeStrict(r, &o); err != nil {
			simError(w, http.StatusBadRequest, err)
			return
		}
		if err := p.Redecide(r.PathValue("ref"), o); err != nil {
			simError(w, http.StatusUnprocessableEntity, err)
			return
		}
		req, _ := p.Request(r.PathValue("ref"))
		simJSON(w, http.StatusOK, req)
	})
	m.HandleFunc("GET /_sim/requests/{ref}", func(w http.ResponseWriter, r *http.Request) {
		req, ok := p.Request(r.PathValue("ref"))
		if !ok {
			simError(w, http.StatusNotFound, errors.New("no such request"))
			return
		}
		simJSON(w, http.StatusOK, req)
	})
	m.HandleFunc("POST /_sim/requests/{ref}/p2p", func(w http.ResponseWriter, r *http.Request) {
		var in PeerToPeerInput
		if err := decodeStrict(r, &in); err != nil {
			simError(w, http.StatusBadRequest, err)
			return
		}
		req, err := p.RecordPeerToPeer(r.PathValue("ref"), in)
		if err != nil {
			simError(w, http.StatusUnprocessableEntity, err)
			return
		}
		simJSON(w, http.StatusOK, req)
	})
	m.HandleFunc("POST /_sim/expire-sessions", func(w http.ResponseWriter, _ *http.Request) {
		p.ExpireSessions()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_sim/sms", func(w http.ResponseWriter, _ *http.Request) {
		simJSON(w, http.StatusOK, map[string][]SMS{"messages": p.Texts()})
	})
	m.HandleFunc("GET /_sim/totp", func(w http.ResponseWriter, _ *http.Request) {
		if p.kind != kindPayer {
			simError(w, http.StatusNotFound, errors.New("this portal has no TOTP"))
			return
		}
		code, err := p.TOTPCode()
		if err != nil {
			simError(w, http.StatusInternalServerError, err)
			return
		}
		simJSON(w, http.StatusOK, map[string]string{"code": code})
	})
}

// TOTPCode returns the payer portal's current TOTP code by the portal's
// clock (for demos; a client normally computes it from the seed).
func (p *Portal) TOTPCode() (string, error) {
	code, err := totp.GenerateCodeCustom(p.totpSecret, p.now(), totpOpts)
	if err != nil {
		return "", fmt.Errorf("totp code: %w", err)
	}
	return code, nil
}

// decodeStrict decodes one JSON value, rejecting unknown fields.
func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}

// setting serves a request that replaces a setting (the scenario, the
// faults) with its strictly decoded JSON body through set, answering with
// get: 400 for a body that does not decode, 422 for one set refuses.
func setting[T any](set func(T) error, get func() T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var v T
		if err := decodeStrict(r, &v); err != nil {
			simError(w, http.StatusBadRequest, err)
			return
		}
		if err := set(v); err != nil {
			simError(w, http.StatusUnprocessableEntity, err)
			return
		}
		simJSON(w, http.StatusOK, get())
	}
}

// simJSON answers status with v as indented JSON.
var simJSON = jsonhttp.Write

func simError(w http.ResponseWriter, status int, err error) {
	simJSON(w, status, map[string]string{"error": err.Error()})
}
