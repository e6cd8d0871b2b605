package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"
	"github.com/go-rod/rod/lib/utils"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
)

// Interface guards.
var (
	_ connectors.Connector    = (*Connector)(nil)
	_ connectors.Session      = (*Session)(nil)
	_ connectors.StreamPoller = (*Session)(nil)
	_ connectors.LoginReuser  = (*Session)(nil)
	_ connectors.Responder    = (*Session)(nil)
	_ connectors.Withdrawer   = (*Session)(nil)
	_ connectors.Options      = (*Options)(nil)
)

// maxRelogins bounds re-logins in one visit, so a portal that ends every
// session at once cannot make the agent log in over and over.
const maxRelogins = 3

// Connector is one configured portal. It is safe for concurrent use; each
// Open starts an independent visit.
type Connector struct {
	id   string
	opts *Options
	env  connectors.Env
	log  *slog.Logger
	now  func() time.Time
	// browser is the process's browser (Env.Resource) or, when Env
	// carried none, the connector's own, which Close closes.
	browser    *Browser
	ownBrowser bool
	// pages bounds the browser pages open at once for this portal.
	pages chan struct{}

	mu      sync.Mutex
	cookies []*proto.NetworkCookie
	// updated remembers each request's last seen "updated" list value, so
	// an unchanged row is not opened again while the process runs.
	updated map[string]string
	// lastPages is how many list pages the last poll read (page_url).
	lastPages int
	// kept is the last visit's browser context and tab, kept blank for the
	// next visit (session.keep_cookies): opening a tab costs a fifth of a
	// second of Chromium's time.
	kept *keptTab
}

// keptTab is a visit's incognito context and its blank tab between visits.
type keptTab struct {
	host    *Browser
	gen     int
	context *rod.Browser
	page    *rod.Page
}

func (k *keptTab) close() {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = k.page.Context(ctx).Close()
	_ = k.context.Context(ctx).Close()
}

// alive reports whether the kept tab still answers (its renderer may
// have gone since the last visit).
func (k *keptTab) alive(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	_, err := k.page.Context(ctx).Eval(`() => 1`)
	return err == nil
}

// takeKept returns the kept tab if it belongs to the running browser of
// generation gen; a stale one is closed.
func (c *Connector) takeKept(h *Browser, gen int) *keptTab {
	c.mu.Lock()
	k := c.kept
	c.kept = nil
	c.mu.Unlock()
	if k == nil {
		return nil
	}
	if k.host != h || k.gen != gen {
		k.close()
		return nil
	}
	return k
}

// New builds the connector. It does no I/O: the browser starts on the first
// Open.
func (o *Options) New(env connectors.Env) (connectors.Connector, error) {
	if len(o.Secrets) > 0 && env.Secrets == nil {
		return nil, fmt.Errorf("portal connector %q: the secrets section needs a keyring", env.ID)
	}
	// The connector's own copy carries the practice's zone.
	own := *o
	own.practiceZone = env.Location
	if env.Pages > 0 && env.Pages < own.Limits.Pages {
		// The connector's limits.pages in authpilot.yaml caps the flow's.
		own.Limits.Pages = env.Pages
	}
	c := &Connector{
		id:      env.ID,
		opts:    &own,
		env:     env,
		log:     env.Logger,
		now:     env.Now,
		pages:   make(chan struct{}, own.Limits.Pages),
		updated: map[string]string{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("connector", env.ID)
	if c.now == nil {
		c.now = time.Now
	}
	switch r := env.Resource.(type) {
	case nil:
		c.browser = NewBrowser(BrowserOptions{RecycleAfter: DefaultRecycleAfter}, c.log.With("component", "browser"))
		c.ownBrowser = true
	case *Browser:
		c.browser = r
	default:
		return nil, fmt.Errorf("portal connector %q: the shared resource is a %T, not a *portal.Browser", env.ID, env.Resource)
	}
	return c, nil
}

// Capabilities reports the flows the config defines.
func (c *Connector) Capabilities() connectors.Capabilities {
	return connectors.Capabilities{Submit: c.opts.Submit != nil, Poll: c.opts.Poll != nil, Find: c.opts.Find != nil,
		Respond: c.opts.Respond != nil, Withdraw: c.opts.Withdraw != nil}
}

// Close releases the connector (and its kept tab). The process's browser
// is closed by whoever provided it (the agent).
func (c *Connector) Close() error {
	if k := c.takeKept(nil, -1); k != nil {
		k.close()
	}
	if c.ownBrowser {
		return c.browser.Close()
	}
	return nil
}

func (c *Connector) host() (*Browser, error) { return c.browser, nil }

// Open starts a visit: an incognito browser context with the kept cookies,
// one page, and one login.
func (c *Connector) Open(ctx context.Context, rec connectors.Recorder) (connectors.Session, error) {
	if rec == nil {
		rec = nopRecorder{}
	}
	h, err := c.host()
	if err != nil {
		return nil, err
	}
	b, gen, err := h.acquire(ctx)
	if err != nil {
		class := authpilot.ErrRetryable
		if errors.Is(err, errNoChromium) {
			class = authpilot.ErrNeedsHuman
		}
		return nil, &authpilot.Error{Class: class, Step: "open", Msg: "start browser", Err: err}
	}
	kept := c.takeKept(h, gen)
	if kept != nil && !kept.alive(ctx) {
		kept.close()
		kept = nil
	}
	var inc *rod.Browser
	if kept != nil {
		inc = kept.context
	} else if inc, err = b.Incognito(); err != nil {
		if isConnClosed(err) {
			h.markDead(gen)
		}
		h.release()
		return nil, &authpilot.Error{Class: authpilot.ErrRetryable, Step: "open", Msg: "create browser context", Err: err}
	}
	s := &Session{
		c:       c,
		rec:     &lockedRecorder{r: rec},
		log:     c.log.With("recording", rec.ID()),
		host:    h,
		gen:     gen,
		browser: inc,
	}
	s.redactSecrets()
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()
	var slot *pageSlot
	if kept != nil {
		// The kept context still has the cookies of the last visit.
		slot, err = s.adoptPage(ctx, kept.page)
	} else {
		if c.opts.Session.KeepCookies {
			c.mu.Lock()
			cookies := c.cookies
			c.mu.Unlock()
			if len(cookies) > 0 {
				if err := inc.SetCookies(proto.CookiesToParams(cookies)); err != nil {
					return nil, s.browserErr("open", "restore cookies", err)
				}
			}
		}
		slot, err = s.acquirePage(ctx, true)
	}
	if err != nil {
		return nil, err
	}
	s.main = slot
	if c.opts.Login != nil {
		if err := s.login(ctx, slot); err != nil {
			s.putPage(slot)
			return nil, err
		}
	}
	s.reused = s.secretReads.Load() == 0
	s.putPage(slot)
	ok = true
	c.log.Info("portal visit opened", "pages", cap(c.pages))
	return s, nil
}

// ReusedLogin reports whether the visit's login flow used no credential:
// the kept session was still alive (connectors.LoginReuser).
func (s *Session) ReusedLogin() bool { return s.reused }

// Session is one logged-in visit. Its methods are called one at a time;
// Poll may use several pages of the same browser context at once.
type Session struct {
	c       *Connector
	rec     *lockedRecorder
	log     *slog.Logger
	host    *Browser
	gen     int
	browser *rod.Browser // the visit's incognito context

	mu     sync.Mutex
	main   *pageSlot
	idle   []*pageSlot
	all    []*pageSlot
	closed bool
	tmpDir string

	loginMu  sync.Mutex
	loginGen int
	relogins int
	logins   int

	// secretReads counts reads of the connector's secrets: a login flow
	// that read none reused a live session (kept cookies).
	secretReads atomic.Int64
	reused      bool

	dlMu   sync.Mutex
	netSeq atomic.Int64
	// docSeq names fetch-mode documents.
	docSeq atomic.Int64
}

type pageSlot struct {
	page *rod.Page
	stop func()
	// doc is the last main-frame document response's Retry-After, as
	// sent (maintenance pages say when to come back).
	doc atomic.Pointer[docResponse]
}

type docResponse struct {
	status     int
	retryAfter string
}

// retryAfter is how long the page's last document asked us to stay away.
func (p *pageSlot) retryAfter(now time.Time) time.Duration {
	d := p.doc.Load()
	if d == nil {
		return 0
	}
	v, _ := connectors.ParseRetryAfter(d.retryAfter, now)
	return v
}

// pageSleeper polls for elements quickly at first, then every 250ms.
func pageSleeper() utils.Sleeper {
	return utils.BackoffSleeper(25*time.Millisecond, 250*time.Millisecond, nil)
}

// take acquires a slot of a page semaphore (nil: unbounded). With block
// false it gives up at once when the semaphore is full.
func take(ctx context.Context, sem chan struct{}, block bool) (bool, error) {
	if sem == nil {
		return true, nil
	}
	if !block {
		select {
		case sem <- struct{}{}:
			return true, nil
		default:
			return false, nil
		}
	}
	select {
	case sem <- struct{}{}:
		return true, nil
	case <-ctx.Done():
		return false, &authpilot.Error{Class: authpilot.ErrRetryable, Step: "open", Msg: "waiting for a free browser page", Err: ctx.Err()}
	}
}

func give(sem chan struct{}) {
	if sem != nil {
		<-sem
	}
}

// acquirePage opens a new page, counting it against the connector's
// limits.pages and the browser's max pages. With block false it gives up at
// once when a limit is reached.
func (s *Session) acquirePage(ctx context.Context, block bool) (*pageSlot, error) {
	if ok, err := take(ctx, s.c.pages, block); !ok {
		return nil, err
	}
	if ok, err := take(ctx, s.host.pages, block); !ok {
		give(s.c.pages)
		return nil, err
	}
	// Each page gets its own window: a background tab gets no animation
	// frames, and rod's clicks and typing wait for them.
	p, err := s.browser.Page(proto.TargetCreateTarget{NewWindow: true})
	if err != nil {
		give(s.host.pages)
		give(s.c.pages)
		return nil, s.browserErr("open", "create page", err)
	}
	return s.addSlot(p), nil
}

// adoptPage takes the kept tab into the visit, counted against the limits
// like a new one.
func (s *Session) adoptPage(ctx context.Context, p *rod.Page) (*pageSlot, error) {
	if _, err := take(ctx, s.c.pages, true); err != nil {
		_ = p.Close()
		return nil, err
	}
	if _, err := take(ctx, s.host.pages, true); err != nil {
		give(s.c.pages)
		_ = p.Close()
		return nil, err
	}
	return s.addSlot(p), nil
}

// addSlot records the visit's network exchanges on p and makes it a page
// of the visit.
func (s *Session) addSlot(p *rod.Page) *pageSlot {
	p = p.Sleeper(pageSleeper)
	slot := &pageSlot{page: p}
	slot.stop = capture(p, &s.netSeq, func(name string, data []byte) {
		s.rec.Attach("network", name, "application/json", data)
	}, func(status int, h http.Header) {
		slot.doc.Store(&docResponse{status: status, retryAfter: h.Get("Retry-After")})
	})
	s.mu.Lock()
	s.all = append(s.all, slot)
	s.mu.Unlock()
	return slot
}

// takePage returns an idle page of the visit, or nil.
func (s *Session) takePage() *pageSlot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.idle); n > 0 {
		p := s.idle[n-1]
		s.idle = s.idle[:n-1]
		return p
	}
	return nil
}

func (s *Session) putPage(p *pageSlot) {
	if p == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idle = append(s.idle, p)
}

// page returns an idle page or opens one (blocking on limits.pages).
func (s *Session) page(ctx context.Context) (*pageSlot, error) {
	if p := s.takePage(); p != nil {
		return p, nil
	}
	return s.acquirePage(ctx, true)
}

// browserErr classifies a browser-level failure: a dead browser is
// relaunched on the next visit; everything here is retryable.
func (s *Session) browserErr(step, msg string, err error) error {
	if isConnClosed(err) {
		s.host.markDead(s.gen)
	}
	return &authpilot.Error{Class: authpilot.ErrRetryable, Step: step, Msg: msg, Err: err}
}

// Close keeps the cookies (if configured), closes the pages and the
// incognito context, and releases the browser.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	pages := s.all
	s.all, s.idle = nil, nil
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	var errs []error
	s.loginMu.Lock()
	loggedIn := s.logins > 0
	s.loginMu.Unlock()
	if s.c.opts.Session.KeepCookies && loggedIn {
		if cookies, err := s.browser.Context(ctx).GetCookies(); err == nil {
			s.c.mu.Lock()
			s.c.cookies = cookies
			s.c.mu.Unlock()
		}
	}
	for _, p := range pages {
		p.stop()
	}
	// Nothing reaches the run's recorder after Close.
	s.rec.close()
	// With kept cookies the context and the main tab stay for the next
	// visit, blank (no page of the portal, no fetched document in memory).
	var keep *pageSlot
	if s.c.opts.Session.KeepCookies && loggedIn && s.main != nil {
		if err := s.main.page.Context(ctx).Navigate("about:blank"); err == nil {
			keep = s.main
		}
	}
	for _, p := range pages {
		if p != keep {
			_ = p.page.Context(ctx).Close()
		}
		give(s.host.pages)
		give(s.c.pages)
	}
	if keep != nil {
		s.c.mu.Lock()
		prev := s.c.kept
		s.c.kept = &keptTab{host: s.host, gen: s.gen, context: s.browser, page: keep.page}
		s.c.mu.Unlock()
		if prev != nil {
			prev.close()
		}
	} else if err := s.browser.Context(ctx).Close(); err != nil && !isConnClosed(err) {
		errs = append(errs, fmt.Errorf("close browser context: %w", err))
	}
	s.host.release()
	if s.tmpDir != "" {
		if err := os.RemoveAll(s.tmpDir); err != nil {
			errs = append(errs, fmt.Errorf("remove temporary files: %w", err))
		}
	}
	return errors.Join(errs...)
}

// workDir returns the visit's private directory for uploads and downloads
// (they hold PHI: removed on Close).
func (s *Session) workDir() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tmpDir != "" {
		return s.tmpDir, nil
	}
	base := ""
	if s.c.env.DataDir != "" {
		base = filepath.Join(s.c.env.DataDir, "tmp")
		if err := os.MkdirAll(base, 0o700); err != nil {
			return "", fmt.Errorf("create work directory: %w", err)
		}
	}
	dir, err := os.MkdirTemp(base, "portal-")
	if err != nil {
		return "", fmt.Errorf("create work directory: %w", err)
	}
	s.tmpDir = dir
	return dir, nil
}

// secret fetches a role's value from the keyring and registers it (and its
// URL-encoded forms, which appear in recorded form posts) for redaction.
func (s *Session) secret(role string) (string, error) {
	s.secretReads.Add(1)
	name, ok := s.c.opts.Secrets[role]
	if !ok {
		return "", &authpilot.Error{Class: authpilot.ErrNeedsHuman, Msg: fmt.Sprintf("secret %q is not in the secrets section", role)}
	}
	if s.c.env.Secrets == nil {
		return "", &authpilot.Error{Class: authpilot.ErrNeedsHuman, Msg: "no keyring configured"}
	}
	v, err := s.c.env.Secrets.Get(name)
	if err != nil {
		if errors.Is(err, authpilot.ErrSecretNotFound) {
			return "", &authpilot.Error{Class: authpilot.ErrNeedsHuman,
				Msg: fmt.Sprintf("keyring item %q (secret %q) is missing: run authpilot secrets set %s", name, role, name)}
		}
		return "", &authpilot.Error{Class: authpilot.ErrRetryable, Msg: fmt.Sprintf("read keyring item %q", name), Err: err}
	}
	if v != "" {
		s.rec.Redact(v, url.QueryEscape(v), url.PathEscape(v))
	}
	return v, nil
}

// redactSecrets registers every secret of the connector with the visit's
// recording before anything is recorded: a visit that reuses a logged-in
// session reads none of them, yet its pages may show one (the portal
// username on the dashboard). A secret that cannot be read is skipped
// here; the step that needs it reports the error.
func (s *Session) redactSecrets() {
	if s.c.env.Secrets == nil {
		return
	}
	for _, name := range s.c.opts.Secrets {
		if v, err := s.c.env.Secrets.Get(name); err == nil && v != "" {
			s.rec.Redact(v, url.QueryEscape(v), url.PathEscape(v))
		}
	}
}

// login runs the login flow on slot's page.
func (s *Session) login(ctx context.Context, slot *pageSlot) error {
	r := s.newRunner(slot, &tmplData{Vars: map[string]any{}}, "login")
	r.inLogin = true
	err := r.runFlow(ctx, s.c.opts.Login.Steps)
	s.loginMu.Lock()
	if err == nil {
		s.logins++
		s.loginGen++
	}
	s.loginMu.Unlock()
	if err != nil {
		s.log.Warn("portal login failed", "err", err)
		return err
	}
	return nil
}

// relogin logs in again after a page showed an expired session, unless
// another page of the visit already did since gen. Concurrent callers wait
// for the one login in progress.
func (s *Session) relogin(ctx context.Context, slot *pageSlot, gen int) error {
	s.loginMu.Lock()
	defer s.loginMu.Unlock()
	if s.loginGen != gen {
		return nil
	}
	if s.relogins >= maxRelogins {
		return &authpilot.Error{Class: authpilot.ErrRetryable, Step: "login", Msg: "session expired again after re-login"}
	}
	s.relogins++
	s.log.Warn("portal session expired, logging in again")
	r := s.newRunner(slot, &tmplData{Vars: map[string]any{}}, "login")
	r.inLogin = true
	if err := r.runFlow(ctx, s.c.opts.Login.Steps); err != nil {
		return err
	}
	s.logins++
	s.loginGen++
	return nil
}

func (s *Session) currentLoginGen() int {
	s.loginMu.Lock()
	defer s.loginMu.Unlock()
	return s.loginGen
}

// withRelogin runs op; if a page showed an expired session and retry
// allows it, it logs in again once and runs op again.
func (s *Session) withRelogin(ctx context.Context, slot *pageSlot, retry func() bool, op func() error) error {
	gen := s.currentLoginGen()
	err := op()
	if err == nil || !errors.Is(err, errSessionExpired) || s.c.opts.Login == nil || (retry != nil && !retry()) {
		return err
	}
	if lerr := s.relogin(ctx, slot, gen); lerr != nil {
		return lerr
	}
	return op()
}

// lockedRecorder guards the run's recorder for the visit's goroutines
// (parallel reads and the network capture): calls run side by side — the
// recorder serializes its own writes — and none reaches it after close.
type lockedRecorder struct {
	mu     sync.RWMutex
	r      connectors.Recorder
	closed bool
}

func (l *lockedRecorder) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
}

// Redact always passes through: a late value must still never be written.
func (l *lockedRecorder) Redact(values ...string) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	l.r.Redact(values...)
}

func (l *lockedRecorder) Step(name string, start time.Time, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if !l.closed {
		l.r.Step(name, start, err)
	}
}

func (l *lockedRecorder) Attach(kind, name, contentType string, data []byte) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if !l.closed {
		l.r.Attach(kind, name, contentType, data)
	}
}

func (l *lockedRecorder) Wants(kind string, failed bool) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.r.Wants(kind, failed)
}

// nopRecorder records nothing.
type nopRecorder struct{}

func (nopRecorder) ID() string                            { return "" }
func (nopRecorder) Redact(...string)                      {}
func (nopRecorder) Step(string, time.Time, error)         {}
func (nopRecorder) Attach(string, string, string, []byte) {}
func (nopRecorder) Wants(string, bool) bool               { return false }
