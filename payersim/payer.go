package payersim

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func (p *Portal) routesPayer() {
	p.addRoutes("/dashboard", "GET /logout", "GET /auth/{ref}/letter.pdf", []route{
		{pattern: "GET /login", access: notLogged, html: true, handle: p.payerLoginPage},
		{pattern: "POST /login", access: public, html: true, handle: p.payerLogin},
		{pattern: "GET /mfa", access: inStage, stage: stageMFA, html: true, handle: p.payerMFAPage},
		{pattern: "POST /mfa", access: inStage, stage: stageMFA, html: true, handle: p.payerMFA},
		{pattern: "GET /dashboard", access: loggedIn, html: true, handle: p.payerDashboard},
		{pattern: "GET /auth/new", access: loggedIn, html: true, handle: p.wizardStart},
		{pattern: "POST /auth/new/member", access: loggedIn, html: true, handle: p.wizardMember},
		{pattern: "GET /auth/new/services", access: loggedIn, html: true, handle: p.wizardServicesPage},
		{pattern: "POST /auth/new/services", access: loggedIn, html: true, handle: p.wizardServices},
		{pattern: "GET /auth/new/documents", access: loggedIn, html: true, handle: p.wizardDocumentsPage},
		{pattern: "POST /auth/new/documents", access: loggedIn, html: true, handle: p.wizardDocuments},
		{pattern: "GET /auth/new/review", access: loggedIn, html: true, handle: p.wizardReviewPage},
		{pattern: "POST /auth/new/submit", access: loggedIn, html: true, handle: p.wizardSubmit},
		{pattern: "GET /auth/new/confirmation", access: loggedIn, html: true, handle: p.wizardConfirmation},
		{pattern: "GET /auth/list", access: loggedIn, html: true, handle: p.payerList},
		{pattern: "GET /auth/{ref}", access: loggedIn, html: true, handle: p.payerDetail},
		{pattern: "GET /auth/{ref}/respond", access: loggedIn, html: true, handle: p.payerRespondPage},
		{pattern: "POST /auth/{ref}/respond", access: loggedIn, html: true, handle: p.payerRespond},
		{pattern: "GET /auth/{ref}/respond/sent", access: loggedIn, html: true, handle: p.payerRespondSent},
		{pattern: "GET /auth/{ref}/withdraw", access: loggedIn, html: true, handle: p.payerWithdrawPage},
		{pattern: "POST /auth/{ref}/withdraw", access: loggedIn, html: true, handle: p.payerWithdraw},
		{pattern: "GET /auth/{ref}/withdrawn", access: loggedIn, html: true, handle: p.payerWithdrawn},
	})
}

// addRoutes serves a portal kind's own routes and those every kind has:
// the front page sends a logged-in user home, the CAPTCHA interstitial at
// /verify, logging out at logout, the letters at letter, and a not-found
// page for the rest.
func (p *Portal) addRoutes(home, logout, letter string, own []route) {
	for _, rt := range append(own,
		route{pattern: "GET /{$}", access: loggedIn, html: true, handle: redirectTo(home)},
		route{pattern: "GET /verify", access: inStage, stage: stageCaptcha, html: true, handle: p.captchaPage},
		route{pattern: "POST /verify", access: inStage, stage: stageCaptcha, html: true, handle: p.captchaVerify},
		route{pattern: logout, access: public, html: true, handle: p.logout},
		route{pattern: letter, access: loggedIn, handle: p.letter},
		route{pattern: "/", access: public, html: true, handle: p.notFound},
	) {
		p.add(rt)
	}
}

func redirectTo(path string) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, _ *session) {
		http.Redirect(w, r, path, http.StatusSeeOther)
	}
}

// ---- login, TOTP, CAPTCHA ----

type loginData struct {
	Token     string
	Username  string
	Expired   bool
	LoggedOut bool
}

func (p *Portal) payerLoginPage(w http.ResponseWriter, r *http.Request, _ *session) {
	d := loginData{
		Token:     p.preToken(w, r),
		Expired:   r.URL.Query().Get("expired") == "1",
		LoggedOut: r.URL.Query().Get("logged_out") == "1",
	}
	p.show(w, http.StatusOK, "login.html", "Log in", nil, d)
}

// credentialsMatch compares in constant time.
func (p *Portal) credentialsMatch(user, password string) bool {
	u := subtle.ConstantTimeCompare([]byte(strings.TrimSpace(user)), []byte(p.user))
	pw := subtle.ConstantTimeCompare([]byte(password), []byte(p.password))
	return u&pw == 1
}

func (p *Portal) payerLogin(w http.ResponseWriter, r *http.Request, old *session) {
	user := r.PostFormValue("username")
	p.signIn(w, r, old, payerLoginForm, user, loginData{Token: p.preToken(w, r), Username: user}, nil)
}

// signInForm is a portal kind's login page: its template and title, the
// form field of its pre-login token, and the stage a session starts in.
type signInForm struct {
	page, title, tokenField string
	first                   stage
}

var (
	payerLoginForm = signInForm{page: "login.html", title: "Log in", tokenField: "csrf_token", first: stageMFA}
	rbmSigninForm  = signInForm{page: "signin.html", title: "Sign in", tokenField: "authenticity_token", first: stageTerms}
)

// signIn handles a login form's post for user: the pre-login token, then
// the password. A failure shows the page again with data d; on success
// accepted (if any) runs, the visitor's old session is replaced by one at
// the form's first stage, and the browser is sent on.
func (p *Portal) signIn(w http.ResponseWriter, r *http.Request, old *session, f signInForm, user string, d any, accepted func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.LoginAttempts++
	if !p.checkPreToken(r, r.PostFormValue(f.tokenField)) {
		p.refuseLocked(w, http.StatusForbidden, f.page, f.title, nil, d, "csrf")
		return
	}
	if !p.credentialsMatch(user, r.PostFormValue("password")) {
		p.refuseLocked(w, http.StatusOK, f.page, f.title, nil, d, "credentials")
		return
	}
	if accepted != nil {
		accepted()
	}
	if old != nil {
		delete(p.sessions, old.id)
	}
	s := p.newSession(w, f.first, p.now())
	http.Redirect(w, r, p.nextStage(s, 0), http.StatusSeeOther)
}

// renderLocked renders while p.mu is held by the caller.
func (p *Portal) renderLocked(w http.ResponseWriter, status int, name string, pg *page) {
	p.mu.Unlock()
	defer p.mu.Lock()
	p.render(w, status, name, pg)
}

func (p *Portal) payerMFAPage(w http.ResponseWriter, _ *http.Request, s *session) {
	p.show(w, http.StatusOK, "mfa.html", "Two-step verification", s, p.mfaView())
}

// mfaView is what the TOTP page shows besides its form: under MFASMS, the
// phone the code went to.
func (p *Portal) mfaView() mfaData {
	return mfaData{SMS: p.mfa == MFASMS, Phone: smsPhone}
}

type mfaData struct {
	SMS   bool
	Phone string
}

var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

func (p *Portal) payerMFA(w http.ResponseWriter, r *http.Request, s *session) {
	code := strings.TrimSpace(r.PostFormValue("code"))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.MFAAttempts++
	if !checkSessionToken(s, r.PostFormValue("csrf_token")) {
		p.refuseLocked(w, http.StatusForbidden, "mfa.html", "Two-step verification", s, p.mfaView(), "csrf")
		return
	}
	if !p.mfaCodeOK(s, code) {
		s.mfaFails++
		p.refuseLocked(w, http.StatusOK, "mfa.html", "Two-step verification", s, p.mfaView(), "code")
		return
	}
	p.rotateSession(w, s)
	http.Redirect(w, r, p.nextStage(s, stageMFA), http.StatusSeeOther)
}

func (p *Portal) captchaPage(w http.ResponseWriter, _ *http.Request, s *session) {
	p.show(w, http.StatusOK, "verify.html", "Verify you are human", s, nil)
}

// captchaVerify never passes while the Captcha fault is on: a bot cannot
// solve it, a human must (switch the fault off to let the next try pass).
// Under CaptchaCheckbox alone it passes with its checkbox ticked.
func (p *Portal) captchaVerify(w http.ResponseWriter, r *http.Request, s *session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ticked := !p.faults.CaptchaCheckbox || r.PostFormValue("human") == "yes"
	if p.faults.Captcha || !ticked || !checkSessionToken(s, r.PostFormValue(p.csrfField())) {
		p.refuseLocked(w, http.StatusOK, "verify.html", "Verify you are human", s, nil, "captcha")
		return
	}
	http.Redirect(w, r, p.nextStage(s, stageCaptcha), http.StatusSeeOther)
}

func (p *Portal) csrfField() string {
	if p.kind == kindRBM {
		return "authenticity_token"
	}
	return "csrf_token"
}

func (p *Portal) logout(w http.ResponseWriter, r *http.Request, s *session) {
	p.mu.Lock()
	if s != nil {
		delete(p.sessions, s.id)
	}
	p.mu.Unlock()
	p.clearSessionCookie(w)
	http.Redirect(w, r, p.loginPath()+"?logged_out=1", http.StatusSeeOther)
}

// ---- dashboard ----

type statusCount struct {
	Label string
	Class string
	N     int
}

// statusCountsLocked counts requests by their shown status. p.mu must be
// held.
func (p *Portal) statusCountsLocked() []statusCount {
	order := []Status{StatusInReview, StatusPended, StatusApproved, StatusPartiallyApproved,
		StatusModified, StatusDenied, StatusCancelled, StatusNotRequired, StatusWithdrawn}
	n := map[Status]int{}
	for _, r := range p.requests {
		n[r.Status]++
	}
	var out []statusCount
	for _, st := range order {
		out = append(out, statusCount{Label: p.wording(st), Class: statusClass(st), N: n[st]})
	}
	return out
}

// overview is a portal's start page: who is logged in (username or
// e-mail), the requests by status and their number.
type overview struct {
	User   string
	Counts []statusCount
	Total  int
}

// overviewLocked returns the start page's data. p.mu must be held.
func (p *Portal) overviewLocked() overview {
	return overview{User: p.user, Counts: p.statusCountsLocked(), Total: len(p.requests)}
}

func (p *Portal) payerDashboard(w http.ResponseWriter, _ *http.Request, s *session) {
	p.showState(w, "dashboard.html", "Dashboard", s, func() any { return p.overviewLocked() })
}

// ---- request wizard ----

// wizard is one session's request in progress.
type wizard struct {
	Step        int // highest step completed: 1 member, 2 services, 3 documents
	MemberID    string
	MemberName  string
	Plan        string
	DOB         string // YYYY-MM-DD
	Form        url.Values
	Lines       []ServiceLine
	Diagnoses   []string
	OrderingNPI string
	Servicing   string
	ServiceDate string
	Urgency     string
	Notes       string
	Documents   []Document
	Submitted   string // reference, once submitted
}

type wizardView struct {
	W      *wizard
	Form   url.Values
	Errors []string
	Found  bool
}

func (p *Portal) wizardPage(w http.ResponseWriter, s *session, status int, name, title string, v wizardView) {
	p.mu.Lock()
	if v.W == nil {
		v.W = s.wizard
	}
	if v.W != nil {
		c := *v.W // templates read a copy
		c.Documents = slices.Clone(c.Documents)
		c.Lines = slices.Clone(c.Lines)
		v.W = &c
	}
	if v.Form == nil {
		v.Form = url.Values{}
	}
	pg := p.newPage(title, s, v)
	p.mu.Unlock()
	p.render(w, status, name, pg)
}

// wizardAt returns the session's wizard if it has completed step; else it
// redirects to the start and returns nil.
func (p *Portal) wizardAt(w http.ResponseWriter, r *http.Request, s *session, step int) *wizard {
	p.mu.Lock()
	wz := s.wizard
	p.mu.Unlock()
	if wz == nil || wz.Step < step || wz.Submitted != "" {
		http.Redirect(w, r, "/auth/new", http.StatusSeeOther)
		return nil
	}
	return wz
}

// formOK checks the session CSRF token and renders a 403 page when it is
// wrong.
func (p *Portal) formOK(w http.ResponseWriter, r *http.Request, s *session) bool {
	p.mu.Lock()
	ok := checkSessionToken(s, r.PostFormValue(p.csrfField()))
	p.mu.Unlock()
	if !ok {
		p.renderStatus(w, http.StatusForbidden)
	}
	return ok
}

func (p *Portal) wizardStart(w http.ResponseWriter, _ *http.Request, s *session) {
	p.mu.Lock()
	s.wizard = &wizard{}
	p.mu.Unlock()
	p.wizardPage(w, s, http.StatusOK, "step1.html", "New authorization request", wizardView{})
}

func (p *Portal) wizardMember(w http.ResponseWriter, r *http.Request, s *session) {
	if !p.formOK(w, r, s) {
		return
	}
	id := strings.ToUpper(strings.TrimSpace(r.PostFormValue("member_id")))
	dob, okDOB := parseDate(r.PostFormValue("member_dob"))
	v := wizardView{Form: r.PostForm}
	if okDOB {
		t, _ := time.Parse(time.DateOnly, dob)
		okDOB = t.Before(p.now())
	}
	switch {
	case id == "" || r.PostFormValue("member_dob") == "":
		v.Errors = []string{"Enter the member ID and date of birth."}
	case !okDOB:
		v.Errors = []string{"Enter the date of birth as MM/DD/YYYY."}
	case !memberIDPattern.MatchString(id):
		v.Errors = []string{"No member was found with the member ID and date of birth entered. Check the ID card and try again."}
	}
	if v.Errors != nil {
		p.mu.Lock()
		s.wizard = &wizard{}
		p.mu.Unlock()
		p.wizardPage(w, s, http.StatusOK, "step1.html", "New authorization request", v)
		return
	}
	p.mu.Lock()
	s.wizard = &wizard{Step: 1, MemberID: id, MemberName: memberName(id), Plan: p.memberPlan(id), DOB: dob}
	p.mu.Unlock()
	v.Found = true
	p.wizardPage(w, s, http.StatusOK, "step1.html", "New authorization request", v)
}

func (p *Portal) wizardServicesPage(w http.ResponseWriter, r *http.Request, s *session) {
	wz := p.wizardAt(w, r, s, 1)
	if wz == nil {
		return
	}
	p.mu.Lock()
	form := url.Values{}
	if wz.Form != nil {
		form = wz.Form
	}
	p.mu.Unlock()
	p.wizardPage(w, s, http.StatusOK, "step2.html", "Services", wizardView{Form: form})
}

var splitCodes = regexp.MustCompile(`[\s,;]+`)

func (p *Portal) wizardServices(w http.ResponseWriter, r *http.Request, s *session) {
	wz := p.wizardAt(w, r, s, 1)
	if wz == nil || !p.formOK(w, r, s) {
		return
	}
	f := r.PostForm
	var errs []string
	var lines []ServiceLine
	for i := 1; i <= maxLines; i++ {
		code := strings.ToUpper(strings.TrimSpace(f.Get(fmt.Sprintf("cpt_%d", i))))
		units := strings.TrimSpace(f.Get(fmt.Sprintf("units_%d", i)))
		level := strings.TrimSpace(f.Get(fmt.Sprintf("level_%d", i)))
		if code == "" {
			if units != "" || level != "" {
				errs = append(errs, fmt.Sprintf("Line %d: enter a CPT/HCPCS code.", i))
			}
			continue
		}
		if !codePattern.MatchString(code) {
			errs = append(errs, fmt.Sprintf("Line %d: %q is not a valid CPT/HCPCS code.", i, code))
		}
		n := 1
		if units != "" {
			var err error
			n, err = strconv.Atoi(units)
			if err != nil || n < 1 || n > 999 {
				errs = append(errs, fmt.Sprintf("Line %d: units must be a whole number from 1 to 999.", i))
			}
		}
		lines = append(lines, ServiceLine{Code: code, Units: n, Detail: level})
	}
	if len(lines) == 0 && len(errs) == 0 {
		errs = append(errs, "Enter at least one service line.")
	}
	var dx []string
	for _, c := range splitCodes.Split(strings.TrimSpace(f.Get("icd_codes")), -1) {
		if c == "" {
			continue
		}
		c = strings.ToUpper(c)
		if !icdPattern.MatchString(c) {
			errs = append(errs, fmt.Sprintf("%q is not a valid ICD-10-CM code.", c))
		}
		dx = append(dx, c)
	}
	if len(dx) == 0 {
		errs = append(errs, "Enter at least one diagnosis code (ICD-10-CM).")
	}
	npi := strings.TrimSpace(f.Get("ordering_npi"))
	if !npiPattern.MatchString(npi) {
		errs = append(errs, "Ordering provider NPI must be 10 digits.")
	}
	servicing := strings.TrimSpace(f.Get("servicing_npi"))
	if servicing != "" && !npiPattern.MatchString(servicing) {
		errs = append(errs, "Servicing provider NPI must be 10 digits.")
	}
	date, ok := parseDate(f.Get("service_date"))
	if !ok {
		errs = append(errs, "Enter the planned service date as MM/DD/YYYY.")
	}
	urgency := f.Get("urgency")
	if urgency != "standard" && urgency != "expedited" {
		errs = append(errs, "Select the review type (standard or expedited).")
	}
	if errs != nil {
		p.wizardPage(w, s, http.StatusOK, "step2.html", "Services", wizardView{Form: f, Errors: errs})
		return
	}
	p.mu.Lock()
	wz.Form = f
	wz.Lines, wz.Diagnoses = lines, dx
	wz.OrderingNPI, wz.Servicing = npi, servicing
	wz.ServiceDate, wz.Urgency = date, urgency
	wz.Notes = strings.TrimSpace(f.Get("clinical_notes"))
	wz.Step = max(wz.Step, 2)
	p.mu.Unlock()
	http.Redirect(w, r, "/auth/new/documents", http.StatusSeeOther)
}

func (p *Portal) wizardDocumentsPage(w http.ResponseWriter, r *http.Request, s *session) {
	if p.wizardAt(w, r, s, 2) == nil {
		return
	}
	p.wizardPage(w, s, http.StatusOK, "step3.html", "Clinical documents", wizardView{})
}

const (
	maxUploadBytes = 25 << 20
	maxDocuments   = 10
)

// readUploads stores the files of a multipart field; the form must have
// been parsed.
func readUploads(r *http.Request, field string) ([]Document, []string) {
	var docs []Document
	var errs []string
	if r.MultipartForm == nil {
		return nil, nil
	}
	for _, fh := range r.MultipartForm.File[field] {
		if fh.Filename == "" {
			continue // no file chosen
		}
		if fh.Size == 0 {
			errs = append(errs, fmt.Sprintf("%s is empty.", fh.Filename))
			continue
		}
		if fh.Size > maxUploadBytes {
			errs = append(errs, fmt.Sprintf("%s is larger than 25 MB.", fh.Filename))
			continue
		}
		f, err := fh.Open()
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s could not be read.", fh.Filename))
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s could not be read.", fh.Filename))
			continue
		}
		docs = append(docs, Document{Name: fh.Filename, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	return docs, errs
}

// parseUpload parses a multipart form of at most 4 uploads' size.
func parseUpload(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 4*maxUploadBytes)
	return r.ParseMultipartForm(8 << 20)
}

func (p *Portal) wizardDocuments(w http.ResponseWriter, r *http.Request, s *session) {
	wz := p.wizardAt(w, r, s, 2)
	if wz == nil {
		return
	}
	if err := parseUpload(w, r); err != nil {
		p.wizardPage(w, s, http.StatusRequestEntityTooLarge, "step3.html", "Clinical documents",
			wizardView{Errors: []string{"The upload could not be read. Files must be under 25 MB."}})
		return
	}
	if !p.formOK(w, r, s) {
		return
	}
	docs, errs := readUploads(r, "documents")
	p.mu.Lock()
	if len(wz.Documents)+len(docs) > maxDocuments {
		errs = append(errs, fmt.Sprintf("At most %d documents can be attached.", maxDocuments))
		docs = docs[:max(0, maxDocuments-len(wz.Documents))]
	}
	wz.Documents = append(wz.Documents, docs...)
	p.stats.Uploads += len(docs)
	wz.Step = max(wz.Step, 3)
	p.mu.Unlock()
	if errs == nil && r.PostFormValue("action") == "continue" {
		http.Redirect(w, r, "/auth/new/review", http.StatusSeeOther)
		return
	}
	p.wizardPage(w, s, http.StatusOK, "step3.html", "Clinical documents", wizardView{Errors: errs})
}

func (p *Portal) wizardReviewPage(w http.ResponseWriter, r *http.Request, s *session) {
	if p.wizardAt(w, r, s, 2) == nil {
		return
	}
	p.wizardPage(w, s, http.StatusOK, "review.html", "Review and submit", wizardView{})
}

func (p *Portal) wizardSubmit(w http.ResponseWriter, r *http.Request, s *session) {
	p.mu.Lock()
	wz := s.wizard
	done := wz != nil && wz.Submitted != ""
	p.mu.Unlock()
	if done {
		http.Redirect(w, r, "/auth/new/confirmation", http.StatusSeeOther)
		return
	}
	if p.wizardAt(w, r, s, 2) == nil || !p.formOK(w, r, s) {
		return
	}
	if a := r.PostFormValue("attest"); a != "yes" && a != "on" {
		p.wizardPage(w, s, http.StatusOK, "review.html", "Review and submit",
			wizardView{Errors: []string{"Confirm the attestation before you submit the request."}})
		return
	}
	p.mu.Lock()
	sub := Submission{
		MemberID: wz.MemberID, DOB: wz.DOB, OrderingNPI: wz.OrderingNPI, ServicingNPI: wz.Servicing,
		Lines: slices.Clone(wz.Lines), Diagnoses: slices.Clone(wz.Diagnoses), ServiceDate: wz.ServiceDate,
		Urgency: wz.Urgency, Notes: wz.Notes, Documents: slices.Clone(wz.Documents),
	}
	err := sub.validate()
	refusal := ""
	if err == nil {
		refusal = p.refusalLocked(&sub)
	}
	if err == nil && refusal == "" {
		req := p.createLocked(sub)
		wz.Submitted = req.Reference
		p.stats.Submissions++
	}
	p.mu.Unlock()
	if refusal != "" {
		p.wizardPage(w, s, http.StatusOK, "review.html", "Review and submit", wizardView{Errors: []string{refusal}})
		return
	}
	if err != nil {
		p.log.Error("wizard submit: invalid request", "err", err)
		p.renderStatus(w, http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/auth/new/confirmation", http.StatusSeeOther)
}

func (p *Portal) wizardConfirmation(w http.ResponseWriter, r *http.Request, s *session) {
	p.mu.Lock()
	var req *Request
	if s.wizard != nil && s.wizard.Submitted != "" {
		if x := p.byRef[s.wizard.Submitted]; x != nil {
			snap := x.snapshot()
			req = &snap
		}
	}
	p.mu.Unlock()
	if req == nil {
		http.Redirect(w, r, "/auth/list", http.StatusSeeOther)
		return
	}
	p.show(w, http.StatusOK, "confirmation.html", "Request submitted", s, req)
}

// ---- list, detail, letter ----

type listData struct {
	Rows       []Request
	Member, Q  string
	Page       int
	Pages      int
	Total      int
	First      int
	Last       int
	NextURL    string
	PrevURL    string
	ActionPath string
}

// listLocked filters, sorts newest first, pages and checks the rows it
// returns. p.mu must be held.
func (p *Portal) listLocked(q url.Values, path, memberKey string) listData {
	member := strings.ToUpper(strings.TrimSpace(q.Get(memberKey)))
	text := strings.ToLower(strings.TrimSpace(q.Get("q")))
	var match []*request
	for _, r := range p.requests {
		if member != "" && r.MemberID != member {
			continue
		}
		if text != "" {
			hay := strings.ToLower(strings.Join([]string{r.Reference, r.MemberID, lineCodes(r.Lines),
				r.StatusText, r.ServiceDate, usDay(r.ServiceDate), r.AuthNumber}, " "))
			if !strings.Contains(hay, text) {
				continue
			}
		}
		match = append(match, r)
	}
	slices.SortStableFunc(match, func(a, b *request) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return b.seq - a.seq
	})
	d := listData{Member: q.Get(memberKey), Q: q.Get("q"), Total: len(match), ActionPath: path}
	d.Pages = max(1, (len(match)+p.pageSize-1)/p.pageSize)
	d.Page, _ = strconv.Atoi(q.Get("page"))
	d.Page = max(d.Page, 1)
	start := min((d.Page-1)*p.pageSize, len(match))
	end := min(start+p.pageSize, len(match))
	now := p.now()
	for _, r := range match[start:end] {
		p.checkLocked(r, now)
		d.Rows = append(d.Rows, r.snapshot())
	}
	d.First, d.Last = start+1, end
	link := func(page int) string {
		v := url.Values{}
		if d.Member != "" {
			v.Set(memberKey, d.Member)
		}
		if d.Q != "" {
			v.Set("q", d.Q)
		}
		v.Set("page", strconv.Itoa(page))
		return path + "?" + v.Encode()
	}
	if end < len(match) {
		d.NextURL = link(d.Page + 1)
	}
	if d.Page > 1 {
		d.PrevURL = link(d.Page - 1)
	}
	p.stats.ListViews++
	return d
}

func (p *Portal) payerList(w http.ResponseWriter, r *http.Request, s *session) {
	p.showState(w, "list.html", "My authorizations", s, func() any { return p.listLocked(r.URL.Query(), "/auth/list", "member") })
}

// viewLocked returns the request named ref on this portal and counts the
// view as a check. p.mu must be held.
func (p *Portal) viewLocked(ref string) (Request, bool) {
	r := p.byRef[strings.ToUpper(strings.TrimSpace(ref))]
	if r == nil {
		return Request{}, false
	}
	p.checkLocked(r, p.now())
	p.stats.DetailViews++
	return r.snapshot(), true
}

func (p *Portal) payerDetail(w http.ResponseWriter, r *http.Request, s *session) {
	p.mu.Lock()
	req, ok := p.viewLocked(r.PathValue("ref"))
	var pg *page
	if ok {
		pg = p.newPage("Authorization "+req.Reference, s, req)
	} else {
		pg = p.newPage("Authorization not found", s, r.PathValue("ref"))
	}
	p.mu.Unlock()
	if !ok {
		p.render(w, http.StatusNotFound, "notfound.html", pg)
		return
	}
	p.render(w, http.StatusOK, "detail.html", pg)
}

// letter serves the determination letter of a decided request.
func (p *Portal) letter(w http.ResponseWriter, r *http.Request, _ *session) {
	ref := r.PathValue("ref")
	p.mu.Lock()
	x := p.byRef[strings.ToUpper(ref)]
	var req Request
	ok := x != nil && x.Status.hasLetter()
	if ok {
		req = x.snapshot()
		p.stats.LettersDownloaded++
	}
	p.mu.Unlock()
	if !ok {
		p.renderStatus(w, http.StatusNotFound)
		return
	}
	pdf, err := p.letterPDF(req)
	if err != nil {
		p.log.Error("letter: render pdf", "err", err)
		p.renderStatus(w, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", letterFilename(req)))
	w.Header().Set("Content-Length", strconv.Itoa(len(pdf)))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(pdf)
}
