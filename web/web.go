// Package web is the coordinators' workspace: server-rendered pages
// (html/template, embedded assets, readable without JavaScript) that the
// daemon serves beside the API on server.listen. People sign in with local
// accounts (store.User); every page that shows a case's PHI is written to
// the access log first.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// People is the account, session and token store (*store.Store).
type People interface {
	AddUser(ctx context.Context, u store.User) error
	User(ctx context.Context, name string) (store.User, error)
	Users(ctx context.Context) ([]store.User, error)
	SetLogin(ctx context.Context, name string, failures int, lockedUntil time.Time) error
	CreateSession(ctx context.Context, idHash string, sess store.Session) error
	Session(ctx context.Context, idHash string) (store.Session, error)
	TouchSession(ctx context.Context, idHash string, t time.Time) error
	DeleteSession(ctx context.Context, idHash string) error
	UseTOTPStep(ctx context.Context, name string, step int64) (bool, error)
}

// Pages reads a page of the worklist, keeps who took which case and
// lists the missed deadlines for the reports (*store.Store).
type Pages interface {
	MissedDeadlines(ctx context.Context, since time.Time) ([]authpilot.Alert, error)
	WorklistPage(ctx context.Context, f authpilot.CaseFilter, offset, limit int) ([]*authpilot.Case, int, error)
	Assign(ctx context.Context, caseID, user, by string) error
	Assignee(ctx context.Context, caseID string) (string, error)
}

// Options tune the workspace; zero fields take the config's or the
// defaults.
type Options struct {
	// Now is the clock of sessions and lockouts (default the agent's).
	Now func() time.Time
	// IdleTimeout signs a session out after this long without a request
	// (default server.idle_timeout).
	IdleTimeout time.Duration
	// Lockout is the sign-in back-off (default DefaultLockout).
	Lockout Lockout
	// Extensions add pages (default the registered ones, see Register).
	Extensions []Extension
}

// Site is the workspace.
type Site struct {
	a       *agent.Agent
	st      authpilot.Store
	secrets authpilot.Secrets
	people  People
	pages   Pages
	sinks   Sinks
	actions *agent.Actions
	cfg     *config.Config
	log     *slog.Logger
	now     func() time.Time
	idle    time.Duration
	lockout Lockout
	secure  bool
	base    *template.Template
	tmpls   map[string]*template.Template
	exts    []Extension
	// signins serializes sign-in attempts per account, so that
	// concurrent guesses cannot race past the failure count; sign-ins
	// to other accounts do not wait.
	signins accountLocks
}

// Workspace is the agent.Options.Workspace hook: the workspace of the
// agent with opts.
func Workspace(opts Options) func(*agent.Agent) (http.Handler, error) {
	return func(a *agent.Agent) (http.Handler, error) {
		s, err := New(a, opts)
		if err != nil {
			return nil, err
		}
		return s.Handler(), nil
	}
}

// New builds the workspace of agent a.
func New(a *agent.Agent, opts Options) (*Site, error) {
	people, ok := a.Store().(People)
	if !ok {
		return nil, errors.New("the store keeps no accounts (the workspace needs the SQLite store)")
	}
	pages, ok := a.Store().(Pages)
	if !ok {
		return nil, errors.New("the store cannot page the worklist (the workspace needs the SQLite store)")
	}
	sinks, ok := a.Store().(Sinks)
	if !ok {
		return nil, errors.New("the store keeps no sink state (the workspace needs the SQLite store)")
	}
	cfg := a.Config()
	s := &Site{a: a, st: a.Store(), secrets: a.Secrets(), people: people, pages: pages, sinks: sinks, actions: a.Actions(), cfg: cfg, log: a.Logger().With("component", "web"),
		now: opts.Now, idle: opts.IdleTimeout, lockout: opts.Lockout, exts: opts.Extensions}
	if s.now == nil {
		s.now = a.Now
	}
	if s.idle <= 0 {
		s.idle = cfg.Server.IdleTimeout.Std()
	}
	if s.idle <= 0 {
		s.idle = 15 * time.Minute
	}
	if s.lockout.After == 0 {
		s.lockout = DefaultLockout
	}
	if s.exts == nil {
		s.exts = registered()
	}
	s.secure = cfg.Server.TLS.Enabled() || strings.HasPrefix(cfg.Server.ExternalURL, "https:")
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	return s, nil
}

// funcs are the templates' functions; times are shown in the practice's
// zone.
func funcs(loc *time.Location) template.FuncMap {
	return template.FuncMap{
		"date":     func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04 MST") },
		"day":      func(t time.Time) string { return t.In(loc).Format("Mon 2 Jan 2006") },
		"humanize": func(s any) string { return strings.ReplaceAll(fmt.Sprint(s), "_", " ") },
		"add":      func(a, b int) int { return a + b },
		"mul":      func(a, b int) int { return a * b },
		"of":       Of,
		// hours shows a turnaround: hours under two days, else days.
		"hours": func(d time.Duration) string {
			switch {
			case d < 0:
				return "—"
			case d < 48*time.Hour:
				return fmt.Sprintf("%.0f h", d.Hours())
			}
			return fmt.Sprintf("%.1f d", d.Hours()/24)
		},
		// bar is d's share of most, in a bar of width px (at least 1).
		"bar": func(d, most time.Duration, width int) int {
			if most <= 0 {
				return 1
			}
			return max(1, int(float64(width)*float64(d)/float64(most)))
		},
	}
}

// parseTemplates parses the layout and each page; a page's template
// defines "title" and "content".
func (s *Site) parseTemplates() error {
	base, err := template.New("layout.html").Funcs(funcs(s.cfg.Location())).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return fmt.Errorf("parse layout: %w", err)
	}
	s.base = base
	s.tmpls = map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := s.Templates(templateFS, n)
		if err != nil {
			return err
		}
		s.tmpls[name] = t
	}
	return nil
}

// Templates returns the layout with the templates of fsys that patterns
// name added: each page defines "title" and "content" (and may define
// "head"). Extensions render their pages with it and Render.
func (s *Site) Templates(fsys fs.FS, patterns ...string) (*template.Template, error) {
	t, err := s.base.Clone()
	if err != nil {
		return nil, err
	}
	t, err = t.ParseFS(fsys, patterns...)
	if err != nil {
		return nil, fmt.Errorf("parse templates %s: %w", strings.Join(patterns, ", "), err)
	}
	return t, nil
}

// Agent is the daemon the workspace belongs to (extensions reach its
// parts through it, e.g. the hand-off broker).
func (s *Site) Agent() *agent.Agent { return s.a }

// Page is what the layout renders: the signed-in person, the page's data
// and a flash message.
type Page struct {
	User  *store.User
	Data  any
	Flash string
	Error string
	Path  string
	Nav   []NavLink
}

// NavLink is a link in the workspace's menu.
type NavLink struct{ Href, Label string }

// Render writes t's layout with data for the signed-in person, status
// code.
func (s *Site) Render(w http.ResponseWriter, r *http.Request, code int, t *template.Template, data any) {
	p := Page{Data: data, Path: r.URL.Path, Flash: r.URL.Query().Get("flash")}
	if u, ok := UserOf(r); ok {
		p.User = &u
		p.Nav = s.nav(u)
	}
	if e, ok := data.(errorPage); ok {
		p.Error = e.Message
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout.html", p); err != nil {
		s.log.Error("render page failed", "path", r.URL.Path, "err", err)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(b.String()))
}

func (s *Site) nav(u store.User) []NavLink {
	links := []NavLink{{"/", "Worklist"}, {"/reports", "Reports"}}
	for _, e := range s.exts {
		links = append(links, e.Nav...)
	}
	if u.Role.AtLeast(store.RoleAdmin) {
		links = append(links, NavLink{"/admin/health", "Health"}, NavLink{"/admin/users", "People"}, NavLink{"/admin/access", "Access log"})
	}
	return links
}

func (s *Site) page(name string) *template.Template { return s.tmpls[name] }

type errorPage struct{ Message string }

// Fail renders an error page with code and message (no PHI in message).
func (s *Site) Fail(w http.ResponseWriter, r *http.Request, code int, message string) {
	s.Render(w, r, code, s.page("error"), errorPage{Message: message})
}

// failCase answers a failed read or change of the case the request names
// (its {id}) and reports whether there was one, so the handler returns:
// 404 with notFound when the store has no such case or record, else the
// error is logged as logMsg and answered 500 with msg.
func (s *Site) failCase(w http.ResponseWriter, r *http.Request, err error, notFound, logMsg, msg string) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, authpilot.ErrNotFound):
		s.Fail(w, r, http.StatusNotFound, notFound)
	default:
		s.log.Error(logMsg, "case", r.PathValue("id"), "err", err)
		s.Fail(w, r, http.StatusInternalServerError, msg)
	}
	return true
}

// Handler returns the workspace's routes behind its security headers,
// cross-origin protection and sessions.
func (s *Site) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /signin", s.signinPage)
	mux.HandleFunc("POST /signin", s.signin)
	mux.Handle("POST /signout", s.need(store.RoleViewer, s.signout))
	mux.Handle("GET /{$}", s.need(store.RoleViewer, s.worklist))
	mux.Handle("GET /cases/{id}", s.need(store.RoleViewer, s.casePage))
	mux.Handle("GET /cases/{id}/documents/{sha256}", s.need(store.RoleViewer, s.document))
	mux.Handle("GET /cases/{id}/recordings/{recording}/screenshot", s.need(store.RoleViewer, s.recordingScreenshot))
	mux.Handle("POST /cases/{id}/actions/{name}", s.need(store.RoleCoordinator, s.caseAction))
	mux.Handle("POST /cases/{id}/assign", s.need(store.RoleCoordinator, s.assign))
	mux.Handle("GET /admin/access", s.need(store.RoleAdmin, s.accessLog))
	mux.Handle("GET /admin/access.csv", s.need(store.RoleAdmin, s.accessLogCSV))
	mux.Handle("GET /admin/users", s.need(store.RoleAdmin, s.usersPage))
	mux.Handle("GET /admin/health", s.need(store.RoleAdmin, s.healthPage))
	mux.Handle("POST /admin/sinks/{sink}/enable", s.need(store.RoleAdmin, s.enableSink))
	mux.Handle("POST /admin/connectors/{id}/resume", s.need(store.RoleAdmin, s.resumeConnector))
	mux.Handle("GET /admin/connectors/{id}/recordings/{recording}/screenshot", s.need(store.RoleAdmin, s.connectorScreenshot))
	mux.Handle("GET /episodes/{episode}", s.need(store.RoleViewer, s.episodePage))
	mux.Handle("GET /reports", s.need(store.RoleViewer, s.reportsPage))
	mux.Handle("GET /reports.csv", s.need(store.RoleViewer, s.reportsCSV))
	for _, e := range s.exts {
		if e.Routes == nil {
			continue
		}
		for _, rt := range e.Routes(s) {
			mux.Handle(rt.Pattern, s.need(rt.Role, rt.Handler))
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { s.Fail(w, r, http.StatusNotFound, "No such page.") })

	cop := http.NewCrossOriginProtection()
	if u, err := url.Parse(s.cfg.Server.ExternalURL); err == nil && u.Host != "" {
		_ = cop.AddTrustedOrigin(u.Scheme + "://" + u.Host)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Fail(w, r, http.StatusForbidden, "This form was sent from another site and was refused.")
	}))
	return headers(cop.Handler(s.sessions(mux)))
}

// csp allows scripts, styles and images from the workspace only: no
// inline script, no other site, no framing.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'self'; " +
	"frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"

func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "SAMEORIGIN")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			// Pages carry PHI: no copy in a shared browser's cache.
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}
