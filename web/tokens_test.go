package web_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/testhttp"
	"github.com/authpilot/authpilot/store"
)

// TestPersonTokens: a person's own API token (token create) attributes
// their actions to them and access-logs their reads of cases; a viewer's
// token only reads; the service token keeps working; a wrong one is 401.
func TestPersonTokens(t *testing.T) {
	w := newWorld(t)
	id := w.intake(t, "SHPTOK001", "Tokarev")
	w.addUser(t, "casey", store.RoleCoordinator)
	w.addUser(t, "vera", store.RoleViewer)
	ctx := context.Background()
	tokens := map[string]string{"casey": "apu_casey-token-for-tests", "vera": "apu_vera-token-for-tests"}
	for name, tok := range tokens {
		if err := w.st.AddToken(ctx, store.HashToken(tok), name, "test"); err != nil {
			t.Fatal(err)
		}
	}
	call := func(method, path, token, body string) int {
		code, _, _ := testhttp.Send(t, http.DefaultClient, testhttp.NewRequest(t, method, w.base+path, strings.NewReader(body),
			"Authorization", "Bearer "+token, "Content-Type", "application/json"))
		return code
	}
	note := `{"text": "called the payer"}`
	for _, tc := range []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"a person reads a case", "GET", "/v1/cases/" + id, tokens["casey"], "", 200},
		{"a viewer reads a case", "GET", "/v1/cases/" + id, tokens["vera"], "", 200},
		{"a viewer cannot act", "POST", "/v1/cases/" + id + "/actions/note", tokens["vera"], note, 403},
		{"a coordinator acts", "POST", "/v1/cases/" + id + "/actions/note", tokens["casey"], note, 200},
		{"the service token acts", "POST", "/v1/cases/" + id + "/actions/note", apiToken, note, 200},
		{"a wrong token", "GET", "/v1/cases/" + id, "apu_nobody", "", 401},
	} {
		if got := call(tc.method, tc.path, tc.token, tc.body); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	evs, err := w.st.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var actors []string
	for _, e := range evs {
		if e.Type == authpilot.EventNote {
			actors = append(actors, e.Actor)
		}
	}
	if want := []string{"user:casey", "token:api-token"}; !slices.Equal(actors, want) {
		t.Errorf("notes by %v, want %v", actors, want)
	}
	log, err := w.st.AccessLog(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var reads []string
	for _, e := range log {
		reads = append(reads, e.Actor+" "+e.Action+" "+strings.Join(e.CaseIDs, ",")+" "+e.From)
	}
	want := []string{"user:casey api read " + id + " 127.0.0.1", "user:vera api read " + id + " 127.0.0.1"}
	if !slices.Equal(reads, want) {
		t.Errorf("access log %q, want %q", reads, want)
	}
}
