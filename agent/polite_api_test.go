package agent

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/store"
)

// TestAPIResumeConnector: GET /v1/connectors shows a paused connector with
// until when and why; POST /v1/connectors/{id}/resume resumes it (200),
// then answers 409 (not paused); an unknown ID is 404 naming the field.
func TestAPIResumeConnector(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	base, _ := startAgent(t, cfg, &notifytest.LogBuffer{})
	ctx := context.Background()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if _, err := st.UpdateConnectorState(ctx, "summit", func(s *authpilot.ConnectorState) ([]authpilot.Alert, error) {
		s.Paused, s.PauseID, s.PausedAt, s.PausedUntil, s.PauseReason = true, "p1", time.Now().UTC(), until, "username or password refused"
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	code, body := do(t, "GET", base+"/v1/connectors", testToken, "")
	list, _ := body["connectors"].([]any)
	if code != http.StatusOK || len(list) != 1 {
		t.Fatalf("GET /v1/connectors: %d %v", code, body)
	}
	c0, _ := list[0].(map[string]any)
	if c0["state"] != "paused" || c0["until"] != until.Format(time.RFC3339) || c0["reason"] != "username or password refused" {
		t.Fatalf("connector %v, want paused until %s", c0, until.Format(time.RFC3339))
	}
	tests := []struct {
		name, id, token string
		code            int
		field           string
	}{
		{"no token", "summit", "", http.StatusUnauthorized, "error"},
		{"unknown", "sumit", testToken, http.StatusNotFound, "error"},
		{"resume", "summit", testToken, http.StatusOK, "state"},
		{"not paused", "summit", testToken, http.StatusConflict, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := do(t, "POST", base+"/v1/connectors/"+tt.id+"/resume", tt.token, "")
			if code != tt.code || body[tt.field] == nil {
				t.Fatalf("%d %v, want %d with %q", code, body, tt.code, tt.field)
			}
			if tt.code == http.StatusOK && body["state"] != "active" {
				t.Fatalf("after resume: %v", body)
			}
		})
	}
	if s, err := st.ConnectorState(ctx, "summit"); err != nil || s.Paused || s.ResumedBy != "api" {
		t.Fatalf("state after resume: %+v %v", s, err)
	}
}
