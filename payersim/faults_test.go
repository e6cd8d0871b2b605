package payersim_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot/payersim"
)

func TestFaultError500Next(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	e.loginPayer()
	e.setFaults(payersim.Faults{Error500Next: 2})
	for i, want := range []int{500, 500, 200, 200} {
		pg := e.get("/auth/list")
		if pg.status != want {
			t.Fatalf("page %d: status %d, want %d", i+1, pg.status, want)
		}
		if want == 500 && !hasID(pg.body, "server-error") {
			t.Errorf("page %d: 500 without #server-error", i+1)
		}
	}
	if st := e.portal.Stats(); st.FaultsServed != 2 {
		t.Errorf("faults served %d, want 2", st.FaultsServed)
	}
	if f := e.portal.Faults(); f.Error500Next != 0 {
		t.Errorf("Error500Next left %d, want 0", f.Error500Next)
	}
}

func TestFaultError500Path(t *testing.T) {
	tests := []struct {
		path   string
		get    string
		status int
	}{
		{"/auth/list", "/auth/list", 500},
		{"/auth/list", "/dashboard", 200},
		{"/auth/", "/auth/new", 500},
		{"/auth/", "/dashboard", 200},
	}
	for _, tc := range tests {
		t.Run(tc.path+" "+tc.get, func(t *testing.T) {
			e := newPayerEnv(t, payersim.PayerOptions{})
			e.loginPayer()
			e.setFaults(payersim.Faults{Error500Path: tc.path})
			for range 2 {
				if pg := e.get(tc.get); pg.status != tc.status {
					t.Errorf("status %d, want %d", pg.status, tc.status)
				}
			}
		})
	}
}

func TestFaultExpireSessions(t *testing.T) {
	tests := []struct {
		name   string
		expire func(*payersim.Portal)
		okLoad int // pages that still load before the expiry
	}{
		{"after 2 pages", func(p *payersim.Portal) { _ = p.SetFaults(payersim.Faults{ExpireSessionsAfter: 2}) }, 2},
		{"after 1 page", func(p *payersim.Portal) { _ = p.SetFaults(payersim.Faults{ExpireSessionsAfter: 1}) }, 1},
		{"at once", func(p *payersim.Portal) { p.ExpireSessions() }, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newPayerEnv(t, payersim.PayerOptions{})
			e.loginPayer()
			tc.expire(e.portal)
			for i := range tc.okLoad {
				if pg := e.get("/auth/list"); pg.url.Path != "/auth/list" {
					t.Fatalf("page %d: at %s before the expiry", i+1, pg.url)
				}
			}
			pg := e.get("/auth/list")
			if pg.url.Path != "/login" || pg.url.RawQuery != "expired=1" || !hasID(pg.body, "session-expired") {
				t.Fatalf("at %s, want /login?expired=1 with #session-expired", pg.url)
			}
			// Logging in again works and the fault does not fire twice.
			e.loginPayer()
			for range 3 {
				if pg := e.get("/auth/list"); pg.url.Path != "/auth/list" {
					t.Fatalf("after re-login at %s", pg.url)
				}
			}
			if st := e.portal.Stats(); st.Logins != 2 {
				t.Errorf("logins %d, want 2", st.Logins)
			}
		})
	}
}

func TestFaultLayoutVariant(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		rbm     bool
		normal  []string // ids or classes present without the variant
		variant []string // present with it instead
	}{
		{"payer login button", "/login", false, []string{`id="login-button"`}, []string{`id="btn-signin"`}},
		{"payer list", "/auth/list", false,
			[]string{`id="auth-list" class="table auth-table"`, `<td class="col-status">`},
			[]string{`id="authorization-results" class="table results-grid"`, `<td class="col-decision">`}},
		{"rbm sign-in button", "/signin", true, []string{`id="signin-submit"`}, []string{`id="btn-login"`}},
		{"rbm status", "/orders/status?tracking_number=REF", true, []string{`id="order-status"`}, []string{`id="case-status"`}},
		{"rbm history", "/orders", true,
			[]string{`id="order-history"`, `<span class="order-status `},
			[]string{`id="orders-grid"`, `<span class="order-state `}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e *simEnv
			if tc.rbm {
				e = newRBMEnv(t, payersim.RBMOptions{})
			} else {
				e = newPayerEnv(t, payersim.PayerOptions{})
			}
			ref := seed(t, e.portal, simpleSubmission("M400001", "72148"))
			if !strings.HasSuffix(tc.path, "/signin") && !strings.HasSuffix(tc.path, "/login") {
				if tc.rbm {
					e.loginRBM()
				} else {
					e.loginPayer()
				}
			}
			path := strings.ReplaceAll(tc.path, "REF", ref)
			check := func(variant bool, present, absent []string) {
				t.Helper()
				e.setFaults(payersim.Faults{LayoutVariant: variant})
				pg := e.get(path)
				for _, s := range present {
					if !strings.Contains(pg.body, s) {
						t.Errorf("variant %v: %s lacks %s", variant, path, s)
					}
				}
				for _, s := range absent {
					if strings.Contains(pg.body, s) {
						t.Errorf("variant %v: %s still has %s", variant, path, s)
					}
				}
			}
			check(false, tc.normal, tc.variant)
			check(true, tc.variant, tc.normal)
		})
	}
}

func TestFaultCaptcha(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	e.setFaults(payersim.Faults{Captcha: true})
	pg := e.payerTOTP(e.payerPassword())
	if pg.url.Path != "/verify" || mustText(t, pg, "captcha-title") != "Verify you are human" || !hasID(pg.body, "captcha-image") {
		t.Fatalf("after TOTP at %s, want the CAPTCHA page:\n%s", pg.url, pg.body)
	}
	token := hidden(t, pg.body, "csrf_token")
	if pg := e.post("/verify", url.Values{"csrf_token": {token}, "human": {"yes"}}); !hasID(pg.body, "captcha-error") {
		t.Errorf("CAPTCHA passed while the fault is on")
	}
	if pg := e.get("/auth/list"); pg.url.Path != "/verify" {
		t.Errorf("blocked session reached %s", pg.url)
	}
	if st := e.portal.Stats(); st.Logins != 0 {
		t.Errorf("logins %d while blocked, want 0", st.Logins)
	}
	// A human solves it once the fault is off.
	e.setFaults(payersim.Faults{})
	if pg := e.post("/verify", url.Values{"csrf_token": {token}, "human": {"yes"}}); pg.url.Path != "/dashboard" {
		t.Errorf("after the fault: at %s, want /dashboard", pg.url)
	}
	if st := e.portal.Stats(); st.Logins != 1 {
		t.Errorf("logins %d, want 1", st.Logins)
	}
}

func TestFaultMaintenance(t *testing.T) {
	for _, rbm := range []bool{false, true} {
		name := "payer"
		if rbm {
			name = "rbm"
		}
		t.Run(name, func(t *testing.T) {
			var e *simEnv
			if rbm {
				e = newRBMEnv(t, payersim.RBMOptions{})
			} else {
				e = newPayerEnv(t, payersim.PayerOptions{})
			}
			e.setFaults(payersim.Faults{Maintenance: true, RetryAfter: 5 * time.Minute})
			for _, path := range []string{"/", "/login", "/signin", "/auth/list", "/orders/status"} {
				pg := e.get(path)
				if pg.status != http.StatusServiceUnavailable || pg.header.Get("Retry-After") != "300" ||
					mustText(t, pg, "maintenance-title") != "Scheduled maintenance" {
					t.Errorf("%s: status %d Retry-After %q", path, pg.status, pg.header.Get("Retry-After"))
				}
			}
			if pg := e.get("/static/payer.css"); pg.status != http.StatusOK {
				t.Errorf("static asset during maintenance: %d", pg.status)
			}
			_ = e.portal.SetFaults(payersim.Faults{})
			if pg := e.get("/"); pg.status != http.StatusOK {
				t.Errorf("after maintenance: %d", pg.status)
			}
		})
	}
}

func TestSetFaultsRejectsNegative(t *testing.T) {
	p := payersim.NewPayer(payersim.PayerOptions{})
	for _, f := range []payersim.Faults{{SlowPage: -1}, {Error500Next: -1}, {ExpireSessionsAfter: -2}, {RetryAfter: -time.Second}} {
		if err := p.SetFaults(f); err == nil {
			t.Errorf("SetFaults(%+v) accepted", f)
		}
	}
}
