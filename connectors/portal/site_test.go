package portal

import (
	"fmt"

	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// The test site's credentials.
const (
	siteUser     = "provider1"
	sitePassword = "p@ss word&1" // needs URL-encoding in a form post
	siteSeed     = "JBSWY3DPEHPK3PXP"
)

// site is a small portal for step tests: static pages from testdata/site
// and a few dynamic ones. It records what the browser posted.
type site struct {
	now func() time.Time

	mu       sync.Mutex
	posted   map[string][]string
	files    map[string]string // name -> content
	sessions map[string]bool
	logins   int
	codes    []string
}

func newSite(t *testing.T, now func() time.Time) (*site, *httptest.Server) {
	t.Helper()
	s := &site{now: now, sessions: map[string]bool{}}
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServer(http.Dir("testdata/site")))
	mux.HandleFunc("POST /echo", s.echo)
	mux.HandleFunc("GET /alt", s.alt)
	mux.HandleFunc("GET /gone", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<div id="spinner">Loading…</div><div id="content">ready</div>
<script>setTimeout(() => document.getElementById('spinner').remove(), 150)</script>`)
	})
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.loginPost)
	mux.HandleFunc("GET /mfa", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<form id="mfa-form" method="post" action="/mfa"><input type="text" id="code" name="code"><button id="verify">Verify</button></form>`)
	})
	mux.HandleFunc("POST /mfa", s.mfaPost)
	mux.HandleFunc("GET /home", func(w http.ResponseWriter, r *http.Request) {
		if !s.loggedIn(r) {
			http.Redirect(w, r, "/login?expired=1", http.StatusSeeOther)
			return
		}
		page(w, `<h1 id="dashboard">Welcome</h1><a id="letter" href="/letter.pdf">Letter</a>`)
	})
	mux.HandleFunc("GET /letter.pdf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", `attachment; filename="Determination_SHP-1.pdf"`)
		_, _ = io.WriteString(w, "%PDF-1.4\n% test letter\n%%EOF\n")
	})
	mux.HandleFunc("GET /down", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "600")
		w.WriteHeader(http.StatusServiceUnavailable)
		page(w, `<h1 id="oops">Service unavailable</h1>`)
	})
	mux.HandleFunc("GET /maint", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<h1>Scheduled maintenance</h1><p>We will be back soon.</p>`)
	})
	release := make(chan struct{})
	mux.HandleFunc("GET /hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: frees /hang
	return s, srv
}

func page(w http.ResponseWriter, body string) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	_, _ = fmt.Fprintf(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>t</title></head><body>%s</body></html>", body)
}

func (s *site) echo(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(10 << 20); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.posted = r.MultipartForm.Value
	s.files = map[string]string{}
	for _, fh := range r.MultipartForm.File["docs"] {
		f, err := fh.Open()
		if err == nil {
			b, _ := io.ReadAll(f)
			_ = f.Close()
			s.files[fh.Filename] = string(b)
		}
	}
	s.mu.Unlock()
	page(w, `<h1 id="received">Received</h1><p id="confirmation">Your reference is <b>REF-12345</b>.</p>`)
}

// fragments are what /alt?show= inserts after a short delay.
var fragments = map[string]string{
	"mfa":       `<form id="mfa"><input type="text" id="code"></form>`,
	"dashboard": `<div id="dashboard">Welcome</div>`,
	"error":     `<div class="alert-error">The password is wrong.</div>`,
	"captcha":   `<p>Please verify you are human</p>`,
	"nothing":   `<p id="nothing">Nothing here</p>`,
	// A hidden error banner must not win over the visible dashboard.
	"hidden-error": `<div class="alert-error" style="display:none">hidden</div><div id="dashboard">Welcome</div>`,
}

func (s *site) alt(w http.ResponseWriter, r *http.Request) {
	frag := fragments[r.URL.Query().Get("show")]
	page(w, fmt.Sprintf(`<h1>Please wait</h1><script>setTimeout(() => document.body.insertAdjacentHTML('beforeend', %q), 100)</script>`, frag))
}

func (s *site) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.loggedIn(r) {
		http.Redirect(w, r, "/home", http.StatusSeeOther)
		return
	}
	banner := ""
	if r.URL.Query().Get("expired") == "1" {
		banner = `<p id="expired">Your session has expired.</p>`
	}
	if r.URL.Query().Get("error") == "1" {
		banner = `<p class="alert-error" id="login-error">Wrong username or password.</p>`
	}
	page(w, banner+`<form id="login-form" method="post" action="/login">
<input type="text" id="username" name="username"><input type="password" id="password" name="password">
<button id="sign-in">Sign in</button></form>`)
}

func (s *site) loginPost(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("username") != siteUser || r.FormValue("password") != sitePassword {
		http.Redirect(w, r, "/login?error=1", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/mfa", http.StatusSeeOther)
}

func (s *site) mfaPost(w http.ResponseWriter, r *http.Request) {
	code := r.FormValue("code")
	ok, _ := totp.ValidateCustom(code, siteSeed, s.now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	s.mu.Lock()
	s.codes = append(s.codes, code)
	s.mu.Unlock()
	if !ok {
		page(w, `<p class="alert-error" id="mfa-error">Wrong code</p>`)
		return
	}
	id := fmt.Sprintf("sess-%d", time.Now().UnixNano())
	s.mu.Lock()
	s.sessions[id] = true
	s.logins++
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "sid", Value: id, Path: "/", HttpOnly: true})
	http.Redirect(w, r, "/home", http.StatusSeeOther)
}

func (s *site) loggedIn(r *http.Request) bool {
	c, err := r.Cookie("sid")
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[c.Value]
}

func (s *site) expireAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]bool{}
}

func (s *site) received() (map[string][]string, map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posted, s.files
}
