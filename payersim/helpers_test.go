package payersim_test

import (
	"bytes"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/schedules/clocktest"
	"github.com/pquerna/otp/totp"
)

// testStart is the fixed start of every test clock: a Monday morning.
var testStart = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// simEnv is one portal behind an httptest server and a browser-like client
// (cookie jar, follows redirects).
type simEnv struct {
	t      *testing.T
	portal *payersim.Portal
	srv    *httptest.Server
	client *http.Client
	clock  *clocktest.Fake
}

// page is one response as the client ended up with it.
type page struct {
	status int
	body   string
	url    *url.URL // after redirects
	header http.Header
}

// setFaults sets the portal's faults, failing the test if it refuses them.
func (e *simEnv) setFaults(f payersim.Faults) {
	e.t.Helper()
	if err := e.portal.SetFaults(f); err != nil {
		e.t.Fatalf("SetFaults(%+v): %v", f, err)
	}
}

func newPayerEnv(t *testing.T, opts payersim.PayerOptions) *simEnv {
	t.Helper()
	clock := testClock(&opts.Now)
	return newSimEnv(t, payersim.NewPayer(opts), clock)
}

func newRBMEnv(t *testing.T, opts payersim.RBMOptions) *simEnv {
	t.Helper()
	clock := testClock(&opts.Now)
	return newSimEnv(t, payersim.NewRBM(opts), clock)
}

// testClock is a fake clock at testStart; it becomes the portal's (*now)
// unless the test gave the portal one.
func testClock(now *func() time.Time) *clocktest.Fake {
	clock := clocktest.New(testStart)
	if *now == nil {
		*now = clock.Now
	}
	return clock
}

func newSimEnv(t *testing.T, p *payersim.Portal, clock *clocktest.Fake) *simEnv {
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	e := &simEnv{t: t, portal: p, srv: srv, clock: clock}
	e.client = e.newClient()
	return e
}

func (e *simEnv) newClient() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func (e *simEnv) do(req *http.Request) page {
	e.t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read %s: %v", req.URL, err)
	}
	return page{status: resp.StatusCode, body: string(b), url: resp.Request.URL, header: resp.Header}
}

func (e *simEnv) get(path string) page {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(req)
}

func (e *simEnv) post(path string, form url.Values) page {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(req)
}

type upload struct {
	field, name string
	content     []byte
}

func (e *simEnv) postMultipart(path string, form url.Values, files ...upload) page {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	for _, f := range files {
		w, err := mw.CreateFormFile(f.field, f.name)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := w.Write(f.content); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, &buf)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return e.do(req)
}

// hidden returns the value of the hidden input named name.
func hidden(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no hidden input %q in page:\n%s", name, body)
	}
	return html.UnescapeString(m[1])
}

// textByID returns the text of the element with the id (tags inside are
// dropped), and whether it exists.
func textByID(body, id string) (string, bool) {
	m := regexp.MustCompile(`(?s)id="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</`).FindStringSubmatch(body)
	if m == nil {
		return "", false
	}
	txt := regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], "")
	return strings.TrimSpace(html.UnescapeString(txt)), true
}

func mustText(t *testing.T, p page, id string) string {
	t.Helper()
	s, ok := textByID(p.body, id)
	if !ok {
		t.Fatalf("no #%s on %s (status %d):\n%s", id, p.url, p.status, p.body)
	}
	return s
}

func hasID(body, id string) bool {
	return strings.Contains(body, `id="`+id+`"`)
}

// mustBeAt fails the test unless p is at path; after says what led there.
func (e *simEnv) mustBeAt(p page, path, after string) {
	e.t.Helper()
	if p.url.Path != path {
		e.t.Fatalf("%s: at %s, want %s:\n%s", after, p.url, path, p.body)
	}
}

// totpAt is the code an authenticator app shows at t.
func totpAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// postWithToken posts fields and the hidden input token of from (its CSRF
// token) to path.
func (e *simEnv) postWithToken(from page, token, path string, fields url.Values) page {
	e.t.Helper()
	fields.Set(token, hidden(e.t, from.body, token))
	return e.post(path, fields)
}

// payerPassword posts the default username and password on the payer's
// login page; it returns the answer (the MFA page when all is well).
func (e *simEnv) payerPassword() page {
	e.t.Helper()
	return e.postWithToken(e.get("/login"), "csrf_token", "/login",
		url.Values{"username": {payersim.DefaultPayerUsername}, "password": {payersim.DefaultPayerPassword}})
}

// payerTOTP posts the TOTP code of the portal clock on the MFA page.
func (e *simEnv) payerTOTP(mfa page) page {
	e.t.Helper()
	return e.postWithToken(mfa, "csrf_token", "/mfa", url.Values{"code": {totpAt(e.t, payersim.DefaultTOTPSecret, e.clock.Now())}})
}

// loginPayer logs in with the default credentials and the TOTP code of the
// portal clock; it returns the dashboard page.
func (e *simEnv) loginPayer() page {
	e.t.Helper()
	mfa := e.payerPassword()
	e.mustBeAt(mfa, "/mfa", "after password")
	dash := e.payerTOTP(mfa)
	e.mustBeAt(dash, "/dashboard", "after TOTP")
	return dash
}

// loginRBM signs in and accepts the terms; it returns the home page.
func (e *simEnv) loginRBM() page {
	e.t.Helper()
	terms := e.postWithToken(e.get("/signin"), "authenticity_token", "/signin",
		url.Values{"email": {payersim.DefaultRBMEmail}, "password": {payersim.DefaultRBMPassword}})
	e.mustBeAt(terms, "/terms", "after sign-in")
	home := e.postWithToken(terms, "authenticity_token", "/terms", url.Values{"accept_terms": {"yes"}})
	e.mustBeAt(home, "/home", "after terms")
	return home
}

// submitWizard drives the payer wizard to the confirmation page.
func (e *simEnv) submitWizard(memberID string, services url.Values, files ...upload) page {
	e.t.Helper()
	conf := e.postReview(e.reviewWizard(memberID, services, files...))
	e.mustBeAt(conf, "/auth/new/confirmation", "submit not accepted")
	return conf
}

// postReview posts the review page's final submit form.
func (e *simEnv) postReview(review page) page {
	e.t.Helper()
	return e.post("/auth/new/submit", url.Values{
		"csrf_token": {hidden(e.t, review.body, "csrf_token")},
		"attest":     {"yes"},
	})
}

// reviewWizard drives the payer wizard to its review page.
func (e *simEnv) reviewWizard(memberID string, services url.Values, files ...upload) page {
	e.t.Helper()
	step1 := e.get("/auth/new")
	found := e.post("/auth/new/member", url.Values{
		"csrf_token": {hidden(e.t, step1.body, "csrf_token")},
		"member_id":  {memberID},
		"member_dob": {"04/17/1961"},
	})
	if !hasID(found.body, "member-result") {
		e.t.Fatalf("member %s not found:\n%s", memberID, found.body)
	}
	step2 := e.get("/auth/new/services")
	services.Set("csrf_token", hidden(e.t, step2.body, "csrf_token"))
	step3 := e.post("/auth/new/services", services)
	e.mustBeAt(step3, "/auth/new/documents", "services not accepted")
	review := e.postMultipart("/auth/new/documents", url.Values{
		"csrf_token": {hidden(e.t, step3.body, "csrf_token")},
		"action":     {"continue"},
	}, files...)
	e.mustBeAt(review, "/auth/new/review", "documents not accepted")
	return review
}

func fusionServices() url.Values {
	return url.Values{
		"cpt_1": {"22630"}, "units_1": {"1"}, "level_1": {"L4-L5"},
		"cpt_2": {"22840"}, "units_2": {"2"}, "level_2": {"L4-L5 bilateral"},
		"icd_codes":      {"M43.16, M48.062"},
		"ordering_npi":   {"1234567893"},
		"service_date":   {"04/20/2026"},
		"urgency":        {"standard"},
		"clinical_notes": {"Failed 12 weeks of PT."},
	}
}

// seed adds one request and fails the test on error.
func seed(t *testing.T, p *payersim.Portal, sub payersim.Submission) string {
	t.Helper()
	ref, err := p.AddRequest(sub)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func simpleSubmission(member, code string) payersim.Submission {
	return payersim.Submission{
		MemberID: member, DOB: "1961-04-17", OrderingNPI: "1234567893",
		Lines:     []payersim.ServiceLine{{Code: code, Units: 2, Detail: "L4-L5"}},
		Diagnoses: []string{"M43.16"}, ServiceDate: "2026-04-20",
	}
}
