package payersim_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot/payersim"
)

func TestPayerLogin(t *testing.T) {
	tests := []struct {
		name       string
		token      func(loginPage string) string
		username   string
		password   string
		codeOffset time.Duration // TOTP code generated this far from the portal clock
		wantPath   string
		wantID     string // an element the final page must have
		wantStatus int
	}{
		{name: "success", username: payersim.DefaultPayerUsername, password: payersim.DefaultPayerPassword,
			wantPath: "/dashboard", wantID: "dashboard-title", wantStatus: http.StatusOK},
		{name: "previous TOTP step accepted", username: payersim.DefaultPayerUsername, password: payersim.DefaultPayerPassword,
			codeOffset: -30 * time.Second, wantPath: "/dashboard", wantID: "dashboard-title", wantStatus: http.StatusOK},
		{name: "next TOTP step accepted", username: payersim.DefaultPayerUsername, password: payersim.DefaultPayerPassword,
			codeOffset: 30 * time.Second, wantPath: "/dashboard", wantID: "dashboard-title", wantStatus: http.StatusOK},
		{name: "TOTP two steps old rejected", username: payersim.DefaultPayerUsername, password: payersim.DefaultPayerPassword,
			codeOffset: -60 * time.Second, wantPath: "/mfa", wantID: "mfa-error", wantStatus: http.StatusOK},
		{name: "wrong password", username: payersim.DefaultPayerUsername, password: "nope",
			wantPath: "/login", wantID: "login-error", wantStatus: http.StatusOK},
		{name: "wrong username", username: "someone", password: payersim.DefaultPayerPassword,
			wantPath: "/login", wantID: "login-error", wantStatus: http.StatusOK},
		{name: "missing CSRF token", token: func(string) string { return "" },
			username: payersim.DefaultPayerUsername, password: payersim.DefaultPayerPassword,
			wantPath: "/login", wantID: "form-expired", wantStatus: http.StatusForbidden},
		{name: "forged CSRF token", token: func(string) string { return strings.Repeat("ab", 32) },
			username: payersim.DefaultPayerUsername, password: payersim.DefaultPayerPassword,
			wantPath: "/login", wantID: "form-expired", wantStatus: http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newPayerEnv(t, payersim.PayerOptions{})
			lp := e.get("/login")
			if !hasID(lp.body, "login-button") {
				t.Fatalf("login page has no #login-button:\n%s", lp.body)
			}
			token := hidden(t, lp.body, "csrf_token")
			if tc.token != nil {
				token = tc.token(lp.body)
			}
			pg := e.post("/login", url.Values{"csrf_token": {token}, "username": {tc.username}, "password": {tc.password}})
			if pg.url.Path == "/mfa" {
				code := totpAt(t, payersim.DefaultTOTPSecret, e.clock.Now().Add(tc.codeOffset))
				pg = e.post("/mfa", url.Values{"csrf_token": {hidden(t, pg.body, "csrf_token")}, "code": {code}})
			}
			if pg.url.Path != tc.wantPath || pg.status != tc.wantStatus || !hasID(pg.body, tc.wantID) {
				t.Fatalf("ended at %s status %d, want %s status %d with #%s:\n%s",
					pg.url.Path, pg.status, tc.wantPath, tc.wantStatus, tc.wantID, pg.body)
			}
			st := e.portal.Stats()
			wantLogins := 0
			if tc.wantPath == "/dashboard" {
				wantLogins = 1
			}
			if st.Logins != wantLogins || st.LoginAttempts != 1 {
				t.Errorf("logins %d attempts %d, want %d and 1", st.Logins, st.LoginAttempts, wantLogins)
			}
		})
	}
}

func TestPayerSessionCookieIsHttpOnly(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	e.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp := e.payerPassword()
	if resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/mfa" {
		t.Fatalf("status %d location %q, want 303 to /mfa", resp.status, resp.header.Get("Location"))
	}
	var found bool
	for _, c := range (&http.Response{Header: resp.header}).Cookies() {
		if c.Name == "SHPSESSION" {
			found = true
			if !c.HttpOnly {
				t.Error("session cookie is not HttpOnly")
			}
		}
	}
	if !found {
		t.Errorf("no SHPSESSION cookie in %v", resp.header["Set-Cookie"])
	}
}

func TestPayerSession(t *testing.T) {
	tests := []struct {
		name      string
		advance   time.Duration
		wantPath  string
		wantQuery string
	}{
		{name: "idle within TTL", advance: 29 * time.Minute, wantPath: "/dashboard"},
		{name: "idle past TTL expires", advance: 31 * time.Minute, wantPath: "/login", wantQuery: "expired=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newPayerEnv(t, payersim.PayerOptions{SessionTTL: 30 * time.Minute})
			e.loginPayer()
			e.clock.Advance(tc.advance)
			pg := e.get("/dashboard")
			if pg.url.Path != tc.wantPath || pg.url.RawQuery != tc.wantQuery {
				t.Fatalf("at %s, want %s?%s", pg.url, tc.wantPath, tc.wantQuery)
			}
			if tc.wantQuery != "" && !strings.Contains(pg.body, "Your session has expired") {
				t.Errorf("no expiry banner:\n%s", pg.body)
			}
		})
	}
}

func TestPayerNotLoggedInRedirectsToLogin(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	for _, path := range []string{"/dashboard", "/auth/new", "/auth/list", "/auth/SHP-2026-004201"} {
		t.Run(path, func(t *testing.T) {
			pg := e.get(path)
			if pg.url.Path != "/login" || pg.url.RawQuery != "" {
				t.Errorf("at %s, want /login without the expired banner", pg.url)
			}
		})
	}
}

func TestPayerLoggedInLoginPageGoesToDashboard(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	e.loginPayer()
	if pg := e.get("/login"); pg.url.Path != "/dashboard" {
		t.Errorf("GET /login with a live session at %s, want /dashboard", pg.url)
	}
	if pg := e.get("/logout"); pg.url.Path != "/login" || !hasID(pg.body, "logged-out") {
		t.Errorf("logout at %s, want /login with #logged-out", pg.url)
	}
	if pg := e.get("/dashboard"); pg.url.Path != "/login" {
		t.Errorf("after logout at %s, want /login", pg.url)
	}
}

func TestPayerWizardSubmit(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	e.loginPayer()
	doc := []byte("%PDF-1.4 physical therapy notes, 12 weeks")
	conf := e.submitWizard("W123456789", fusionServices(),
		upload{field: "documents", name: "pt-notes.pdf", content: doc})
	ref := mustText(t, conf, "reference-number")
	if !regexp.MustCompile(`^SHP-2026-\d{6}$`).MatchString(ref) {
		t.Fatalf("reference %q, want SHP-2026-NNNNNN", ref)
	}

	reqs := e.portal.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	sum := sha256.Sum256(doc)
	wantDoc := payersim.Document{Name: "pt-notes.pdf", Size: int64(len(doc)), SHA256: hex.EncodeToString(sum[:])}
	checks := []struct{ field, got, want string }{
		{"reference", r.Reference, ref},
		{"member", r.MemberID, "W123456789"},
		{"dob", r.DOB, "1961-04-17"},
		{"codes", fmt.Sprint(r.Lines), "[{22630 1 L4-L5} {22840 2 L4-L5 bilateral}]"},
		{"diagnoses", fmt.Sprint(r.Diagnoses), "[M43.16 M48.062]"},
		{"service date", r.ServiceDate, "2026-04-20"},
		{"urgency", r.Urgency, "standard"},
		{"documents", fmt.Sprint(r.Documents), fmt.Sprint([]payersim.Document{wantDoc})},
		{"status", string(r.Status), "in_review"},
		{"created", r.CreatedAt.String(), testStart.String()},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}

	// Posting the final form again does not make a second request.
	token := regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`).FindStringSubmatch(conf.body)
	if token == nil {
		t.Fatal("no csrf-token meta tag")
	}
	again := e.post("/auth/new/submit", url.Values{"csrf_token": {token[1]}, "attest": {"yes"}})
	if got := mustText(t, again, "reference-number"); got != ref {
		t.Errorf("second submit shows %q, want %q", got, ref)
	}
	if st := e.portal.Stats(); st.Submissions != 1 || st.Uploads != 1 || len(e.portal.Requests()) != 1 {
		t.Errorf("submissions %d uploads %d requests %d, want 1 1 1", st.Submissions, st.Uploads, len(e.portal.Requests()))
	}
	// A second wizard run is a second request.
	conf2 := e.submitWizard("W123456789", fusionServices())
	if mustText(t, conf2, "reference-number") == ref || len(e.portal.Requests()) != 2 {
		t.Errorf("second wizard run: reference %q, %d requests", mustText(t, conf2, "reference-number"), len(e.portal.Requests()))
	}
}

// TestPayerRefusesAtFinalSubmit: a refuse rule answers the final submit
// with the review page's error banner holding the rule's reason, records
// nothing, and refuses the same request again; a status wording override
// shows on the list and the detail page.
func TestPayerRefusesAtFinalSubmit(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	const reason = "Member W123456789 is not eligible on 04/20/2026."
	if err := e.portal.SetScenario(payersim.Scenario{Rules: []payersim.Rule{
		{MemberID: "W123456789", Outcome: payersim.Outcome{Fate: payersim.FateRefuse, Reason: reason}},
		{CPT: "22630", Outcome: payersim.Outcome{Fate: payersim.FateApprove, Wording: "Approved - Pending Medical Director Sign-off"}},
	}}); err != nil {
		t.Fatal(err)
	}
	e.loginPayer()
	review := e.reviewWizard("W123456789", fusionServices())
	for i := 0; i < 2; i++ {
		got := e.postReview(review)
		if got.url.Path != "/auth/new/review" && got.url.Path != "/auth/new/submit" {
			t.Fatalf("refused submit %d ended at %s", i+1, got.url)
		}
		if msg := mustText(t, got, "review-error"); msg != reason {
			t.Fatalf("refusal banner %q, want %q", msg, reason)
		}
		review = got
	}
	if st := e.portal.Stats(); st.Refused != 2 || st.Submissions != 0 || len(e.portal.Requests()) != 0 {
		t.Fatalf("refused %d submissions %d requests %d, want 2 0 0", st.Refused, st.Submissions, len(e.portal.Requests()))
	}
	ref := mustText(t, e.submitWizard("W555666777", fusionServices()), "reference-number")
	if status, _ := statusOf(e, ref); status != "Approved - Pending Medical Director Sign-off" {
		t.Fatalf("detail shows %q, want the rule's wording", status)
	}
	if _, err := e.portal.AddRequest(payersim.Submission{MemberID: "W123456789", Lines: []payersim.ServiceLine{{Code: "22630"}},
		Outcome: &payersim.Outcome{Fate: payersim.FateRefuse}}); err == nil {
		t.Fatal("a seeded request with a refuse outcome was accepted")
	}
}

func TestPayerWizardValidation(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	e.loginPayer()

	t.Run("member not found", func(t *testing.T) {
		step1 := e.get("/auth/new")
		pg := e.post("/auth/new/member", url.Values{
			"csrf_token": {hidden(t, step1.body, "csrf_token")}, "member_id": {"BAD-ID"}, "member_dob": {"04/17/1961"},
		})
		if !hasID(pg.body, "member-error") || hasID(pg.body, "member-result") {
			t.Errorf("want #member-error and no #member-result:\n%s", pg.body)
		}
	})
	t.Run("member found shows name and plan", func(t *testing.T) {
		step1 := e.get("/auth/new")
		pg := e.post("/auth/new/member", url.Values{
			"csrf_token": {hidden(t, step1.body, "csrf_token")}, "member_id": {"w123456789"}, "member_dob": {"1961-04-17"},
		})
		if mustText(t, pg, "member-name") == "" || !strings.HasPrefix(mustText(t, pg, "member-plan"), "Summit") ||
			mustText(t, pg, "member-id-found") != "W123456789" {
			t.Errorf("member result incomplete:\n%s", pg.body)
		}
	})
	t.Run("skipping to review goes back to step 1", func(t *testing.T) {
		e.get("/auth/new")
		if pg := e.get("/auth/new/review"); pg.url.Path != "/auth/new" {
			t.Errorf("at %s, want /auth/new", pg.url)
		}
	})

	tests := []struct {
		name    string
		change  url.Values
		wantErr string
	}{
		{"bad CPT", url.Values{"cpt_1": {"2263"}}, `"2263" is not a valid CPT/HCPCS code`},
		{"bad units", url.Values{"units_1": {"0"}}, "Line 1: units must be"},
		{"units without code", url.Values{"units_3": {"2"}}, "Line 3: enter a CPT/HCPCS code."},
		{"no lines", url.Values{"cpt_1": {""}, "units_1": {""}, "level_1": {""}, "cpt_2": {""}, "units_2": {""}, "level_2": {""}}, "Enter at least one service line."},
		{"bad ICD", url.Values{"icd_codes": {"U99"}}, "is not a valid ICD-10-CM code"},
		{"missing ICD", url.Values{"icd_codes": {""}}, "Enter at least one diagnosis code"},
		{"bad NPI", url.Values{"ordering_npi": {"123"}}, "Ordering provider NPI must be 10 digits."},
		{"bad date", url.Values{"service_date": {"April 20"}}, "Enter the planned service date"},
		{"bad urgency", url.Values{"urgency": {"asap"}}, "Select the review type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			step1 := e.get("/auth/new")
			e.post("/auth/new/member", url.Values{
				"csrf_token": {hidden(t, step1.body, "csrf_token")}, "member_id": {"W123456789"}, "member_dob": {"04/17/1961"},
			})
			step2 := e.get("/auth/new/services")
			form := fusionServices()
			for k, v := range tc.change {
				form[k] = v
			}
			form.Set("csrf_token", hidden(t, step2.body, "csrf_token"))
			pg := e.post("/auth/new/services", form)
			if pg.url.Path != "/auth/new/services" || !hasID(pg.body, "services-error") {
				t.Fatalf("at %s, want the services page with #services-error", pg.url)
			}
			if !strings.Contains(pg.body, htmlEscape(tc.wantErr)) {
				t.Errorf("errors do not mention %q:\n%s", tc.wantErr, mustText(t, pg, "services-error"))
			}
		})
	}

	t.Run("submit without attestation", func(t *testing.T) {
		step1 := e.get("/auth/new")
		e.post("/auth/new/member", url.Values{
			"csrf_token": {hidden(t, step1.body, "csrf_token")}, "member_id": {"W123456789"}, "member_dob": {"04/17/1961"},
		})
		form := fusionServices()
		form.Set("csrf_token", hidden(t, step1.body, "csrf_token"))
		e.post("/auth/new/services", form)
		review := e.get("/auth/new/review")
		if !hasID(review.body, "no-documents-warning") {
			t.Errorf("review without documents has no warning")
		}
		pg := e.post("/auth/new/submit", url.Values{"csrf_token": {hidden(t, review.body, "csrf_token")}})
		if !hasID(pg.body, "review-error") {
			t.Errorf("want #review-error:\n%s", pg.body)
		}
	})
	t.Run("form with a wrong CSRF token is refused", func(t *testing.T) {
		e.get("/auth/new")
		pg := e.post("/auth/new/member", url.Values{"csrf_token": {"forged"}, "member_id": {"W123456789"}, "member_dob": {"04/17/1961"}})
		if pg.status != http.StatusForbidden {
			t.Errorf("status %d, want 403", pg.status)
		}
	})
	if n := len(e.portal.Requests()); n != 0 {
		t.Errorf("%d requests after failed submissions, want 0", n)
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer(`"`, "&#34;", "'", "&#39;").Replace(s)
}

func TestPayerDocumentsStep(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	e.loginPayer()
	step1 := e.get("/auth/new")
	token := hidden(t, step1.body, "csrf_token")
	e.post("/auth/new/member", url.Values{"csrf_token": {token}, "member_id": {"W123456789"}, "member_dob": {"04/17/1961"}})
	form := fusionServices()
	form.Set("csrf_token", token)
	e.post("/auth/new/services", form)

	pg := e.postMultipart("/auth/new/documents", url.Values{"csrf_token": {token}, "action": {"upload"}},
		upload{"documents", "mri-report.pdf", []byte("report")}, upload{"documents", "pt.pdf", []byte("pt notes")})
	if pg.url.Path != "/auth/new/documents" || strings.Count(pg.body, `class="document"`) != 2 {
		t.Fatalf("upload: at %s, want 2 documents listed:\n%s", pg.url, pg.body)
	}
	pg = e.postMultipart("/auth/new/documents", url.Values{"csrf_token": {token}, "action": {"upload"}},
		upload{"documents", "empty.pdf", nil})
	if !hasID(pg.body, "documents-error") {
		t.Errorf("empty file: no #documents-error")
	}
	pg = e.postMultipart("/auth/new/documents", url.Values{"csrf_token": {token}, "action": {"continue"}})
	if pg.url.Path != "/auth/new/review" || !strings.Contains(pg.body, "mri-report.pdf") {
		t.Errorf("continue: at %s, want review listing the files", pg.url)
	}
}

// statusOf opens the detail page (one check) and returns the status text.
func statusOf(e *simEnv, ref string) (string, page) {
	e.t.Helper()
	pg := e.get("/auth/" + ref)
	return mustText(e.t, pg, "auth-status"), pg
}

func TestPayerDetailAndLetter(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{SessionTTL: 48 * time.Hour})
	if err := e.portal.SetScenario(payersim.Scenario{Rules: []payersim.Rule{
		{CPT: "22630", Outcome: payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 1, ValidityDays: 120}},
	}}); err != nil {
		t.Fatal(err)
	}
	e.loginPayer()
	ref := mustText(t, e.submitWizard("W123456789", fusionServices()), "reference-number")

	status, pg := statusOf(e, ref)
	if status != "In Review" || hasID(pg.body, "letter-link") || hasID(pg.body, "auth-number") {
		t.Fatalf("first view: status %q, letter link %v", status, hasID(pg.body, "letter-link"))
	}
	if lp := e.get("/auth/" + ref + "/letter.pdf"); lp.status != http.StatusNotFound {
		t.Errorf("letter before a decision: status %d, want 404", lp.status)
	}
	e.clock.Advance(26 * time.Hour)
	status, pg = statusOf(e, ref)
	auth := mustText(t, pg, "auth-number")
	checks := []struct{ what, got, want string }{
		{"status", status, "Approved"},
		{"valid from", mustText(t, pg, "valid-from"), "03/03/2026"},
		{"valid to", mustText(t, pg, "valid-to"), "07/01/2026"},
		{"decision date", mustText(t, pg, "decision-date"), "03/03/2026 11:30 AM"},
		{"last updated", mustText(t, pg, "last-updated"), "03/03/2026 11:30 AM"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if auth == "" || auth == ref {
		t.Errorf("auth number %q must be set and differ from reference %q", auth, ref)
	}
	if !regexp.MustCompile(`<tr class="line" data-code="22840"><td class="line-code">22840</td><td class="line-requested">2</td><td class="line-approved-code">22840</td><td class="line-approved">2</td>`).MatchString(pg.body) {
		t.Errorf("approved lines table missing 22840 x2:\n%s", pg.body)
	}

	lp := e.get("/auth/" + ref + "/letter.pdf")
	if lp.status != http.StatusOK || lp.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("letter: status %d type %q", lp.status, lp.header.Get("Content-Type"))
	}
	if cd := lp.header.Get("Content-Disposition"); cd != `attachment; filename="Determination_`+ref+`.pdf"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if !strings.HasPrefix(lp.body, "%PDF-") || !strings.Contains(lp.body, "%%EOF") {
		t.Errorf("letter is not a PDF: %.40q", lp.body)
	}
	for _, want := range []string{auth, "Approved", ref, "Valid through", "July 1, 2026"} {
		if !strings.Contains(lp.body, want) {
			t.Errorf("letter does not state %q", want)
		}
	}
	if st := e.portal.Stats(); st.LettersDownloaded != 1 || st.DetailViews != 2 {
		t.Errorf("letters %d detail views %d, want 1 and 2", st.LettersDownloaded, st.DetailViews)
	}
	if pg := e.get("/auth/SHP-2026-999999"); pg.status != http.StatusNotFound || !hasID(pg.body, "not-found") {
		t.Errorf("unknown reference: status %d", pg.status)
	}
}

func TestPayerListPaginationAndFilters(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{PageSize: 20})
	subs := payersim.SampleSubmissions(45, &payersim.Outcome{Fate: payersim.FatePend, Then: &payersim.Outcome{Fate: payersim.FateApprove}})
	for i := range subs {
		subs[i].SubmittedAt = testStart.Add(time.Duration(i) * time.Minute)
	}
	refs, err := payersim.Seed(e.portal, subs...)
	if err != nil {
		t.Fatal(err)
	}
	e.loginPayer()

	rowRefs := func(body string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`<tr class="auth-row" data-ref="([^"]+)">`).FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	p1 := e.get("/auth/list")
	rows := rowRefs(p1.body)
	if len(rows) != 20 || rows[0] != refs[44] || rows[19] != refs[25] {
		t.Fatalf("page 1: %d rows from %v, want 20 newest first", len(rows), rows)
	}
	if !hasID(p1.body, "auth-list") || hasID(p1.body, "prev-page") {
		t.Errorf("page 1: want #auth-list and no #prev-page")
	}
	if got := strings.Count(p1.body, "Pending - Additional Information Requested"); got != 20 {
		t.Errorf("page 1: %d pended rows, want 20", got)
	}
	next := regexp.MustCompile(`id="next-page" class="page-next" rel="next" href="([^"]+)"`).FindStringSubmatch(p1.body)
	if next == nil {
		t.Fatalf("page 1 has no Next link")
	}
	p3 := e.get("/auth/list?page=3")
	if rows := rowRefs(p3.body); len(rows) != 5 || hasID(p3.body, "next-page") || mustText(t, p3, "page-info") != "Page 3 of 3" {
		t.Errorf("page 3: %d rows, next link %v, %q", len(rows), hasID(p3.body, "next-page"), mustText(t, p3, "page-info"))
	}
	if p2 := e.get(strings.ReplaceAll(next[1], "&amp;", "&")); len(rowRefs(p2.body)) != 20 {
		t.Errorf("Next link %s: %d rows", next[1], len(rowRefs(p2.body)))
	}

	filters := []struct {
		name  string
		query string
		want  []string
	}{
		{"member", "?member=sim000007", []string{refs[6]}},
		{"reference", "?q=" + refs[3], []string{refs[3]}},
		{"code and member", "?member=SIM000002&q=72148", []string{refs[1]}},
		{"code not requested", "?member=SIM000002&q=22630", nil},
	}
	for _, f := range filters {
		t.Run(f.name, func(t *testing.T) {
			pg := e.get("/auth/list" + f.query)
			got := rowRefs(pg.body)
			if fmt.Sprint(got) != fmt.Sprint(f.want) {
				t.Errorf("rows %v, want %v", got, f.want)
			}
			if f.want == nil && !hasID(pg.body, "no-results") {
				t.Errorf("no #no-results")
			}
		})
	}
	if cell := regexp.MustCompile(`<td class="col-member">([^<]+)</td>`).FindStringSubmatch(p1.body); cell == nil || cell[1] != "*****0045" {
		t.Errorf("member ID cell %v, want masked *****0045", cell)
	}
}

// After a crash the agent searches for a request already made for the
// member, code and date before it submits again.
func TestPayerListReconciliationSearch(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	want := seed(t, e.portal, simpleSubmission("R500001", "22630"))
	other := simpleSubmission("R500001", "22630")
	other.ServiceDate = "2026-05-11"
	seed(t, e.portal, other)
	e.loginPayer()
	pg := e.get("/auth/list?member=R500001&q=" + url.QueryEscape("04/20/2026"))
	rows := regexp.MustCompile(`data-ref="([^"]+)"`).FindAllStringSubmatch(pg.body, -1)
	if len(rows) != 1 || rows[0][1] != want {
		t.Fatalf("rows %v, want only %s", rows, want)
	}
	if !strings.Contains(pg.body, `<td class="col-service-date">04/20/2026</td>`) {
		t.Errorf("row has no service date cell")
	}
}

// TestPayerRespondWithdrawP2P drives the escalation pages of the Summit
// portal over HTTP: a pended request (await_response) takes two files and
// a note on its upload page, goes back in review without the confirmation
// counting as a check, and is decided by the pend's follow-up on the next
// view; a request is withdrawn with its button; a denial flips to approved
// on the list after a peer-to-peer recorded through the admin endpoint.
func TestPayerRespondWithdrawP2P(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	e.loginPayer()
	sub := simpleSubmission("W123456789", "22630")
	sub.Outcome = &payersim.Outcome{Fate: payersim.FatePend, InfoRequest: "Send PT notes.", AwaitResponse: true,
		Then: &payersim.Outcome{Fate: payersim.FateApprove}}
	ref := seed(t, e.portal, sub)

	for i := range 3 { // pended, and it stays pended without a response
		d := e.get("/auth/" + ref)
		if got := mustText(t, d, "auth-status"); got != "Pending - Additional Information Requested" {
			t.Fatalf("view %d: status %q, want pended", i, got)
		}
		if !hasID(d.body, "respond-link") || !hasID(d.body, "withdraw-link") {
			t.Fatalf("view %d: no respond or withdraw link on a pended request", i)
		}
	}
	form := e.get("/auth/" + ref + "/respond")
	if got := mustText(t, form, "respond-member-id"); got != "******6789" {
		t.Fatalf("respond page member %q", got)
	}
	tok := hidden(t, form.body, "csrf_token")
	empty := e.postMultipart("/auth/"+ref+"/respond", url.Values{"csrf_token": {tok}, "note": {"n"}})
	if empty.status != 422 || !strings.Contains(mustText(t, empty, "respond-error"), "at least one document") {
		t.Fatalf("respond without files: %d", empty.status)
	}
	checks := mustRequest(t, e.portal, ref).Checks
	sent := e.postMultipart("/auth/"+ref+"/respond", url.Values{"csrf_token": {tok}, "note": {"PT notes attached."}},
		upload{"documents", "pt-notes.pdf", []byte("%PDF-1.4 pt")}, upload{"documents", "mri-report.pdf", []byte("%PDF-1.4 mri")})
	e.mustBeAt(sent, "/auth/"+ref+"/respond/sent", "respond")
	if got := mustText(t, sent, "respond-status"); got != "In Review" {
		t.Fatalf("after the response: %q, want In Review", got)
	}
	r := mustRequest(t, e.portal, ref)
	if r.Checks != checks || r.Status != payersim.StatusInReview || len(r.Responses) != 1 || r.Responses[0].Note != "PT notes attached." {
		t.Fatalf("after the response: %+v", r)
	}
	if names := docNames(r.Responses[0].Documents); names != "pt-notes.pdf,mri-report.pdf" {
		t.Fatalf("files received %s", names)
	}
	if got := mustText(t, e.get("/auth/"+ref), "auth-status"); got != "Approved" {
		t.Fatalf("next view after the response: %q, want Approved", got)
	}
	if st := e.portal.Stats(); st.Responses != 1 || st.Uploads != 2 {
		t.Fatalf("stats responses %d uploads %d", st.Responses, st.Uploads)
	}

	// Withdraw.
	ref2 := seed(t, e.portal, simpleSubmission("W555556789", "72148"))
	wf := e.get("/auth/" + ref2 + "/withdraw")
	tok = hidden(t, wf.body, "csrf_token")
	unconfirmed := e.post("/auth/"+ref2+"/withdraw", url.Values{"csrf_token": {tok}, "reason": {"x"}})
	if !hasID(unconfirmed.body, "withdraw-error") {
		t.Fatal("withdraw without the confirmation box: no error")
	}
	done := e.post("/auth/"+ref2+"/withdraw", url.Values{"csrf_token": {tok}, "reason": {"Patient declined surgery."}, "confirm": {"yes"}})
	e.mustBeAt(done, "/auth/"+ref2+"/withdrawn", "withdraw")
	if got := mustText(t, done, "withdrawn-status"); got != "Withdrawn by Provider" {
		t.Fatalf("withdrawn status %q", got)
	}
	if r := mustRequest(t, e.portal, ref2); r.Status != payersim.StatusWithdrawn || r.WithdrawReason != "Patient declined surgery." {
		t.Fatalf("withdrawn request %+v", r)
	}
	if again := e.get("/auth/" + ref2 + "/withdraw"); !hasID(again.body, "withdraw-closed") {
		t.Fatal("a withdrawn request offers the withdraw form again")
	}

	// A denial overturned after a peer-to-peer, seen on the list.
	den := simpleSubmission("W777776789", "64483")
	den.Outcome = &payersim.Outcome{Fate: payersim.FateDeny}
	ref3 := seed(t, e.portal, den)
	e.get("/auth/" + ref3)
	if status, body := adminDo(t, e, "POST", "/_sim/requests/"+ref3+"/p2p", `{"outcome":"sideways"}`); status != 422 {
		t.Fatalf("p2p with a bad outcome: %d %s", status, body)
	}
	if status, body := adminDo(t, e, "POST", "/_sim/requests/"+ref+"/p2p", `{"outcome":"overturned"}`); status != 422 {
		t.Fatalf("p2p on an approved request: %d %s", status, body)
	}
	status, body := adminDo(t, e, "POST", "/_sim/requests/"+ref3+"/p2p", `{"outcome":"overturned","auth_number":"PA-P2P-1"}`)
	if status != 200 || !strings.Contains(body, `"outcome": "overturned"`) {
		t.Fatalf("p2p: %d %s", status, body)
	}
	list := e.get("/auth/list?member=W777776789")
	if !strings.Contains(list.body, ">Approved<") {
		t.Fatalf("the list does not show the overturn:\n%s", list.body)
	}
	if status, body := adminDo(t, e, "GET", "/_sim/requests/"+ref3, ""); status != 200 || !strings.Contains(body, `"auth_number": "PA-P2P-1"`) {
		t.Fatalf("admin request after the overturn: %d %s", status, body)
	}
}

// TestRBMOffersNoRespondOrWithdraw: the RBM portal has neither page.
func TestRBMOffersNoRespondOrWithdraw(t *testing.T) {
	e := newRBMEnv(t, payersim.RBMOptions{})
	ref := seed(t, e.portal, simpleSubmission("W123456789", "72148"))
	if _, err := e.portal.Respond(ref, "n", []payersim.Document{{Name: "a.pdf", Size: 1}}); err == nil {
		t.Fatal("the RBM took a response")
	}
	if _, err := e.portal.Withdraw(ref, "n"); err == nil {
		t.Fatal("the RBM withdrew a request")
	}
}

func mustRequest(t *testing.T, p *payersim.Portal, ref string) payersim.Request {
	t.Helper()
	r, ok := p.Request(ref)
	if !ok {
		t.Fatalf("no request %s", ref)
	}
	return r
}

func docNames(docs []payersim.Document) string {
	var names []string
	for _, d := range docs {
		names = append(names, d.Name)
	}
	return strings.Join(names, ",")
}
