package payersim_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/authpilot/authpilot/internal/testhttp"
	"github.com/authpilot/authpilot/payersim"
)

func adminDo(t *testing.T, e *simEnv, method, path, body string) (int, string) {
	t.Helper()
	status, b, _ := testhttp.Do(t, method, e.srv.URL+path, strings.NewReader(body))
	return status, string(b)
}

func TestAdminEndpoints(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantBody                 string // substring
	}{
		{"index", "GET", "/_sim/", "", 200, `"portal": "payer"`},
		{"put scenario", "PUT", "/_sim/scenario", `{"rules":[{"name":"deny fusion","cpt":"22630","fate":"deny","reason":"no","after_checks":2}]}`, 200, `"after_checks": 2`},
		{"get scenario", "GET", "/_sim/scenario", "", 200, `"name": "deny fusion"`},
		{"scenario unknown field", "PUT", "/_sim/scenario", `{"rules":[{"fate":"deny","color":"red"}]}`, 400, `unknown field \"color\"`},
		{"scenario invalid fate", "PUT", "/_sim/scenario", `{"rules":[{"fate":"maybe"}]}`, 422, `unknown \"maybe\"`},
		{"post faults", "POST", "/_sim/faults", `{"slow_page":"1.5s","error_500_next":3,"layout_variant":true}`, 200, `"slow_page": "1.5s"`},
		{"get faults", "GET", "/_sim/faults", "", 200, `"error_500_next": 3`},
		{"faults bad duration", "POST", "/_sim/faults", `{"slow_page":"fast"}`, 400, "slow_page"},
		{"faults unknown field", "POST", "/_sim/faults", `{"captha":true}`, 400, "unknown field"},
		{"clear faults", "DELETE", "/_sim/faults", "", 200, "{}"},
		{"seed requests", "POST", "/_sim/requests", `[{"member_id":"A1B2C3D4","lines":[{"code":"22630","units":1}]},{"member_id":"A1B2C3D5","lines":[{"code":"72148"}],"outcome":{"fate":"pend"}}]`, 201, `"SHP-2026-004202"`},
		{"seed invalid", "POST", "/_sim/requests", `[{"member_id":"x","lines":[]}]`, 422, "member_id"},
		{"list requests", "GET", "/_sim/requests", "", 200, `"member_id": "A1B2C3D5"`},
		{"stats", "GET", "/_sim/stats", "", 200, `"logins": 0`},
		{"totp", "GET", "/_sim/totp", "", 200, `"code": "`},
		{"expire sessions", "POST", "/_sim/expire-sessions", "", 204, ""},
		{"reset stats", "DELETE", "/_sim/stats", "", 200, `"page_loads": 0`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := adminDo(t, e, tc.method, tc.path, tc.body)
			if status != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("%s %s: %d %s, want %d with %q", tc.method, tc.path, status, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	if got := e.portal.Scenario(); len(got.Rules) != 1 || got.Rules[0].Fate != payersim.FateDeny || got.Rules[0].AfterChecks != 2 {
		t.Errorf("scenario after admin PUTs: %+v", got)
	}
	if n := len(e.portal.Requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	if st := e.portal.Stats(); st.PageLoads != 0 {
		t.Errorf("admin calls counted as %d page loads", st.PageLoads)
	}
	code, err := e.portal.TOTPCode()
	if err != nil || code != totpAt(t, payersim.DefaultTOTPSecret, e.clock.Now()) {
		t.Errorf("TOTPCode %q, %v", code, err)
	}
}

func TestFaultsJSONRoundTrip(t *testing.T) {
	in := payersim.Faults{SlowPage: 1500e6, Error500Next: 2, Error500Path: "/auth/list", ExpireSessionsAfter: 4,
		LayoutVariant: true, Captcha: true, CaptchaCheckbox: true, Maintenance: true, RetryAfter: 120e9}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out payersim.Faults
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("round trip %s: %+v, want %+v", b, out, in)
	}
}

func TestRBMAdminHasNoTOTP(t *testing.T) {
	e := newRBMEnv(t, payersim.RBMOptions{})
	if status, _ := adminDo(t, e, "GET", "/_sim/totp", ""); status != http.StatusNotFound {
		t.Errorf("status %d, want 404", status)
	}
}
