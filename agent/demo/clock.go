package demo

import (
	"sync"
	"time"

	"github.com/authpilot/authpilot/schedules"
)

// fastClock is simulated time: it runs Speed times faster than real time
// and can jump ahead (to the next business morning). Timers fire after
// their simulated duration, so rate limits and retries behave as they
// would, only faster.
type fastClock struct {
	mu     sync.Mutex
	base   time.Time // simulated time at realT0
	realT0 time.Time
	speed  float64
}

func newFastClock(start time.Time, speed float64) *fastClock {
	return &fastClock{base: start, realT0: time.Now(), speed: speed}
}

func (c *fastClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(time.Duration(float64(time.Since(c.realT0)) * c.speed))
}

// JumpTo moves simulated time forward to t (never backward).
func (c *fastClock) JumpTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.base.Add(time.Duration(float64(time.Since(c.realT0)) * c.speed))
	if t.After(now) {
		c.base, c.realT0 = t, time.Now()
	}
}

func (c *fastClock) NewTimer(d time.Duration) schedules.Timer {
	return realTimer{time.NewTimer(time.Duration(float64(d) / c.speed))}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }
