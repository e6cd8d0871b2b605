package testhttp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestNewRequestHeaders: header pairs are set in order, and an empty
// value removes the header an earlier pair set.
func TestNewRequestHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, set := r.Header["X-Empty"]; set {
			http.Error(w, "a removed header was sent", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Seen", r.Header.Get("X-Token"))
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(r.Method + " " + r.URL.Path))
	}))
	defer srv.Close()
	req := NewRequest(t, "POST", srv.URL+"/v1/cases", strings.NewReader("{}"), "X-Empty", "set", "X-Token", "t1", "X-Empty", "")
	code, body, h := Send(t, http.DefaultClient, req)
	if code != http.StatusCreated || h.Get("X-Seen") != "t1" || string(body) != "POST /v1/cases" {
		t.Fatalf("answer %d %v %q", code, h, body)
	}
}
