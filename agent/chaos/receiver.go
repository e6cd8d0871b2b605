package chaos

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/authpilot/authpilot/notify/webhook"
)

// receiver is the practice's webhook endpoint: it verifies each
// delivery's signature, keeps each alert once, and refuses some attempts
// (503, Retry-After: 1) so alerts are still queued when the daemon dies.
type receiver struct {
	secret string

	mu       sync.Mutex
	rnd      *rand.Rand
	failRate int // percent of attempts answered 503
	got      map[string]Received
	attempts int
	refused  int
	bad      int
	repeats  int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts++
	if rc.failRate > 0 && rc.rnd.IntN(100) < rc.failRate {
		rc.refused++
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	d, err := webhook.Receive(r, rc.secret, 10*time.Minute, time.Now())
	if err != nil {
		rc.bad++
		http.Error(w, "bad delivery", http.StatusUnauthorized)
		return
	}
	if _, ok := rc.got[d.ID]; ok {
		rc.repeats++
	} else {
		rc.got[d.ID] = Received{ID: d.ID, Type: string(d.Type), CaseID: d.Data.CaseID}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) received() map[string]Received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]Received, len(rc.got))
	for k, v := range rc.got {
		out[k] = v
	}
	return out
}
