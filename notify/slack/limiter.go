package slack

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Limiter spaces messages per webhook URL: at most one per interval, on
// the caller's clock. One Limiter is shared by every Slack sink, so two
// sinks posting to the same webhook share its budget. Safe for concurrent
// use.
type Limiter struct {
	interval time.Duration
	mu       sync.Mutex
	next     map[[sha256.Size]byte]time.Time // keyed by URL digest, not URL
}

// NewLimiter returns a Limiter allowing one message per interval per URL.
func NewLimiter(interval time.Duration) *Limiter {
	return &Limiter{interval: interval, next: map[[sha256.Size]byte]time.Time{}}
}

func key(url string) [sha256.Size]byte { return sha256.Sum256([]byte(url)) }

// Delay reports how long from now until url may take a message.
func (l *Limiter) Delay(url string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if next, ok := l.next[key(url)]; ok && next.After(now) {
		return next.Sub(now)
	}
	return 0
}

// Reserve takes url's slot at now if it is free and returns 0; otherwise it
// takes nothing and returns the wait.
func (l *Limiter) Reserve(url string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := key(url)
	if next, ok := l.next[k]; ok && next.After(now) {
		return next.Sub(now)
	}
	l.next[k] = now.Add(l.interval)
	return 0
}

// Hold keeps url closed until until (Slack answered 429 Retry-After).
func (l *Limiter) Hold(url string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := key(url)
	if until.After(l.next[k]) {
		l.next[k] = until
	}
}
