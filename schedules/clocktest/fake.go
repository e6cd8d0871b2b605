// Package clocktest provides a fake schedules.Clock whose time moves only
// when a test advances it, so tests of timers and schedules need no sleeps.
package clocktest

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/authpilot/authpilot/schedules"
)

// Fake is a manually advanced clock. It is safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
	seq    int
	// changed is closed and replaced whenever the set of waiting timers
	// changes, waking BlockUntil.
	changed chan struct{}
}

var _ schedules.Clock = (*Fake)(nil)

// New returns a fake clock reading start.
func New(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires when the clock has been advanced by
// at least d. A timer with d <= 0 fires at once and is never waiting.
func (f *Fake) NewTimer(d time.Duration) schedules.Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	t := &timer{f: f, when: f.now.Add(d), seq: f.seq, c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- f.now
		return t
	}
	f.timers = append(f.timers, t)
	f.notifyLocked()
	return t
}

// Advance moves the clock forward by d and fires, in order of their due
// times, every timer that is due by then. Each fired timer delivers its due
// time on its channel.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLocked(f.now.Add(d))
}

// Set moves the clock to t (which must not be before Now) and fires due
// timers as Advance does.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.Before(f.now) {
		return
	}
	f.setLocked(t)
}

func (f *Fake) setLocked(t time.Time) {
	f.now = t
	sort.SliceStable(f.timers, func(i, j int) bool {
		if f.timers[i].when.Equal(f.timers[j].when) {
			return f.timers[i].seq < f.timers[j].seq
		}
		return f.timers[i].when.Before(f.timers[j].when)
	})
	fired := 0
	for _, tm := range f.timers {
		if tm.when.After(t) {
			break
		}
		tm.c <- tm.when // capacity 1, and a timer fires at most once
		fired++
	}
	if fired > 0 {
		f.timers = append(f.timers[:0:0], f.timers[fired:]...)
		f.notifyLocked()
	}
}

// Waiters returns how many timers are waiting to fire.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// NextDue returns when the earliest waiting timer fires, and false when no
// timer waits.
func (f *Fake) NextDue() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.timers) == 0 {
		return time.Time{}, false
	}
	first := f.timers[0].when
	for _, t := range f.timers[1:] {
		if t.when.Before(first) {
			first = t.when
		}
	}
	return first, true
}

// BlockUntil blocks until at least n timers are waiting.
func (f *Fake) BlockUntil(n int) {
	_ = f.BlockUntilContext(context.Background(), n)
}

// BlockUntilContext blocks until at least n timers are waiting or ctx is
// done, whose error it then returns.
func (f *Fake) BlockUntilContext(ctx context.Context, n int) error {
	return f.blockUntil(ctx, func() bool { return len(f.timers) >= n })
}

// BlockUntilDue blocks until a timer due at when is waiting, or ctx is
// done, whose error it then returns. It lets a test wait for code under test
// to re-arm its timer for a known time.
func (f *Fake) BlockUntilDue(ctx context.Context, when time.Time) error {
	return f.blockUntil(ctx, func() bool {
		for _, t := range f.timers {
			if t.when.Equal(when) {
				return true
			}
		}
		return false
	})
}

// blockUntil blocks until ready, called with f.mu held, reports true, or
// ctx is done, whose error it then returns.
func (f *Fake) blockUntil(ctx context.Context, ready func() bool) error {
	for {
		f.mu.Lock()
		if ready() {
			f.mu.Unlock()
			return nil
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *Fake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *Fake) stop(t *timer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.timers {
		if x == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			f.notifyLocked()
			return true
		}
	}
	return false
}

type timer struct {
	f    *Fake
	when time.Time
	seq  int
	c    chan time.Time
}

func (t *timer) C() <-chan time.Time { return t.c }
func (t *timer) Stop() bool          { return t.f.stop(t) }
