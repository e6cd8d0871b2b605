package portal

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify/notifytest"
)

// testCase is a case with PHI that must never reach an error message.
func testCase(t *testing.T) *authpilot.Case {
	t.Helper()
	dir := t.TempDir()
	var atts []authpilot.Attachment
	for name, body := range map[string]string{"pt-notes.pdf": "%PDF-1.4 pt notes", "mri-report.pdf": "%PDF-1.4 mri"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		kind := "pt_notes"
		if strings.HasPrefix(name, "mri") {
			kind = "imaging_report"
		}
		atts = append(atts, authpilot.Attachment{Name: name, Kind: kind, Path: p})
	}
	return &authpilot.Case{
		ID:       "01JTESTCASE",
		Patient:  authpilot.Patient{FirstName: "Jane", LastName: "Roe", DOB: authpilot.Date{Year: 1961, Month: 7, Day: 4}, MemberID: "W123456789"},
		Urgency:  authpilot.UrgencyExpedited,
		PayerRef: "SHP-2026-000123",
		ServiceLines: []authpilot.ServiceLine{
			{Code: "22612", Units: 1, Level: "L4-L5"},
			{Code: "22614", Units: 2, Level: "L5-S1"},
		},
		Diagnoses:     []string{"M43.16", "M48.061"},
		ServiceDate:   authpilot.Date{Year: 2026, Month: 4, Day: 20},
		ClinicalNotes: "Failed 12 weeks of PT.",
		Attachments:   atts,
	}
}

const formFlows = `
base_url: BASE
flows:
  form:
    - goto: /form.html
    - fill: {selector: "#member", value: "{{.Case.Patient.MemberID}}"}
    - fill: {selector: "#dos", value: '{{date "2006-01-02" .Case.ServiceDate}}'}
    - fill: {selector: "#notes", value: "{{.Case.ClinicalNotes}}"}
    - select: {selector: "#urgency", value: "{{.Case.Urgency}}"}
    - select: {selector: "#region", label: "Cervical spine"}
    - check: "#attest"
    - check: {selector: "#newsletter", checked: false}
    - each:
        over: service_lines
        steps:
          - fill: {selector: "#cpt-{{.Number}}", value: "{{.Line.Code}}"}
    - upload: {selector: "#docs", files: attachments, kinds: [pt_notes]}
    - fill: {selector: "#hidden-field", value: "x"}
      optional: true
      timeout: 300ms
    - fill: {selector: "#member", value: "{{.Vars.never}}"}
      if: "{{eq .Case.Urgency \"standard\"}}"
    - screenshot: before-send
    - click: {selector: "button", text: "^Send$", navigate: true}
    - wait_for: {text: "Received", url: "/echo$"}
    - extract: {selector: "#confirmation", into: ref, regex: 'reference is (?P<value>REF-\d+)'}
  never:
    - extract: {selector: "#x", into: never}
`

func TestStepsFillSelectCheckUploadClick(t *testing.T) {
	t.Parallel()
	st, srv := newSite(t, time.Now)
	h := newHarness(t, srv, formFlows, harnessOpts{})
	h.rec.WantAll = true
	s := h.mustOpen()
	c := testCase(t)

	r, err := h.runFlow(s, "form", c)
	if err != nil {
		t.Fatalf("form flow: %v", err)
	}
	posted, files := st.received()
	want := map[string][]string{
		"member":  {"W123456789"},
		"dos":     {"2026-04-20"},
		"notes":   {"Failed 12 weeks of PT."},
		"urgency": {"expedited"},
		"region":  {"C"},
		"attest":  {"yes"},
		"cpt_1":   {"22612"},
		"cpt_2":   {"22614"},
		"cpt_3":   {""},
		"hidden":  {""},
	}
	if !reflect.DeepEqual(posted, want) {
		t.Errorf("posted\n got %v\nwant %v", posted, want)
	}
	if !reflect.DeepEqual(files, map[string]string{"pt-notes.pdf": "%PDF-1.4 pt notes"}) {
		t.Errorf("uploaded %v, want only the pt_notes attachment", files)
	}
	if got := r.data.Vars["ref"]; got != "REF-12345" {
		t.Errorf("ref = %q, want REF-12345 (named group value)", got)
	}
	names := strings.Join(h.rec.StepNames(), "\n")
	for _, w := range []string{
		"flows.form.steps[10] fill skipped (optional, not on the page)",
		"flows.form.steps[11] fill skipped",
		"flows.form.steps[8].each.steps[0] fill [service_line 2]",
	} {
		if !strings.Contains(names, w) {
			t.Errorf("step log lacks %q:\n%s", w, names)
		}
	}
	if shots := h.rec.Artifacts("screenshot"); len(shots) == 0 || !strings.HasPrefix(string(shots[0].Data), "\x89PNG") {
		t.Errorf("no PNG screenshot attached")
	}
	var named bool
	for _, a := range h.rec.Artifacts("screenshot") {
		named = named || a.Name == "before-send.png"
	}
	if !named {
		t.Errorf("the screenshot step's artifact is not named before-send.png")
	}
	if len(h.rec.Artifacts("dom")) == 0 {
		t.Errorf("no DOM snapshot attached although the recorder wants them")
	}
}

func TestNetworkCapture(t *testing.T) {
	t.Parallel()
	_, srv := newSite(t, time.Now)
	h := newHarness(t, srv, formFlows, harnessOpts{})
	s := h.mustOpen()
	if _, err := h.runFlow(s, "form", testCase(t)); err != nil {
		t.Fatalf("form flow: %v", err)
	}
	// The capture is asynchronous: the POST's exchange lands once its body
	// has been read, which happened before the extract step ran; allow the
	// event goroutine to catch up by closing the session (stops capture).
	_ = s.Close()
	var post map[string]any
	for _, a := range h.rec.Artifacts("network") {
		var m map[string]any
		if err := json.Unmarshal(a.Data, &m); err != nil {
			t.Fatalf("network artifact %s is not JSON: %v", a.Name, err)
		}
		if m["method"] == "POST" && strings.HasSuffix(m["url"].(string), "/echo") {
			post = m
		}
		if a.ContentType != "application/json" {
			t.Errorf("network artifact content type %q", a.ContentType)
		}
	}
	if post == nil {
		t.Fatalf("no POST /echo exchange among %d network artifacts", len(h.rec.Artifacts("network")))
	}
	wantKeys := []string{"body_base64", "duration_ms", "method", "request_body", "request_headers", "response_headers", "started", "status", "url"}
	if got := keys(post); !reflect.DeepEqual(got, wantKeys) {
		t.Errorf("keys %v, want %v", got, wantKeys)
	}
	if post["status"].(float64) != 200 {
		t.Errorf("status %v", post["status"])
	}
	if _, err := time.Parse(time.RFC3339Nano, post["started"].(string)); err != nil {
		t.Errorf("started: %v", err)
	}
	ct := post["response_headers"].(map[string]any)["Content-Type"].([]any)
	if len(ct) != 1 || ct[0] != "text/html; charset=utf-8" {
		t.Errorf("response Content-Type %v", ct)
	}
	body, _ := base64.StdEncoding.DecodeString(post["body_base64"].(string))
	if !strings.Contains(string(body), "REF-12345") {
		t.Errorf("response body not captured: %q", body)
	}
	if !strings.Contains(post["request_body"].(string), `name="member"`) {
		t.Errorf("request body not captured")
	}
}

const extractFlows = `
base_url: BASE
limits: {step_timeout: 2s}
status_map:
  "^Approved$": approved
flows:
  table:
    - goto: /table.html
    - extract: {selector: "#ref", into: payer_ref}
    - extract: {selector: "#letter", attr: data-kind, into: kind}
    - extract: {selector: "#auth", into: auth_number, regex: '#\s*(PA-\d+)'}
    - extract:
        fields:
          status: "#status"
          valid_from: {selector: "#valid", regex: 'Valid (\S+)'}
          valid_to: {selector: "#valid", regex: 'through (\S+)'}
          decided_at: {selector: "#decided", regex: 'Decided (.+)'}
          denial_reason: {selector: "#denial", optional: true}
    - extract:
        rows: "#lines tbody tr.line"
        fields:
          code: {selector: ".", attr: data-code}
          units: {selector: "td.units", regex: '(\d+)'}
        into: approved_lines
    - extract: {rows: "#none tr", fields: {code: td}, into: nothing}
      optional: true
  bad_regex:
    - goto: /table.html
    - extract: {selector: "#auth", into: auth_number, regex: '^\d+$'}
  missing:
    - goto: /table.html
    - extract: {selector: "#no-such-element", into: x}
      timeout: 300ms
`

func TestExtract(t *testing.T) {
	t.Parallel()
	_, srv := newSite(t, time.Now)
	h := newHarness(t, srv, extractFlows, harnessOpts{})
	s := h.mustOpen()
	c := testCase(t)

	r, err := h.runFlow(s, "table", c)
	if err != nil {
		t.Fatalf("table flow: %v", err)
	}
	out, err := h.conn.opts.outcomeOf(c, r.data.Vars, "test")
	if err != nil {
		t.Fatalf("outcome: %v", err)
	}
	decided := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	want := &outcome{
		payerRef: "SHP-2026-000123", status: authpilot.StatusApproved, statusText: "Approved", hasStatus: true,
		det: &authpilot.Determination{
			Status: authpilot.StatusApproved, AuthNumber: "PA-778899",
			ApprovedLines: []authpilot.ApprovedLine{{Code: "22612", Units: 1}, {Code: "22614", Units: 2}},
			ValidFrom:     authpilot.Date{Year: 2026, Month: 3, Day: 1}, ValidTo: authpilot.Date{Year: 2026, Month: 5, Day: 30},
			DecidedAt: &decided, NoticeDate: authpilot.Date{Year: 2026, Month: 3, Day: 1},
		},
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("outcome\n got %+v %+v\nwant %+v %+v", out, out.det, want, want.det)
	}
	if r.data.Vars["kind"] != "determination letter" {
		t.Errorf("attr extract = %q", r.data.Vars["kind"])
	}
	if got, ok := r.data.Vars["nothing"].([]map[string]string); !ok || len(got) != 0 {
		t.Errorf("optional rows extract = %#v, want an empty list", r.data.Vars["nothing"])
	}

	tests := []struct {
		flow, wantErr string
	}{
		{"bad_regex", `flows.bad_regex.steps[1] extract: portal changed: field "auth_number": text does not match regex "^\d+$"`},
		{"missing", `flows.missing.steps[1] extract: portal changed: "#no-such-element" did not appear within 300ms: element missing`},
	}
	for _, tt := range tests {
		t.Run(tt.flow, func(t *testing.T) {
			_, err := h.runFlow(s, tt.flow, c)
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("err = %v\nwant %s", err, tt.wantErr)
			}
			var ce *authpilot.Error
			if !errors.As(err, &ce) || len(ce.Screenshot) == 0 {
				t.Errorf("portal_changed error without a screenshot")
			}
		})
	}
}

const expectFlows = `
base_url: BASE
limits: {step_timeout: 1500ms}
interrupts:
  maintenance: {text: "Scheduled maintenance", fail: retryable}
flows:
  login:
    - goto: '/alt?show={{.Case.ExternalRef}}'
    - expect:
        mfa: {selector: "#mfa", then: [{fill: {selector: "#code", value: "123456"}}, {extract: {selector: "#code", attr: id, into: then_ran}}]}
        dashboard: {selector: "#dashboard", done: true}
        error: {selector: ".alert-error", fail: auth, message: "bad password"}
        captcha: {text: "verify you are human", fail: needs_human}
    - extract: {selector: "h1", into: after}
  maint:
    - goto: /maint
    - wait_for: "#never"
  down:
    - goto: /down
`

func TestExpectAlternatives(t *testing.T) {
	t.Parallel()
	_, srv := newSite(t, time.Now)
	h := newHarness(t, srv, expectFlows, harnessOpts{})
	s := h.mustOpen()

	tests := []struct {
		show      string
		wantClass string
		wantErr   string
		// wantText is the payer's words a fail alternative keeps: the
		// matched element's visible text, or what a text pattern matched.
		wantText string
		wantVars map[string]any
	}{
		{show: "mfa", wantVars: map[string]any{"then_ran": "code", "after": "Please wait"}},
		{show: "dashboard", wantVars: map[string]any{}},
		{show: "hidden-error", wantVars: map[string]any{}},
		{show: "error", wantClass: "auth", wantErr: `flows.login.steps[1] expect: authentication failed: the page shows "error": bad password`,
			wantText: "The password is wrong."},
		{show: "captcha", wantClass: "needs_human", wantErr: `flows.login.steps[1] expect: needs a human: the page shows "captcha"`,
			wantText: "verify you are human"},
		{show: "nothing", wantClass: "portal_changed",
			wantErr: `flows.login.steps[1] expect: portal changed: none of the expected alternatives (mfa, dashboard, error, captcha) did not appear within 1.5s: element missing`},
	}
	for _, tt := range tests {
		t.Run(tt.show, func(t *testing.T) {
			f := h.conn.opts.Flows["login"]
			slot, err := s.page(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			defer s.putPage(slot)
			r := s.newRunner(slot, &tmplData{Case: &authpilot.Case{ExternalRef: tt.show}}, "login")
			err = r.runFlow(testCtx(t), f.Steps)
			if got := authpilot.ErrorClass(err); got != tt.wantClass {
				t.Fatalf("class %q (%v), want %q", got, err, tt.wantClass)
			}
			if tt.wantErr != "" {
				if err.Error() != tt.wantErr {
					t.Errorf("err = %v\nwant %s", err, tt.wantErr)
				}
				var ce *authpilot.Error
				if !errors.As(err, &ce) || len(ce.Screenshot) == 0 {
					t.Errorf("failure without a screenshot")
				}
				if ce != nil && ce.PayerText != tt.wantText {
					t.Errorf("payer text %q, want %q", ce.PayerText, tt.wantText)
				}
				return
			}
			if !reflect.DeepEqual(r.data.Vars, tt.wantVars) {
				t.Errorf("vars %v, want %v", r.data.Vars, tt.wantVars)
			}
		})
	}

	failures := []struct {
		flow, wantClass, wantErr string
	}{
		{"maint", "retryable", `flows.maint.steps[1] wait_for: temporary failure: interrupt "maintenance"`},
		{"down", "retryable", `flows.down.steps[0] goto: temporary failure: the portal answered HTTP 503`},
	}
	for _, tt := range failures {
		t.Run(tt.flow, func(t *testing.T) {
			_, err := h.runFlow(s, tt.flow, nil)
			if authpilot.ErrorClass(err) != tt.wantClass || err.Error() != tt.wantErr {
				t.Errorf("err = %v (%s)\nwant %s (%s)", err, authpilot.ErrorClass(err), tt.wantErr, tt.wantClass)
			}
		})
	}
}

const waitFlows = `
base_url: BASE
limits: {step_timeout: 2s}
flows:
  gone:
    - goto: /gone
    - wait_for: {selector: "#spinner", gone: true}
    - wait_for: {url: "/gone$"}
    - extract: {selector: "#content", into: content}
  unreachable:
    - goto: http://CLOSED/nothing
  hang:
    - goto: /hang
      timeout: 500ms
`

func TestWaitForAndNavigationFailure(t *testing.T) {
	t.Parallel()
	_, srv := newSite(t, time.Now)
	h := newHarness(t, srv, strings.ReplaceAll(waitFlows, "CLOSED", closedAddr(t)), harnessOpts{})
	s := h.mustOpen()
	r, err := h.runFlow(s, "gone", nil)
	if err != nil {
		t.Fatalf("gone: %v", err)
	}
	if r.data.Vars["content"] != "ready" {
		t.Errorf("content = %v", r.data.Vars["content"])
	}
	_, err = h.runFlow(s, "unreachable", nil)
	if authpilot.ErrorClass(err) != "retryable" || !strings.Contains(err.Error(), "navigation failed") {
		t.Errorf("unreachable: %v (%s), want a retryable navigation failure", err, authpilot.ErrorClass(err))
	}
	_, err = h.runFlow(s, "hang", nil)
	if authpilot.ErrorClass(err) != "retryable" || !strings.HasPrefix(err.Error(), "flows.hang.steps[0] goto: temporary failure: navigation timed out") {
		t.Errorf("hang: %v (%s), want a retryable navigation timeout", err, authpilot.ErrorClass(err))
	}
}

const loginConfig = `
base_url: BASE
secrets: {username: site-user, password: site-password, totp: site-totp}
limits: {step_timeout: 3s}
session: {keep_cookies: true}
interrupts:
  expired: {selector: "#expired", relogin: true}
login:
  steps:
    - goto: /login
    - expect:
        logged_in: {selector: "#dashboard", done: true}
        form: {selector: "#login-form"}
    - fill: {selector: "#username", value: '{{secret "username"}}'}
    - fill: {selector: "#password", value: '{{secret "password"}}'}
    - click: {selector: "#sign-in", navigate: true}
    - expect:
        mfa:
          selector: "#mfa-form"
          then:
            - totp: {selector: "#code", secret: totp}
            - click: {selector: "#verify", navigate: true}
            - expect:
                home: {selector: "#dashboard"}
                wrong_code: {selector: "#mfa-error", fail: auth}
        error: {selector: "#login-error", fail: auth}
flows:
  letter:
    - goto: /home
    - click: {selector: "#letter", download: letter}
`

func TestLoginTOTPAndDownload(t *testing.T) {
	t.Parallel()
	clock := newClock()
	st, srv := newSite(t, clock.Now)
	secrets := notifytest.Secrets{"site-user": siteUser, "site-password": sitePassword, "site-totp": siteSeed}
	h := newHarness(t, srv, loginConfig, harnessOpts{secrets: secrets, now: clock.Now})
	s := h.mustOpen()
	if st.logins != 1 {
		t.Fatalf("logins = %d, want 1", st.logins)
	}
	r, err := h.runFlow(s, "letter", nil)
	if err != nil {
		t.Fatalf("letter: %v", err)
	}
	if len(r.out.files) != 1 {
		t.Fatalf("files = %d, want 1", len(r.out.files))
	}
	f := r.out.files[0]
	if f.Kind != "letter" || f.Name != "Determination_SHP-1.pdf" || f.ContentType != "application/pdf" || !strings.HasPrefix(string(f.Data), "%PDF-") {
		t.Errorf("file = %q %q %q %q", f.Kind, f.Name, f.ContentType, f.Data)
	}
	// Secrets are registered for redaction, URL-encoded too (form posts).
	red := strings.Join(h.rec.Redacted(), "\n")
	for _, v := range []string{sitePassword, "p%40ss+word%261", siteUser} {
		if !strings.Contains(red, v) {
			t.Errorf("%q not registered for redaction", v)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	// A second visit reuses the kept session: no second login.
	s2 := h.mustOpen()
	if st.logins != 1 {
		t.Errorf("logins after a visit with kept cookies = %d, want 1", st.logins)
	}
	// The session ends mid-visit: one re-login, then the flow goes on.
	st.expireAll()
	err = s2.withRelogin(testCtx(t), s2.main, nil, func() error {
		_, err := h.runFlow(s2, "letter", nil)
		return err
	})
	if err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if st.logins != 2 {
		t.Errorf("logins after expiry = %d, want 2", st.logins)
	}
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	clock := newClock()
	_, srv := newSite(t, clock.Now)
	tests := []struct {
		name      string
		secrets   notifytest.Secrets
		wantClass string
		wantErr   string
	}{
		{"wrong password", notifytest.Secrets{"site-user": siteUser, "site-password": "nope", "site-totp": siteSeed}, "auth",
			`login.steps[5] expect: authentication failed: the page shows "error"`},
		{"no totp seed", notifytest.Secrets{"site-user": siteUser, "site-password": sitePassword}, "needs_human",
			`login.steps[5].expect.mfa.then[0] totp: needs a human: MFA prompt: keyring item "site-totp" (secret "totp") is missing: run authpilot secrets set site-totp`},
		{"bad totp seed", notifytest.Secrets{"site-user": siteUser, "site-password": sitePassword, "site-totp": "not base32 !"}, "needs_human",
			`login.steps[5].expect.mfa.then[0] totp: needs a human: MFA prompt: the totp secret is not a valid base32 seed`},
		{"wrong totp seed", notifytest.Secrets{"site-user": siteUser, "site-password": sitePassword, "site-totp": "GEZDGNBVGY3TQOJQ"}, "auth",
			`login.steps[5].expect.mfa.then[2] expect: authentication failed: the page shows "wrong_code"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, srv, loginConfig, harnessOpts{secrets: tt.secrets, now: clock.Now})
			_, err := h.open(testCtx(t))
			if authpilot.ErrorClass(err) != tt.wantClass || err.Error() != tt.wantErr {
				t.Fatalf("err = %v (%s)\nwant %s (%s)", err, authpilot.ErrorClass(err), tt.wantErr, tt.wantClass)
			}
			if strings.Contains(err.Error(), sitePassword) || strings.Contains(err.Error(), siteSeed) {
				t.Errorf("a secret leaked into the error")
			}
		})
	}
}

const templateFlows = `
base_url: BASE
flows:
  third_line:
    - goto: /form.html
    - fill: {selector: "#member", value: "{{(index .Case.ServiceLines 2).Code}}"}
  bad_date:
    - goto: /form.html
    - fill: {selector: "#member", value: '{{date "01/02/2006" .Case.ClinicalNotes}}'}
`

func TestTemplateErrorsAtRunTime(t *testing.T) {
	t.Parallel()
	_, srv := newSite(t, time.Now)
	h := newHarness(t, srv, templateFlows, harnessOpts{})
	s := h.mustOpen()
	c := testCase(t)
	tests := []struct {
		flow, wantErr string
	}{
		{"third_line", `flows.third_line.steps[1] fill: needs a human: template value:1:3: executing "value" at <index .Case.ServiceLines 2>: error calling index: reflect: slice index out of range`},
		{"bad_date", `flows.bad_date.steps[1] fill: needs a human: template value:1:2: executing "value" at <date "01/02/2006" .Case.ClinicalNotes>: error calling date: date: the value is not a YYYY-MM-DD date`},
	}
	for _, tt := range tests {
		t.Run(tt.flow, func(t *testing.T) {
			_, err := h.runFlow(s, tt.flow, c)
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("err = %v\nwant %s", err, tt.wantErr)
			}
			for _, phi := range []string{c.Patient.MemberID, c.ClinicalNotes, "22612", "Roe"} {
				if strings.Contains(err.Error(), phi) {
					t.Errorf("error carries PHI %q", phi)
				}
			}
		})
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// TestConcurrentDownloads runs downloads in two visits (two incognito
// contexts of the one browser) at once, as two portals polled together do:
// each visit must get its own file.
func TestConcurrentDownloads(t *testing.T) {
	t.Parallel()
	clock := newClock()
	_, srv := newSite(t, clock.Now)
	secrets := notifytest.Secrets{"site-user": siteUser, "site-password": sitePassword, "site-totp": siteSeed}
	var sessions []*Session
	var hs []*harness
	for i := 0; i < 2; i++ {
		h := newHarness(t, srv, loginConfig, harnessOpts{secrets: secrets, now: clock.Now})
		hs = append(hs, h)
		sessions = append(sessions, h.mustOpen())
	}
	errs := make(chan error, 2*4)
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Go(func() {
			for k := 0; k < 4; k++ {
				r, err := hs[i].runFlow(sessions[i], "letter", nil)
				if err == nil && (len(r.out.files) != 1 || !strings.HasPrefix(string(r.out.files[0].Data), "%PDF-")) {
					err = fmt.Errorf("visit %d download %d: %d files", i, k, len(r.out.files))
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
