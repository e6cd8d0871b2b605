package payersim

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

func (p *Portal) routesRBM() {
	p.addRoutes("/home", "GET /signout", "GET /orders/{ref}/letter.pdf", []route{
		{pattern: "GET /signin", access: notLogged, html: true, handle: p.rbmSigninPage},
		{pattern: "POST /signin", access: public, html: true, handle: p.rbmSignin},
		{pattern: "GET /terms", access: inStage, stage: stageTerms, html: true, handle: p.rbmTermsPage},
		{pattern: "POST /terms", access: inStage, stage: stageTerms, html: true, handle: p.rbmTerms},
		{pattern: "GET /home", access: loggedIn, html: true, handle: p.rbmHome},
		{pattern: "GET /orders/new", access: loggedIn, html: true, handle: p.rbmOrderPage},
		{pattern: "POST /orders/new", access: loggedIn, html: true, handle: p.rbmOrder},
		{pattern: "GET /orders/submitted", access: loggedIn, html: true, handle: p.rbmSubmitted},
		{pattern: "GET /orders/status", access: loggedIn, html: true, handle: p.rbmStatus},
		{pattern: "GET /orders", access: loggedIn, html: true, handle: p.rbmHistory},
	})
}

type signinData struct {
	Token      string
	Email      string
	Expired    bool
	SignedOut  bool
	Remembered bool
}

func (p *Portal) signinData(w http.ResponseWriter, r *http.Request) signinData {
	_, err := r.Cookie(rbmDeviceCookie)
	return signinData{
		Token:      p.preToken(w, r),
		Expired:    r.URL.Query().Get("expired") == "1",
		SignedOut:  r.URL.Query().Get("logged_out") == "1",
		Remembered: err == nil,
	}
}

func (p *Portal) rbmSigninPage(w http.ResponseWriter, r *http.Request, _ *session) {
	d := p.signinData(w, r)
	p.show(w, http.StatusOK, "signin.html", "Sign in", nil, d)
}

func (p *Portal) rbmSignin(w http.ResponseWriter, r *http.Request, old *session) {
	d := p.signinData(w, r)
	d.Expired = false
	d.Email = r.PostFormValue("email")
	p.signIn(w, r, old, rbmSigninForm, strings.ToLower(d.Email), d, func() {
		if r.PostFormValue("remember_device") != "" {
			http.SetCookie(w, &http.Cookie{
				Name: rbmDeviceCookie, Value: randomToken(16), Path: "/", MaxAge: 30 * 24 * 3600,
				HttpOnly: true, SameSite: http.SameSiteLaxMode,
			})
		}
	})
}

func (p *Portal) rbmTermsPage(w http.ResponseWriter, _ *http.Request, s *session) {
	p.show(w, http.StatusOK, "terms.html", "Terms of Use", s, nil)
}

func (p *Portal) rbmTerms(w http.ResponseWriter, r *http.Request, s *session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !checkSessionToken(s, r.PostFormValue("authenticity_token")) || r.PostFormValue("accept_terms") == "" {
		p.refuseLocked(w, http.StatusOK, "terms.html", "Terms of Use", s, nil, "terms")
		return
	}
	p.rotateSession(w, s)
	http.Redirect(w, r, p.nextStage(s, stageTerms), http.StatusSeeOther)
}

func (p *Portal) rbmHome(w http.ResponseWriter, _ *http.Request, s *session) {
	p.showState(w, "home.html", "Home", s, func() any { return p.overviewLocked() })
}

type orderView struct {
	Form   url.Values
	Nonce  string
	Errors []string
}

func (p *Portal) rbmOrderPage(w http.ResponseWriter, _ *http.Request, s *session) {
	p.show(w, http.StatusOK, "order.html", "Request an imaging order", s, orderView{Form: url.Values{}, Nonce: randomToken(12)})
}

var rbmUrgency = map[string]string{"routine": "standard", "urgent": "expedited"}

func (p *Portal) rbmOrder(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseUpload(w, r); err != nil {
		p.show(w, http.StatusRequestEntityTooLarge, "order.html", "Request an imaging order", s, orderView{Form: url.Values{}, Nonce: randomToken(12),
			Errors: []string{"The attachment could not be uploaded. Files must be under 25 MB."}})
		return
	}
	if !p.formOK(w, r, s) {
		return
	}
	f := r.PostForm
	nonce := f.Get("form_nonce")
	p.mu.Lock()
	done := p.byNonce[nonce]
	p.mu.Unlock()
	if nonce != "" && done != "" { // the same form posted again
		http.Redirect(w, r, "/orders/submitted?tn="+url.QueryEscape(done), http.StatusSeeOther)
		return
	}
	var errs []string
	member := strings.ToUpper(strings.TrimSpace(f.Get("member_id")))
	if !memberIDPattern.MatchString(member) {
		errs = append(errs, "Member ID: no eligible member was found for this ID.")
	}
	dob, ok := parseDate(f.Get("member_dob"))
	if ok {
		t, _ := time.Parse(time.DateOnly, dob)
		ok = t.Before(p.now())
	}
	if !ok {
		errs = append(errs, "Member date of birth: use YYYY-MM-DD or MM/DD/YYYY.")
	}
	npi := strings.TrimSpace(f.Get("ordering_npi"))
	if !npiPattern.MatchString(npi) {
		errs = append(errs, "Ordering provider NPI: must be 10 digits.")
	}
	cpt := strings.ToUpper(strings.TrimSpace(f.Get("cpt_code")))
	if !codePattern.MatchString(cpt) {
		errs = append(errs, "Exam (CPT): enter a valid 5-character procedure code.")
	}
	var dx []string
	primary := strings.ToUpper(strings.TrimSpace(f.Get("icd_primary")))
	if !icdPattern.MatchString(primary) {
		errs = append(errs, "Primary diagnosis: enter a valid ICD-10-CM code.")
	} else {
		dx = append(dx, primary)
	}
	for _, c := range splitCodes.Split(strings.TrimSpace(f.Get("icd_secondary")), -1) {
		if c == "" {
			continue
		}
		c = strings.ToUpper(c)
		if !icdPattern.MatchString(c) {
			errs = append(errs, "Secondary diagnoses: "+c+" is not a valid ICD-10-CM code.")
			continue
		}
		dx = append(dx, c)
	}
	question := strings.TrimSpace(f.Get("clinical_question"))
	if question == "" {
		errs = append(errs, "Clinical question: describe the reason for the exam.")
	}
	urgency, ok := rbmUrgency[f.Get("urgency")]
	if !ok {
		errs = append(errs, "Urgency: choose Routine or Urgent.")
	}
	date := ""
	if v := strings.TrimSpace(f.Get("anticipated_date")); v != "" {
		if date, ok = parseDate(v); !ok {
			errs = append(errs, "Anticipated date of service: use YYYY-MM-DD or MM/DD/YYYY.")
		}
	}
	docs, upErrs := readUploads(r, "attachments")
	errs = append(errs, upErrs...)
	if errs != nil {
		p.show(w, http.StatusOK, "order.html", "Request an imaging order", s, orderView{Form: f, Nonce: nonce, Errors: errs})
		return
	}
	sub := Submission{
		MemberID: member, DOB: dob, OrderingNPI: npi,
		Lines:     []ServiceLine{{Code: cpt, Units: 1, Detail: f.Get("laterality")}},
		Diagnoses: dx, ServiceDate: date, Urgency: urgency, Notes: question, Documents: docs,
	}
	if err := sub.validate(); err != nil {
		p.log.Error("order submit: invalid request", "err", err)
		p.renderStatus(w, http.StatusInternalServerError)
		return
	}
	p.mu.Lock()
	tn := p.byNonce[nonce]
	if tn == "" {
		if refusal := p.refusalLocked(&sub); refusal != "" {
			pg := p.newPage("Request an imaging order", s, orderView{Form: f, Nonce: nonce, Errors: []string{refusal}})
			p.mu.Unlock()
			p.render(w, http.StatusOK, "order.html", pg)
			return
		}
		tn = p.createLocked(sub).Reference
		p.stats.Submissions++
		p.stats.Uploads += len(docs)
		if nonce != "" {
			p.byNonce[nonce] = tn
		}
	}
	p.mu.Unlock()
	http.Redirect(w, r, "/orders/submitted?tn="+url.QueryEscape(tn), http.StatusSeeOther)
}

func (p *Portal) rbmSubmitted(w http.ResponseWriter, r *http.Request, s *session) {
	tn := r.URL.Query().Get("tn")
	p.mu.Lock()
	x := p.byRef[tn]
	var pg *page
	if x != nil {
		pg = p.newPage("Order received", s, x.snapshot())
	}
	p.mu.Unlock()
	if pg == nil {
		http.Redirect(w, r, "/orders/new", http.StatusSeeOther)
		return
	}
	p.render(w, http.StatusOK, "submitted.html", pg)
}

type statusView struct {
	Query   string
	Looked  bool
	Found   bool
	Request Request
}

func (p *Portal) rbmStatus(w http.ResponseWriter, r *http.Request, s *session) {
	v := statusView{Query: strings.TrimSpace(r.URL.Query().Get("tracking_number"))}
	p.mu.Lock()
	if v.Query != "" {
		v.Looked = true
		v.Request, v.Found = p.viewLocked(v.Query)
	}
	pg := p.newPage("Order status", s, v)
	p.mu.Unlock()
	p.render(w, http.StatusOK, "status.html", pg)
}

func (p *Portal) rbmHistory(w http.ResponseWriter, r *http.Request, s *session) {
	p.showState(w, "history.html", "Order history", s, func() any { return p.listLocked(r.URL.Query(), "/orders", "member_id") })
}
