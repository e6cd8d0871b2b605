package portal

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/authpilot/authpilot/connectors"
)

// The portal kind owns the browser: section of authpilot.yaml: the one
// headless Chromium every portal connector of the process shares. The
// config loader decodes the section with the config file's own strict
// decoder into a copy of DefaultBrowserOptions and has Check validate it;
// the agent builds the browser from it (Provide) before the connectors and
// hands it to each as connectors.Env.Resource.

// SectionName is the top-level config section the portal kind owns.
const SectionName = "browser"

// DefaultBrowserOptions are the browser section's defaults.
var DefaultBrowserOptions = BrowserOptions{MaxPages: 4, RecycleAfter: DefaultRecycleAfter}

var section = &connectors.Section{Name: SectionName, New: func() connectors.SectionOptions {
	o := DefaultBrowserOptions
	return &o
}}

// Check validates the browser section. A chromium path with a directory
// resolves against dir; a bare name is left for PATH.
func (o *BrowserOptions) Check(dir string) error {
	var errs connectors.FieldErrors
	atLeast := func(path string, n, least int) {
		if n < least {
			errs = append(errs, &connectors.FieldError{Path: path, Msg: fmt.Sprintf("must be at least %d, not %d", least, n)})
		}
	}
	atLeast("max_pages", o.MaxPages, 1)
	atLeast("recycle_after", o.RecycleAfter, 0)
	if len(errs) > 0 {
		return errs
	}
	if strings.ContainsAny(o.Chromium, `/\`) && !filepath.IsAbs(o.Chromium) {
		o.Chromium = filepath.Join(dir, o.Chromium)
	}
	if o.Chromium != "" {
		o.Chromium = filepath.Clean(o.Chromium)
	}
	return nil
}

// Provide builds the process's browser; it does no I/O (Chromium starts
// on the first visit).
func (o *BrowserOptions) Provide(log *slog.Logger) (io.Closer, error) {
	return NewBrowser(*o, log), nil
}

// PageCap implements connectors.PageCapper: max_pages bounds the pages
// open at once across every portal connector.
func (o *BrowserOptions) PageCap() (int, string) { return o.MaxPages, "max_pages" }

var (
	_ connectors.SectionOptions = (*BrowserOptions)(nil)
	_ connectors.PageCapper     = (*BrowserOptions)(nil)
)
