// Package jsonhttp writes JSON answers the one way the daemon's API and
// the simulators' admin APIs answer.
package jsonhttp

import (
	"encoding/json"
	"net/http"
)

// Write answers status with v as indented JSON.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
