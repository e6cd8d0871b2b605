package payersim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Default credentials and settings used when an option is left empty.
const (
	DefaultPayerUsername = "provider1"
	DefaultPayerPassword = "Summit-Portal-2026"
	// DefaultTOTPSecret is the base32 TOTP seed of the payer portal.
	DefaultTOTPSecret  = "SUMMITHEALTHPLANPROVIDER"
	DefaultRBMEmail    = "scheduling@practice.example"
	DefaultRBMPassword = "ClearView-2026!"
	DefaultPageSize    = 20
	DefaultSessionTTL  = 30 * time.Minute
)

// PayerOptions configure the payer portal. Zero values take the defaults.
type PayerOptions struct {
	Username   string // default DefaultPayerUsername
	Password   string // default DefaultPayerPassword
	TOTPSecret string // base32 seed; default DefaultTOTPSecret
	// MFA is the second login step: MFATOTP (default) asks for the
	// authenticator code; MFASMS texts a fresh code to the practice's phone
	// (readable at GET /_sim/sms) and asks for it on the same page.
	MFA        MFAMode
	PageSize   int           // rows per "My authorizations" page; default 20
	SessionTTL time.Duration // idle timeout of a session; default 30m
	Latency    time.Duration // added to every page (benchmark realism); default 0
	Now        func() time.Time
	Logger     *slog.Logger // default: discard
}

// RBMOptions configure the imaging benefit manager portal. Zero values take
// the defaults.
type RBMOptions struct {
	Email      string        // default DefaultRBMEmail
	Password   string        // default DefaultRBMPassword
	PageSize   int           // cards per "Order history" page; default 20
	SessionTTL time.Duration // idle timeout of a session; default 30m
	Latency    time.Duration // added to every page; default 0
	Now        func() time.Time
	Logger     *slog.Logger // default: discard
}

type portalKind int

const (
	kindPayer portalKind = iota + 1
	kindRBM
)

func (k portalKind) String() string {
	if k == kindRBM {
		return "rbm"
	}
	return "payer"
}

// Portal is one simulated portal. It is an http.Handler; all methods are safe
// for concurrent use.
type Portal struct {
	kind       portalKind
	user       string // username (payer) or email (rbm)
	password   string
	totpSecret string
	mfa        MFAMode
	pageSize   int
	sessionTTL time.Duration
	latency    time.Duration
	now        func() time.Time
	log        *slog.Logger
	csrfKey    []byte
	pages      map[string]*template.Template
	mux        *http.ServeMux
	// sleep waits for d or until ctx ends; replaced in tests.
	sleep func(ctx context.Context, d time.Duration)

	mu       sync.Mutex
	sessions map[string]*session
	requests []*request
	byRef    map[string]*request
	byNonce  map[string]string // RBM one-shot form nonce -> tracking number
	seq      int
	scenario Scenario
	faults   Faults
	expireAt int // page loads left before all sessions expire; -1 = off
	texts    []SMS
	stats    Stats
}

// NewPayer returns the payer provider portal (login + TOTP, request wizard,
// "My authorizations" list, detail pages, PDF letters).
func NewPayer(opts PayerOptions) *Portal {
	p := newPortal(kindPayer, opts.PageSize, opts.SessionTTL, opts.Latency, opts.Now, opts.Logger)
	p.user = orDefault(opts.Username, DefaultPayerUsername)
	p.password = orDefault(opts.Password, DefaultPayerPassword)
	p.totpSecret = orDefault(opts.TOTPSecret, DefaultTOTPSecret)
	p.mfa = opts.MFA
	p.pages = payerPages
	p.routesPayer()
	return p
}

// NewRBM returns the imaging benefit manager portal (email sign-in, terms
// interstitial, one long order form, tracking-number status lookup).
func NewRBM(opts RBMOptions) *Portal {
	p := newPortal(kindRBM, opts.PageSize, opts.SessionTTL, opts.Latency, opts.Now, opts.Logger)
	p.user = strings.ToLower(orDefault(opts.Email, DefaultRBMEmail))
	p.password = orDefault(opts.Password, DefaultRBMPassword)
	p.pages = rbmPages
	p.routesRBM()
	return p
}

func newPortal(k portalKind, pageSize int, ttl, latency time.Duration, now func() time.Time, log *slog.Logger) *Portal {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	p := &Portal{
		kind:       k,
		pageSize:   pageSize,
		sessionTTL: ttl,
		latency:    latency,
		now:        now,
		log:        log.With("portal", k.String()),
		csrfKey:    key,
		mux:        http.NewServeMux(),
		sleep:      sleepContext,
		sessions:   make(map[string]*session),
		byRef:      make(map[string]*request),
		byNonce:    make(map[string]string),
		expireAt:   -1,
	}
	p.stats.PageLoadsByRoute = make(map[string]int)
	p.mux.Handle("GET /static/", http.FileServerFS(staticFS))
	p.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	p.routesAdmin()
	return p
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func sleepContext(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ServeHTTP serves the portal's pages, its static assets and the /_sim/
// admin endpoints.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mux.ServeHTTP(w, r)
}

// Kind is "payer" or "rbm".
func (p *Portal) Kind() string { return p.kind.String() }

//go:embed static
var staticFS embed.FS

// ---- sessions ----

type stage int

const (
	stageMFA     stage = iota + 1 // password accepted, TOTP due (payer)
	stageCaptcha                  // CAPTCHA interstitial due (fault)
	stageTerms                    // terms acceptance due (RBM)
	stageReady                    // fully logged in
)

type session struct {
	id       string
	stage    stage
	csrf     string
	lastSeen time.Time
	mfaFails int
	smsCode  string // the code texted for this login (MFASMS)
	wizard   *wizard
}

const (
	payerSessionCookie = "SHPSESSION"
	payerPreCookie     = "shp_pre"
	rbmSessionCookie   = "cv_sid"
	rbmPreCookie       = "cv_pre"
	rbmDeviceCookie    = "cv_device"
)

func (p *Portal) sessionCookieName() string {
	if p.kind == kindRBM {
		return rbmSessionCookie
	}
	return payerSessionCookie
}

func (p *Portal) preCookieName() string {
	if p.kind == kindRBM {
		return rbmPreCookie
	}
	return payerPreCookie
}

func (p *Portal) loginPath() string {
	if p.kind == kindRBM {
		return "/signin"
	}
	return "/login"
}

func (p *Portal) homePath() string {
	if p.kind == kindRBM {
		return "/home"
	}
	return "/dashboard"
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lookupSession returns the live session named by r's cookie, and whether a
// session cookie was sent at all. An idle session past the TTL is deleted.
// p.mu must be held.
func (p *Portal) lookupSession(r *http.Request, now time.Time) (*session, bool) {
	c, err := r.Cookie(p.sessionCookieName())
	if err != nil || c.Value == "" {
		return nil, false
	}
	s := p.sessions[c.Value]
	if s == nil {
		return nil, true
	}
	if now.Sub(s.lastSeen) > p.sessionTTL {
		delete(p.sessions, s.id)
		return nil, true
	}
	s.lastSeen = now
	return s, true
}

// newSession creates a session at stage st and sets its cookie. p.mu must be
// held.
func (p *Portal) newSession(w http.ResponseWriter, st stage, now time.Time) *session {
	s := &session{id: randomToken(24), stage: st, csrf: randomToken(16), lastSeen: now}
	p.sessions[s.id] = s
	http.SetCookie(w, &http.Cookie{
		Name: p.sessionCookieName(), Value: s.id, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	return s
}

// rotateSession gives s a new id (after a privilege change) and sets the
// cookie. p.mu must be held.
func (p *Portal) rotateSession(w http.ResponseWriter, s *session) {
	delete(p.sessions, s.id)
	s.id = randomToken(24)
	p.sessions[s.id] = s
	http.SetCookie(w, &http.Cookie{
		Name: p.sessionCookieName(), Value: s.id, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

func (p *Portal) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: p.sessionCookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// preToken returns the login form's CSRF token, bound to the pre-session
// cookie (set here when missing).
func (p *Portal) preToken(w http.ResponseWriter, r *http.Request) string {
	name := p.preCookieName()
	v := ""
	if c, err := r.Cookie(name); err == nil && c.Value != "" {
		v = c.Value
	} else {
		v = randomToken(16)
		http.SetCookie(w, &http.Cookie{
			Name: name, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		})
	}
	return p.tokenFor(v)
}

func (p *Portal) tokenFor(pre string) string {
	m := hmac.New(sha256.New, p.csrfKey)
	m.Write([]byte(pre))
	return hex.EncodeToString(m.Sum(nil))
}

// checkPreToken reports whether the posted token matches the pre-session
// cookie.
func (p *Portal) checkPreToken(r *http.Request, posted string) bool {
	c, err := r.Cookie(p.preCookieName())
	if err != nil || c.Value == "" || posted == "" {
		return false
	}
	return hmac.Equal([]byte(p.tokenFor(c.Value)), []byte(posted))
}

// checkSessionToken reports whether posted matches the session's token.
// p.mu must be held.
func checkSessionToken(s *session, posted string) bool {
	return posted != "" && subtle.ConstantTimeCompare([]byte(s.csrf), []byte(posted)) == 1
}

// nextStage moves a session on after the step done (0 = the password check,
// else the stage just passed), counts the login when the session becomes
// ready, and returns where to send the browser. p.mu must be held.
func (p *Portal) nextStage(s *session, done stage) string {
	var next stage
	switch {
	case done == 0 && p.kind == kindPayer:
		next = stageMFA
		if p.mfa == MFASMS {
			p.textCodeLocked(s)
		}
	case done == 0 || done == stageMFA:
		if p.faults.Captcha || p.faults.CaptchaCheckbox {
			next = stageCaptcha
		} else if p.kind == kindRBM {
			next = stageTerms
		} else {
			next = stageReady
		}
	case done == stageCaptcha && p.kind == kindRBM:
		next = stageTerms
	default:
		next = stageReady
	}
	s.stage = next
	if next == stageReady {
		p.stats.Logins++
	}
	return p.stagePath(next)
}

func (p *Portal) stagePath(st stage) string {
	switch st {
	case stageMFA:
		return "/mfa"
	case stageCaptcha:
		return "/verify"
	case stageTerms:
		return "/terms"
	default:
		return p.homePath()
	}
}

// ---- routing, faults and counting ----

// access is what a route needs from the session.
type access int

const (
	public    access = iota // anyone
	loggedIn                // a ready session
	inStage                 // a session at the route's stage
	notLogged               // login pages: a ready session goes home
)

type route struct {
	pattern string
	access  access
	stage   stage // for inStage
	html    bool  // counts as a page load
	handle  func(w http.ResponseWriter, r *http.Request, s *session)
}

func (p *Portal) add(rt route) {
	p.mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) {
		p.serve(rt, w, r)
	})
}

func (p *Portal) serve(rt route, w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	now := p.now()
	f := p.faults
	delay := p.latency + f.SlowPage
	if rt.html {
		p.stats.PageLoads++
		p.stats.PageLoadsByRoute[rt.pattern]++
		if p.expireAt == 0 {
			p.expireAllLocked()
		} else if p.expireAt > 0 {
			p.expireAt--
		}
	}
	fail := false
	if !f.Maintenance {
		if p.faults.Error500Next > 0 {
			p.faults.Error500Next--
			fail = true
		}
		if f.Error500Path != "" && pathMatches(f.Error500Path, r.URL.Path) {
			fail = true
		}
	}
	if f.Maintenance || fail {
		p.stats.FaultsServed++
	}
	p.mu.Unlock()

	p.sleep(r.Context(), delay)
	if f.Maintenance {
		p.renderMaintenance(w, f.RetryAfter)
		return
	}
	if fail {
		p.renderStatus(w, http.StatusInternalServerError)
		return
	}

	p.mu.Lock()
	s, hadCookie := p.lookupSession(r, now)
	redirect := ""
	switch rt.access {
	case loggedIn, inStage:
		want := rt.stage // a logged-in page wants a fully logged-in session
		if rt.access == loggedIn {
			want = stageReady
		}
		switch {
		case s == nil && hadCookie:
			redirect = p.loginPath() + "?expired=1"
		case s == nil:
			redirect = p.loginPath()
		case s.stage != want:
			redirect = p.stagePath(s.stage)
		}
	case notLogged:
		if s != nil && s.stage == stageReady {
			redirect = p.homePath()
		}
	}
	p.mu.Unlock()
	if redirect != "" {
		http.Redirect(w, r, redirect, http.StatusSeeOther)
		return
	}
	rt.handle(w, r, s)
}

// pathMatches matches an exact path, or a prefix when pattern ends in "/".
func pathMatches(pattern, path string) bool {
	if strings.HasSuffix(pattern, "/") {
		return strings.HasPrefix(path, pattern)
	}
	return pattern == path
}

// expireAllLocked ends every session. p.mu must be held.
func (p *Portal) expireAllLocked() {
	clear(p.sessions)
	p.expireAt = -1
	p.faults.ExpireSessionsAfter = 0
}

// ExpireSessions ends every session now; the next page of each client
// redirects to the login page with the "session expired" banner.
func (p *Portal) ExpireSessions() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireAllLocked()
}

// ---- rendering ----

// page is what every template gets.
type page struct {
	Title    string
	LoggedIn bool
	CSRF     string
	Variant  bool // Faults.LayoutVariant
	Error    string
	Notice   string
	D        any // page-specific data
}

// newPage fills the common fields. p.mu must be held.
func (p *Portal) newPage(title string, s *session, d any) *page {
	pg := &page{Title: title, Variant: p.faults.LayoutVariant, D: d}
	if s != nil && s.stage == stageReady {
		pg.LoggedIn = true
	}
	if s != nil {
		pg.CSRF = s.csrf
	}
	return pg
}

func (p *Portal) render(w http.ResponseWriter, status int, name string, pg *page) {
	t := p.pages[name]
	if t == nil {
		p.log.Error("render: unknown page", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", pg); err != nil {
		p.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// show renders page name, titled title, with data d for session s (nil
// before login); it takes p.mu to build the page.
func (p *Portal) show(w http.ResponseWriter, status int, name, title string, s *session, d any) {
	p.mu.Lock()
	pg := p.newPage(title, s, d)
	p.mu.Unlock()
	p.render(w, status, name, pg)
}

// showState is show (200 OK) of data read from the portal's state: data
// runs under p.mu.
func (p *Portal) showState(w http.ResponseWriter, name, title string, s *session, data func() any) {
	p.mu.Lock()
	pg := p.newPage(title, s, data())
	p.mu.Unlock()
	p.render(w, http.StatusOK, name, pg)
}

// refuseLocked renders page name again with the error code shown (a wrong
// token, password or code). p.mu must be held.
func (p *Portal) refuseLocked(w http.ResponseWriter, status int, name, title string, s *session, d any, code string) {
	pg := p.newPage(title, s, d)
	pg.Error = code
	p.renderLocked(w, status, name, pg)
}

func (p *Portal) renderStatus(w http.ResponseWriter, status int) {
	p.show(w, status, "error.html", http.StatusText(status), nil, struct{ Code int }{status})
}

func (p *Portal) renderMaintenance(w http.ResponseWriter, retryAfter time.Duration) {
	if retryAfter <= 0 {
		retryAfter = defaultRetryAfter
	}
	secs := int(retryAfter / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	p.show(w, http.StatusServiceUnavailable, "maintenance.html", "Scheduled maintenance", nil, struct{ Minutes int }{(secs + 59) / 60})
}

func (p *Portal) notFound(w http.ResponseWriter, _ *http.Request, _ *session) {
	p.renderStatus(w, http.StatusNotFound)
}
