package payersim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/authpilot/authpilot/payersim"
)

func TestPayerSMSLogin(t *testing.T) {
	tests := []struct {
		name     string
		code     func(texted string) string
		wantPath string
		wantID   string
	}{
		{name: "texted code accepted", code: func(c string) string { return c }, wantPath: "/dashboard", wantID: "dashboard-title"},
		{name: "wrong code refused", code: func(c string) string { return wrongDigits(c) }, wantPath: "/mfa", wantID: "mfa-error"},
		{name: "the TOTP is not the texted code", code: func(string) string { return "" }, wantPath: "/mfa", wantID: "mfa-error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newPayerEnv(t, payersim.PayerOptions{MFA: payersim.MFASMS})
			mfa := e.payerPassword()
			e.mustBeAt(mfa, "/mfa", "after password")
			if got := mustText(t, mfa, "sms-notice"); got != "We texted a 6-digit code to (***) ***-0142. Enter it below." {
				t.Errorf("notice %q", got)
			}
			status, body := adminDo(t, e, "GET", "/_sim/sms", "")
			var texts struct{ Messages []payersim.SMS }
			if err := json.Unmarshal([]byte(body), &texts); status != http.StatusOK || err != nil || len(texts.Messages) != 1 {
				t.Fatalf("GET /_sim/sms: %d %s (%v)", status, body, err)
			}
			code := tc.code(texts.Messages[0].Code)
			if code == "" {
				code = totpAt(t, payersim.DefaultTOTPSecret, e.clock.Now())
			}
			pg := e.postWithToken(mfa, "csrf_token", "/mfa", url.Values{"code": {code}})
			if pg.url.Path != tc.wantPath || !hasID(pg.body, tc.wantID) {
				t.Fatalf("at %s, want %s with #%s:\n%s", pg.url.Path, tc.wantPath, tc.wantID, pg.body)
			}
		})
	}
}

// TestPayerSMSCodePerLogin: every login texts a new code; an earlier one
// does not open a later login.
func TestPayerSMSCodePerLogin(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{MFA: payersim.MFASMS})
	e.payerPassword()
	second := e.payerPassword()
	texts := e.portal.Texts()
	if len(texts) != 2 {
		t.Fatalf("%d texts, want 2", len(texts))
	}
	if texts[0].Code == texts[1].Code {
		t.Skip("two random codes collided")
	}
	if pg := e.postWithToken(second, "csrf_token", "/mfa", url.Values{"code": {texts[0].Code}}); pg.url.Path != "/mfa" {
		t.Errorf("the first login's code opened the second: at %s", pg.url.Path)
	}
	if pg := e.postWithToken(second, "csrf_token", "/mfa", url.Values{"code": {texts[1].Code}}); pg.url.Path != "/dashboard" {
		t.Errorf("the second login's code: at %s", pg.url.Path)
	}
}

func TestFaultCaptchaCheckbox(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	e.setFaults(payersim.Faults{CaptchaCheckbox: true})
	pg := e.payerTOTP(e.payerPassword())
	e.mustBeAt(pg, "/verify", "after TOTP")
	if pg := e.postWithToken(pg, "csrf_token", "/verify", url.Values{}); !hasID(pg.body, "captcha-error") {
		t.Fatalf("passed without the checkbox: at %s", pg.url.Path)
	}
	if pg := e.postWithToken(pg, "csrf_token", "/verify", url.Values{"human": {"yes"}}); pg.url.Path != "/dashboard" {
		t.Fatalf("with the checkbox ticked: at %s", pg.url.Path)
	}
}

func wrongDigits(c string) string {
	b := []byte(c)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}
