package web

import (
	"html/template"
	"net/http"
	"sync"

	"github.com/authpilot/authpilot/store"
)

// An Extension adds pages to the workspace: another package (the hand-off
// pages) registers one in init() with Register, or a test passes it in
// Options.Extensions.
type Extension struct {
	Name string
	// Routes are mounted on the workspace's mux; each needs its Role
	// (store.RoleViewer at least: only signed-in people reach them).
	// A route reads the person with UserOf and renders with
	// Site.Templates and Site.Render.
	Routes func(s *Site) []Route
	// Nav are links added to the menu.
	Nav []NavLink
	// Worklist, if set, renders HTML shown above the worklist's table
	// (hand-off cards); it must escape what it shows (html/template).
	Worklist func(s *Site, r *http.Request) (template.HTML, error)
}

// Route is one page of an extension.
type Route struct {
	// Pattern is a net/http pattern with its method ("GET /handoffs/{id}").
	Pattern string
	Role    store.Role
	Handler http.HandlerFunc
}

var (
	extMu sync.Mutex
	exts  []Extension
)

// Register adds an extension to every workspace built afterwards; it
// panics on a duplicate name (call it from init).
func Register(e Extension) {
	extMu.Lock()
	defer extMu.Unlock()
	for _, x := range exts {
		if x.Name == e.Name {
			panic("web: extension " + e.Name + " registered twice")
		}
	}
	exts = append(exts, e)
}

func registered() []Extension {
	extMu.Lock()
	defer extMu.Unlock()
	return append([]Extension{}, exts...)
}
