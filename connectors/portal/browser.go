package portal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/defaults"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/proto"
	leaklessshared "github.com/ysmood/leakless/pkg/shared"
)

// ChromiumEnv names the environment variable that points at the browser.
const ChromiumEnv = "AUTHPILOT_CHROMIUM"

// chromiumPaths are tried in order when nothing is configured.
// /usr/lib/chromium/chromium skips Debian's wrapper script.
var chromiumPaths = []string{
	"/usr/lib/chromium/chromium",
	"/usr/bin/chromium",
	"/usr/bin/chromium-browser",
	"/usr/bin/google-chrome",
}

const (
	launchTimeout = 45 * time.Second
	pingTimeout   = 5 * time.Second
	closeTimeout  = 10 * time.Second
)

func init() {
	// rod's defaults package reads a "-rod" command-line flag at init;
	// authpilot's own flags must never change how the browser is driven.
	if _, ok := os.LookupEnv("DISABLE_ROD_FLAG"); !ok {
		_ = os.Setenv("DISABLE_ROD_FLAG", "1")
	}
	defaults.Reset()
}

// FindChromium returns the Chromium binary to drive: configured if set,
// else $AUTHPILOT_CHROMIUM, else the first of the usual Debian paths that
// exists. It never downloads a browser.
func FindChromium(configured string) (string, error) {
	check := func(p, from string) (string, error) {
		st, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("chromium from %s: %w", from, err)
		}
		if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
			return "", fmt.Errorf("chromium from %s: %s is not an executable file", from, p)
		}
		return p, nil
	}
	if configured != "" {
		return check(configured, "browser.chromium")
	}
	if env := os.Getenv(ChromiumEnv); env != "" {
		return check(env, "$"+ChromiumEnv)
	}
	for _, p := range chromiumPaths {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("chromium not found (tried %s): install Debian's chromium package (apt-get install chromium) or set browser.chromium or $%s",
		strings.Join(chromiumPaths, ", "), ChromiumEnv)
}

// errNoChromium marks a missing browser binary: a human must install it.
var errNoChromium = errors.New("no browser")

// BrowserOptions configure the process-wide Chromium: the browser:
// section of authpilot.yaml, which the portal kind owns (section.go).
type BrowserOptions struct {
	// Chromium is the browser binary; empty means $AUTHPILOT_CHROMIUM or
	// the usual Debian paths (see FindChromium).
	Chromium string `yaml:"chromium"`
	// MaxPages bounds the pages open at once across all portals; 0 is
	// unbounded (each connector still has its limits.pages).
	MaxPages int `yaml:"max_pages"`
	// RecycleAfter relaunches the browser after this many visits (memory
	// grows with closed pages); 0 never.
	RecycleAfter int `yaml:"recycle_after"`
}

// Browser owns the one Chromium process shared by every portal connector
// of a process. It launches on the first visit, relaunches a dead browser,
// and recycles it after RecycleAfter visits once no visit is using it. It
// never downloads a browser.
type Browser struct {
	log   *slog.Logger
	opts  BrowserOptions
	pages chan struct{} // nil: unbounded

	mu       sync.Mutex
	bin      string
	browser  *rod.Browser
	launcher *launcher.Launcher
	gen      int // increments with every launch
	dead     bool
	visits   int // visits since launch
	active   int // visits holding the browser
	drained  chan struct{}
	closed   bool
}

// NewBrowser returns the shared browser; it does no I/O (the browser
// starts on the first visit). Hand it to every portal connector of the
// process as connectors.Env.Resource.
func NewBrowser(opts BrowserOptions, log *slog.Logger) *Browser {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Browser{log: log, opts: opts}
	if opts.MaxPages > 0 {
		h.pages = make(chan struct{}, opts.MaxPages)
	}
	return h
}

// acquire returns the browser for one visit; release must be called.
func (h *Browser) acquire(ctx context.Context) (*rod.Browser, int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bin == "" {
		bin, err := FindChromium(h.opts.Chromium)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %w", errNoChromium, err)
		}
		h.bin = bin
	}
	for {
		if h.closed {
			return nil, 0, errors.New("browser: shut down")
		}
		if h.browser != nil && !h.dead {
			if err := ping(ctx, h.browser); err != nil {
				if ctx.Err() != nil {
					return nil, 0, fmt.Errorf("browser: %w", ctx.Err())
				}
				h.log.Warn("portal browser not answering, relaunching", "err", err)
				h.dead = true
			}
		}
		recycle := h.browser != nil && !h.dead && h.opts.RecycleAfter > 0 && h.visits >= h.opts.RecycleAfter
		if recycle && h.active > 0 {
			// Wait for the running visits to finish, then recycle.
			if h.drained == nil {
				h.drained = make(chan struct{})
			}
			ch := h.drained
			h.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				h.mu.Lock()
				return nil, 0, fmt.Errorf("browser: waiting for recycle: %w", ctx.Err())
			}
			h.mu.Lock()
			continue
		}
		if recycle || h.dead {
			h.log.Info("portal browser relaunch", "visits", h.visits, "dead", h.dead)
			h.shutdownLocked()
		}
		if h.browser == nil {
			if err := h.launchLocked(ctx); err != nil {
				return nil, 0, err
			}
		}
		h.visits++
		h.active++
		return h.browser, h.gen, nil
	}
}

func (h *Browser) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.active--
	if h.active == 0 && h.drained != nil {
		close(h.drained)
		h.drained = nil
	}
}

// markDead records that the browser of generation gen stopped answering
// ("use of closed network connection"); the next acquire relaunches it.
func (h *Browser) markDead(gen int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if gen == h.gen {
		h.dead = true
	}
}

func ping(ctx context.Context, b *rod.Browser) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	_, err := proto.BrowserGetVersion{}.Call(b.Context(ctx))
	return err
}

func (h *Browser) launchLocked(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, launchTimeout)
	defer cancel()
	guard := leaklessGuardPath()
	if removed, err := repairLeaklessGuard(guard, time.Now()); err != nil {
		h.log.Warn("portal browser: leakless guard unusable", "path", guard, "err", err)
	} else if removed {
		h.log.Warn("portal browser: removed a half-written leakless guard (a kill during its extraction); it is extracted again", "path", guard)
	}
	u, l, err := h.launch(ctx, true)
	if err != nil && ctx.Err() == nil {
		// leakless (the guard that kills Chromium if authpilot dies) needs
		// an exec-capable TMPDIR; without it, run unguarded rather than not
		// at all.
		h.log.Warn("portal browser launch with leakless failed, launching without it", "err", err)
		u, l, err = h.launch(ctx, false)
	}
	if err != nil {
		return err
	}
	b := rod.New().ControlURL(u)
	if err := b.Connect(); err != nil {
		l.Kill()
		l.Cleanup()
		return fmt.Errorf("browser: connect: %w", err)
	}
	h.browser, h.launcher = b, l
	h.gen++
	h.visits, h.dead = 0, false
	h.log.Info("portal browser launched", "bin", h.bin, "pid", l.PID())
	return nil
}

// leaklessGuardPath is where leakless keeps its guard binary: extracted
// once per TMPDIR and leakless version, then reused.
func leaklessGuardPath() string {
	name := "leakless"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("leakless-%s-%s", runtime.GOARCH, leaklessshared.Version), name)
}

// repairLeaklessGuard removes a guard binary left half-written. leakless
// writes the file in place and only then makes it executable, and it never
// writes it again once the file exists: a daemon killed in between (a
// kill -9 during its first browser launch) left every later launch
// unguarded, so each later kill -9 orphaned Chromium. A guard that is not
// executable and was not written in the last few seconds (by a launch
// going on now) is such a leftover.
func repairLeaklessGuard(path string, now time.Time) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat: %w", err)
	}
	if fi.Mode()&0o111 != 0 || now.Sub(fi.ModTime()) < 5*time.Second {
		return false, nil
	}
	if err := os.Remove(path); err != nil {
		return false, fmt.Errorf("remove the half-written guard: %w", err)
	}
	return true, nil
}

// launch starts Chromium and returns its DevTools URL.
func (h *Browser) launch(ctx context.Context, leakless bool) (string, *launcher.Launcher, error) {
	l := launcher.New().
		Bin(h.bin).
		Headless(true).
		Leakless(leakless).
		Set("disable-background-networking").
		Set("disable-component-update").
		Set("disable-sync").
		Set("no-first-run").
		Set("disable-quic").
		// rod's own defaults, and no back/forward cache: a tab that reads
		// page after page would keep the pages it left in memory.
		Set("disable-features", "site-per-process", "TranslateUI", "BackForwardCache")
	if os.Geteuid() == 0 {
		l = l.NoSandbox(true)
	}
	// Chromium and leakless get only what a browser needs, never the
	// daemon's own environment (a keyring passphrase, API keys).
	l = l.Env(browserEnv(os.Environ())...)
	type result struct {
		url string
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			// leakless extracts its guard binary into TMPDIR and panics when
			// it cannot: turn that into an error.
			if p := recover(); p != nil {
				r = result{err: fmt.Errorf("launch panicked (is TMPDIR writable and exec-capable?): %v", p)}
			}
			done <- r
		}()
		u, err := l.Launch()
		r = result{url: u, err: err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return "", nil, fmt.Errorf("browser: launch %s: %w", h.bin, r.err)
		}
		return r.url, l, nil
	case <-ctx.Done():
		// Launch ignores the context while leakless waits for its lock on
		// 127.0.0.1:2978; reap the browser if it starts after all.
		go func() {
			if r := <-done; r.err == nil {
				l.Kill()
				l.Cleanup()
			}
		}()
		return "", nil, fmt.Errorf("browser: launch %s: %w (is another process holding 127.0.0.1:2978, leakless's lock?)", h.bin, ctx.Err())
	}
}

// browserEnvKeys are the variables passed on to Chromium (and leakless);
// every other variable of the process stays behind.
var browserEnvKeys = map[string]bool{
	"PATH": true, "HOME": true, "TMPDIR": true, "TZ": true, "LANG": true, "LANGUAGE": true,
	"LC_ALL": true, "LC_CTYPE": true, "LC_MESSAGES": true, "LC_TIME": true,
	"XDG_CONFIG_HOME": true, "XDG_CACHE_HOME": true, "XDG_DATA_HOME": true, "XDG_RUNTIME_DIR": true,
	"FONTCONFIG_PATH": true, "FONTCONFIG_FILE": true,
}

// browserEnv keeps the variables of environ that Chromium needs.
func browserEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, ok := strings.Cut(kv, "=")
		if ok && browserEnvKeys[k] {
			out = append(out, kv)
		}
	}
	if len(out) == 0 {
		// An empty list would make the launcher pass the whole environment.
		out = append(out, "PATH=/usr/local/bin:/usr/bin:/bin")
	}
	return out
}

func (h *Browser) shutdownLocked() {
	if h.browser == nil {
		return
	}
	b, l := h.browser, h.launcher
	h.browser, h.launcher = nil, nil
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = b.Context(ctx).Close()
	exited := make(chan struct{})
	go func() {
		l.Cleanup() // waits for the process to exit, then removes its profile
		close(exited)
	}()
	select {
	case <-exited:
	case <-ctx.Done():
		l.Kill()
		<-exited
	}
}

// Close shuts the browser down; whoever provided it (the agent, from the
// browser section) closes it after the connectors.
func (h *Browser) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	h.shutdownLocked()
	return nil
}

// isConnClosed reports a dead browser connection.
func isConnClosed(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "use of closed network connection") ||
		strings.Contains(err.Error(), "websocket: close") || errors.Is(err, os.ErrClosed))
}
