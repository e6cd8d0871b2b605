package payersim_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot/payersim"
)

func TestRBMSignin(t *testing.T) {
	tests := []struct {
		name       string
		email      string
		password   string
		token      string // "" uses the page's
		wantPath   string
		wantID     string
		wantStatus int
	}{
		{"success goes to terms", payersim.DefaultRBMEmail, payersim.DefaultRBMPassword, "", "/terms", "terms-title", 200},
		{"email is case-insensitive", strings.ToUpper(payersim.DefaultRBMEmail), payersim.DefaultRBMPassword, "", "/terms", "terms-title", 200},
		{"wrong password", payersim.DefaultRBMEmail, "x", "", "/signin", "signin-error", 200},
		{"forged token", payersim.DefaultRBMEmail, payersim.DefaultRBMPassword, "forged", "/signin", "signin-error", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newRBMEnv(t, payersim.RBMOptions{})
			sp := e.get("/signin")
			token := tc.token
			if token == "" {
				token = hidden(t, sp.body, "authenticity_token")
			}
			pg := e.post("/signin", url.Values{"authenticity_token": {token}, "email": {tc.email}, "password": {tc.password}})
			if pg.url.Path != tc.wantPath || pg.status != tc.wantStatus || !hasID(pg.body, tc.wantID) {
				t.Fatalf("at %s status %d, want %s status %d with #%s:\n%s", pg.url, pg.status, tc.wantPath, tc.wantStatus, tc.wantID, pg.body)
			}
		})
	}
}

func TestRBMTermsInterstitial(t *testing.T) {
	e := newRBMEnv(t, payersim.RBMOptions{})
	sp := e.get("/signin")
	terms := e.post("/signin", url.Values{
		"authenticity_token": {hidden(t, sp.body, "authenticity_token")},
		"email":              {payersim.DefaultRBMEmail}, "password": {payersim.DefaultRBMPassword},
		"remember_device": {"1"},
	})
	if pg := e.get("/orders/new"); pg.url.Path != "/terms" {
		t.Errorf("before accepting the terms: at %s, want /terms", pg.url)
	}
	token := hidden(t, terms.body, "authenticity_token")
	if pg := e.post("/terms", url.Values{"authenticity_token": {token}}); !hasID(pg.body, "terms-error") {
		t.Errorf("terms not ticked: no #terms-error")
	}
	if st := e.portal.Stats(); st.Logins != 0 {
		t.Errorf("logins %d before the terms, want 0", st.Logins)
	}
	home := e.post("/terms", url.Values{"authenticity_token": {token}, "accept_terms": {"yes"}})
	if home.url.Path != "/home" || !hasID(home.body, "tile-new-order") {
		t.Fatalf("after terms at %s", home.url)
	}
	if st := e.portal.Stats(); st.Logins != 1 || st.LoginAttempts != 1 {
		t.Errorf("logins %d attempts %d, want 1 and 1", st.Logins, st.LoginAttempts)
	}
	// Sign out: the remembered device is shown, the next session asks for the terms again.
	out := e.get("/signout")
	if out.url.Path != "/signin" || !hasID(out.body, "device-remembered") {
		t.Errorf("after sign-out at %s, remembered %v", out.url, hasID(out.body, "device-remembered"))
	}
	e.loginRBM()
}

func orderForm(token, nonce string) url.Values {
	return url.Values{
		"authenticity_token": {token},
		"form_nonce":         {nonce},
		"member_id":          {"K98765432"},
		"member_dob":         {"1958-11-02"},
		"ordering_npi":       {"1234567893"},
		"cpt_code":           {"72148"},
		"laterality":         {"Lumbar"},
		"icd_primary":        {"M54.16"},
		"icd_secondary":      {"M51.26, M48.061"},
		"clinical_question":  {"Rule out L5 nerve root compression after 6 weeks of PT."},
		"urgency":            {"routine"},
		"anticipated_date":   {"03/20/2026"},
	}
}

func TestRBMOrderStatusAndLetter(t *testing.T) {
	e := newRBMEnv(t, payersim.RBMOptions{})
	if err := e.portal.SetScenario(payersim.Scenario{Rules: []payersim.Rule{
		{CPT: "72148", Outcome: payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 1, ValidityDays: 60}},
	}}); err != nil {
		t.Fatal(err)
	}
	e.loginRBM()
	form := e.get("/orders/new")
	values := orderForm(hidden(t, form.body, "authenticity_token"), hidden(t, form.body, "form_nonce"))
	done := e.postMultipart("/orders/new", values, upload{"attachments", "pt-notes.pdf", []byte("six weeks of PT")})
	tn := mustText(t, done, "tracking-number")
	if !regexp.MustCompile(`^CV-[2-9A-HJ-NP-Z]{7}$`).MatchString(tn) {
		t.Fatalf("tracking number %q, want CV-XXXXXXX", tn)
	}
	// The same form posted twice (a double click, a retried POST) is one order.
	again := e.postMultipart("/orders/new", values)
	if got := mustText(t, again, "tracking-number"); got != tn {
		t.Errorf("second post: %q, want %q", got, tn)
	}
	reqs := e.portal.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Portal != "rbm" || r.MemberID != "K98765432" || r.Urgency != "standard" || r.ServiceDate != "2026-03-20" ||
		strings.Join(r.Diagnoses, " ") != "M54.16 M51.26 M48.061" || len(r.Documents) != 1 || r.Lines[0].Detail != "Lumbar" {
		t.Errorf("stored request %+v", r)
	}

	lookup := func() page {
		t.Helper()
		return e.get("/orders/status?tracking_number=" + url.QueryEscape(tn))
	}
	pg := lookup()
	if got := mustText(t, pg, "order-status"); got != "In Clinical Review" || hasID(pg.body, "auth-number") {
		t.Fatalf("first lookup: %q", got)
	}
	e.clock.Advance(3 * time.Minute)
	pg = lookup()
	auth := mustText(t, pg, "auth-number")
	for _, c := range []struct{ what, got, want string }{
		{"status", mustText(t, pg, "order-status"), "Authorized"},
		{"tracking", mustText(t, pg, "result-tracking"), tn},
		{"valid from", mustText(t, pg, "valid-from"), "2026-03-02"},
		{"valid to", mustText(t, pg, "valid-to"), "2026-05-01"},
		{"updated", mustText(t, pg, "last-updated"), "2026-03-02 09:33"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if !strings.HasPrefix(auth, "CVA26") || auth == tn {
		t.Errorf("auth number %q must differ from tracking %q", auth, tn)
	}
	lp := e.get("/orders/" + tn + "/letter.pdf")
	if lp.status != http.StatusOK || !strings.HasPrefix(lp.body, "%PDF-") || !strings.Contains(lp.body, auth) ||
		!strings.HasPrefix(lp.header.Get("Content-Disposition"), "attachment; filename=") {
		t.Errorf("letter: status %d, disposition %q, %.20q", lp.status, lp.header.Get("Content-Disposition"), lp.body)
	}
	if pg := e.get("/orders/status?tracking_number=CV-NOPE999"); !hasID(pg.body, "lookup-not-found") {
		t.Errorf("unknown tracking number: no #lookup-not-found")
	}
	st := e.portal.Stats()
	if st.Submissions != 1 || st.DetailViews != 2 || st.LettersDownloaded != 1 || st.Uploads != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestRBMOrderValidation(t *testing.T) {
	e := newRBMEnv(t, payersim.RBMOptions{})
	e.loginRBM()
	tests := []struct {
		field, value, wantErr string
	}{
		{"member_id", "x", "Member ID"},
		{"member_dob", "2099-01-01", "Member date of birth"},
		{"ordering_npi", "12345", "Ordering provider NPI"},
		{"cpt_code", "MRI", "Exam (CPT)"},
		{"icd_primary", "", "Primary diagnosis"},
		{"icd_secondary", "M51.26, 9999", "Secondary diagnoses"},
		{"clinical_question", " ", "Clinical question"},
		{"urgency", "", "Urgency"},
		{"anticipated_date", "soon", "Anticipated date"},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			form := e.get("/orders/new")
			values := orderForm(hidden(t, form.body, "authenticity_token"), hidden(t, form.body, "form_nonce"))
			values.Set(tc.field, tc.value)
			pg := e.postMultipart("/orders/new", values)
			if pg.url.Path != "/orders/new" || !hasID(pg.body, "order-errors") || !strings.Contains(pg.body, tc.wantErr) {
				t.Errorf("at %s, want #order-errors mentioning %q", pg.url, tc.wantErr)
			}
		})
	}
	if n := len(e.portal.Requests()); n != 0 {
		t.Errorf("%d orders stored, want 0", n)
	}
}

func TestRBMHistory(t *testing.T) {
	e := newRBMEnv(t, payersim.RBMOptions{PageSize: 3})
	refs, err := payersim.Seed(e.portal, payersim.SampleSubmissions(7, &payersim.Outcome{Fate: payersim.FateDeny})...)
	if err != nil {
		t.Fatal(err)
	}
	e.loginRBM()
	pg := e.get("/orders")
	cards := regexp.MustCompile(`<div class="order-card" data-tracking="([^"]+)">`).FindAllStringSubmatch(pg.body, -1)
	if len(cards) != 3 || !hasID(pg.body, "next-page") || strings.Count(pg.body, ">Not Authorized<") != 3 {
		t.Fatalf("page 1: %d cards, next %v", len(cards), hasID(pg.body, "next-page"))
	}
	pg = e.get("/orders?member_id=SIM000004")
	cards = regexp.MustCompile(`data-tracking="([^"]+)"`).FindAllStringSubmatch(pg.body, -1)
	if len(cards) != 1 || cards[0][1] != refs[3] {
		t.Errorf("member filter: %v, want %s", cards, refs[3])
	}
}

func TestRBMNotLoggedIn(t *testing.T) {
	e := newRBMEnv(t, payersim.RBMOptions{})
	for _, path := range []string{"/home", "/orders/new", "/orders/status", "/orders", "/terms"} {
		if pg := e.get(path); pg.url.Path != "/signin" {
			t.Errorf("%s: at %s, want /signin", path, pg.url)
		}
	}
	e.loginRBM()
	e.clock.Advance(time.Hour)
	if pg := e.get("/home"); pg.url.String() != e.srv.URL+"/signin?expired=1" || !hasID(pg.body, "session-expired") {
		t.Errorf("idle session: at %s", pg.url)
	}
}
