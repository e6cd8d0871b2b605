package chaos

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
)

// Request classes the taps tell apart.
const (
	classSubmitFinal = "final-submit" // the POST that creates a request
	classSubmitStep  = "submit-step"  // a page of the submit dialogue before it
	classPoll        = "poll"         // list, detail, status lookup, $inquire
	classLetter      = "letter"       // a determination letter
)

// portals are where each simulated portal's submit dialogue, letters and
// polled pages live.
var portals = map[string]struct {
	submit string   // the POST that creates a request
	steps  []string // path prefixes of the dialogue's pages
	poll   string   // path prefix of the list, detail and status pages
}{
	"payer": {submit: "/auth/new/submit", steps: []string{"/auth/new"}, poll: "/auth/"},
	"rbm":   {submit: "/orders/new", steps: []string{"/orders/new", "/orders/submitted"}, poll: "/orders"},
}

// classify names what a simulator request is part of ("" for login,
// dashboards and the rest).
func classify(sim string, r *http.Request) string {
	p := r.URL.Path
	if sim == "pas" {
		switch {
		case strings.HasSuffix(p, "$submit"):
			return classSubmitFinal
		case strings.HasSuffix(p, "$inquire"):
			return classPoll
		}
		return ""
	}
	pp, ok := portals[sim]
	switch {
	case !ok:
		return ""
	case r.Method == http.MethodPost && p == pp.submit:
		return classSubmitFinal
	case slices.ContainsFunc(pp.steps, func(pre string) bool { return strings.HasPrefix(p, pre) }):
		return classSubmitStep
	case strings.HasSuffix(p, "/letter.pdf"):
		return classLetter
	case strings.HasPrefix(p, pp.poll):
		return classPoll
	}
	return ""
}

// trap is one armed kill point: the skip+1-th simulator request of one of
// the classes kills the daemon, before the simulator sees it or after it
// has processed it (the answer never reaches the daemon).
type trap struct {
	sim     string // "" for any simulator
	classes map[string]bool
	after   bool
	skip    int
	fired   chan string // receives the kill point's name
}

// taps wrap the simulators: they record every letter served and spring
// the armed trap.
type taps struct {
	kill func() // SIGKILLs the daemon and waits until it is gone

	mu      sync.Mutex
	armed   *trap
	letters map[string]map[string]bool // sim|ref -> sha256s served
}

func newTaps(kill func()) *taps {
	return &taps{kill: kill, letters: map[string]map[string]bool{}}
}

// arm sets the trap (replacing any other).
func (t *taps) arm(tr *trap) {
	t.mu.Lock()
	t.armed = tr
	t.mu.Unlock()
}

// disarm removes the trap; it reports whether it was still armed.
func (t *taps) disarm(tr *trap) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.armed == tr {
		t.armed = nil
		return true
	}
	return false
}

// take returns the trap when this request springs it.
func (t *taps) take(sim, class string) *trap {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := t.armed
	if tr == nil || !tr.classes[class] || (tr.sim != "" && tr.sim != sim) {
		return nil
	}
	if tr.skip > 0 {
		tr.skip--
		return nil
	}
	t.armed = nil
	return tr
}

func (t *taps) lettersServed() map[string]map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]map[string]bool, len(t.letters))
	for k, v := range t.letters {
		m := make(map[string]bool, len(v))
		for s := range v {
			m[s] = true
		}
		out[k] = m
	}
	return out
}

// wrap returns sim's handler with the tap in front.
func (t *taps) wrap(sim string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		class := classify(sim, r)
		tr := t.take(sim, class)
		if tr != nil && !tr.after {
			t.kill()
			tr.fired <- sim + " " + class + " (before the simulator)"
			http.Error(w, "daemon killed", http.StatusServiceUnavailable)
			return
		}
		if tr == nil && class != classLetter {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if class == classLetter && rec.Code == http.StatusOK {
			ref := letterRef(r.URL.Path)
			sum := sha256.Sum256(rec.Body.Bytes())
			t.mu.Lock()
			if t.letters[sim+"|"+ref] == nil {
				t.letters[sim+"|"+ref] = map[string]bool{}
			}
			t.letters[sim+"|"+ref][hex.EncodeToString(sum[:])] = true
			t.mu.Unlock()
		}
		if tr != nil {
			// Processed, and the daemon never learns the answer.
			t.kill()
			tr.fired <- sim + " " + class + " (after the simulator)"
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// letterRef takes the reference out of /auth/{ref}/letter.pdf or
// /orders/{ref}/letter.pdf.
func letterRef(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) >= 3 {
		return parts[len(parts)-2]
	}
	return path
}
