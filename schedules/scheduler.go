package schedules

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/authpilot/authpilot"
)

// RunLog persists when each job last ran, so that a run missed during
// downtime is made up at start-up. authpilot.Store satisfies it; a job never
// run has the zero time (or ErrNotFound).
type RunLog interface {
	LastRun(ctx context.Context, job string) (time.Time, error)
	SetLastRun(ctx context.Context, job string, at time.Time) error
}

// Errors of the scheduler, for errors.Is.
var (
	ErrUnknownJob = errors.New("unknown job")
	ErrStopped    = errors.New("scheduler stopped")
)

// PanicError is what a job's panic becomes.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("job panicked: %v", e.Value) }

// ParseSpec parses a cron spec the way the scheduler does: five fields
// (minute hour day-of-month month day-of-week) or a descriptor (@daily,
// @every 15m, …), optionally prefixed by CRON_TZ=Area/City. A spec without a
// zone runs in the scheduler's zone. It never panics: robfig/cron's parser
// panics on a zone prefix with nothing after it (cron issues #470, #554),
// which becomes an error here. A spec that never fires is an error too.
func ParseSpec(spec string) (cron.Schedule, error) {
	s, err := parseSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("cron spec %q: %w", spec, err)
	}
	return s, nil
}

func parseSpec(spec string) (s cron.Schedule, err error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("empty")
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, errors.New("malformed time-zone prefix: want CRON_TZ=Area/City followed by the schedule")
		}
	}()
	if s, err = cron.ParseStandard(spec); err != nil {
		return nil, err
	}
	// A spec such as "0 0 30 2 *" parses but never fires; Next returns
	// the zero time for it.
	if s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, errors.New("never fires")
	}
	return s, nil
}

// Jitter is the deterministic delay added to a job's run at slot: a hash of
// the job's name and the slot, in [0, limit). The same job and slot always get
// the same delay, so runs are reproducible and jobs sharing a spec spread
// out.
func Jitter(name string, slot time.Time, limit time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(slot.Unix()))
	h.Write(b[:])
	return time.Duration(h.Sum64() % uint64(limit))
}

// Scheduler runs named jobs on cron specs in the practice's time zone,
// timed by an injected Clock. A job never runs concurrently with itself; a
// panic in a job is logged and scheduling goes on; each run's start time is
// recorded in the RunLog; at start-up a job that missed a scheduled run
// while the daemon was down runs once.
//
// Cron semantics are robfig/cron's in the practice's zone: on the day DST
// starts a job set inside the skipped hour (02:30 in New York) does not run,
// and on the day it ends a job set inside the repeated hour runs twice.
type Scheduler struct {
	clock Clock
	loc   *time.Location
	log   *slog.Logger
	runs  RunLog

	// kill is cancelled when Stop gives up waiting: every job context
	// ends with it.
	kill     context.Context
	killJobs context.CancelFunc

	mu      sync.Mutex
	jobs    map[string]*job
	order   []*job
	kick    chan struct{} // capacity 1: asks the loop to plan again
	quit    chan struct{} // closed by Stop
	running bool
	stopped bool
	wg      sync.WaitGroup // runs in flight
}

type job struct {
	name   string
	spec   string
	sched  cron.Schedule
	jitter time.Duration
	fn     func(ctx context.Context)

	planned bool      // the loop has looked up its last run and planned it
	catchUp bool      // run once at the next dispatch: a slot was missed
	slot    time.Time // next scheduled time
	next    time.Time // slot plus jitter: when it runs
	wakeAt  time.Time // an extra earlier run asked by Wake; zero if none
	running bool
	lastRun time.Time

	recMu    sync.Mutex // serializes RunLog writes of this job
	recorded time.Time  // the latest start time written to the RunLog
}

// NewScheduler returns a scheduler; runs may be nil (no persistence, no
// catch-up). loc nil means UTC, log nil discards.
func NewScheduler(clock Clock, loc *time.Location, log *slog.Logger, runs RunLog) *Scheduler {
	if clock == nil {
		clock = RealClock{}
	}
	if loc == nil {
		loc = time.UTC
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kill, killJobs := context.WithCancel(context.Background())
	return &Scheduler{
		clock: clock, loc: loc, log: log, runs: runs,
		kill: kill, killJobs: killJobs,
		jobs: map[string]*job{},
		kick: make(chan struct{}, 1),
		quit: make(chan struct{}),
	}
}

// Add registers a job. spec is parsed by ParseSpec; jitter (>= 0) delays
// each run by Jitter(name, slot, jitter). A job may be added while the
// scheduler runs.
func (s *Scheduler) Add(name, spec string, jitter time.Duration, fn func(ctx context.Context)) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("add job: empty name")
	case fn == nil:
		return fmt.Errorf("add job %q: nil function", name)
	case jitter < 0:
		return fmt.Errorf("add job %q: negative jitter %v", name, jitter)
	}
	sched, err := ParseSpec(spec)
	if err != nil {
		return fmt.Errorf("add job %q: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return fmt.Errorf("add job %q: %w", name, ErrStopped)
	}
	if _, dup := s.jobs[name]; dup {
		return fmt.Errorf("add job %q: a job with that name exists", name)
	}
	if jitter > 0 {
		now := s.clock.Now().In(s.loc)
		a := sched.Next(now)
		if gap := sched.Next(a).Sub(a); gap > 0 && jitter >= gap {
			s.log.Warn("job jitter not below its interval; runs may be skipped", "job", name, "jitter", jitter, "interval", gap)
		}
	}
	j := &job{name: name, spec: spec, sched: sched, jitter: jitter, fn: fn}
	s.jobs[name] = j
	s.order = append(s.order, j)
	s.signal()
	return nil
}

// signal wakes the loop to plan again; s.mu is held or not, either works.
func (s *Scheduler) signal() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run schedules the jobs until ctx is done or Stop is called, and returns
// nil then. Jobs still running keep running (their context is not ctx's):
// call Stop to wait for them. Run may be called once at a time.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.stopped:
		s.mu.Unlock()
		return ErrStopped
	case s.running:
		s.mu.Unlock()
		return errors.New("scheduler: already running")
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()

	// Job contexts keep ctx's values but not its cancellation; Stop ends
	// them.
	jobCtx := context.WithoutCancel(ctx)
	for {
		s.plan(ctx)
		now := s.clock.Now()
		wake := s.dispatch(jobCtx, now)
		var timer Timer
		var fire <-chan time.Time
		if !wake.IsZero() {
			timer = s.clock.NewTimer(wake.Sub(now))
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
		case <-s.quit:
		case <-s.kick:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.quit:
			return nil
		default:
		}
	}
}

// plan looks up the last run of jobs not yet planned, marks those that
// missed a scheduled run for one catch-up run, and plans their next run.
func (s *Scheduler) plan(ctx context.Context) {
	s.mu.Lock()
	var fresh []*job
	for _, j := range s.order {
		if !j.planned {
			fresh = append(fresh, j)
		}
	}
	s.mu.Unlock()
	if len(fresh) == 0 {
		return
	}
	last := make([]time.Time, len(fresh))
	for i, j := range fresh {
		if s.runs == nil {
			continue
		}
		t, err := s.runs.LastRun(ctx, j.name)
		if err != nil && !errors.Is(err, authpilot.ErrNotFound) {
			s.log.Warn("read last run failed; no catch-up for job", "job", j.name, "err", err)
			continue
		}
		last[i] = t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now().In(s.loc)
	for i, j := range fresh {
		j.planned = true
		if !last[i].IsZero() {
			j.lastRun = last[i]
			// The first slot after the last run is at or before now: a run
			// was missed (one or many; it is made up once).
			if due := j.sched.Next(last[i].In(s.loc)); !due.IsZero() && !due.After(now) {
				j.catchUp = true
				s.log.Info("job missed a run while down; running it now", "job", j.name, "missed", due, "last_run", last[i])
			}
		}
		s.setSlot(j, j.sched.Next(now))
	}
}

func (s *Scheduler) setSlot(j *job, slot time.Time) {
	j.slot = slot
	if slot.IsZero() {
		j.next = time.Time{}
		return
	}
	j.next = slot.Add(Jitter(j.name, slot, j.jitter))
}

// dispatch starts every job due at now and returns when the next one is
// due (zero if none).
func (s *Scheduler) dispatch(ctx context.Context, now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var earliest time.Time
	for _, j := range s.order {
		if !j.planned {
			continue
		}
		trigger := ""
		switch {
		case j.catchUp:
			trigger = "catch-up"
		case !j.next.IsZero() && !j.next.After(now):
			trigger = "schedule"
		case !j.wakeAt.IsZero() && !j.wakeAt.After(now):
			trigger = "wake"
		}
		if !j.next.IsZero() && !j.next.After(now) {
			// Plan the slot after this one; if that is past too (the
			// clock jumped, the machine slept), skip to the first slot
			// after now: missed slots run once, not once each.
			s.setSlot(j, j.sched.Next(j.slot))
			if !j.next.IsZero() && !j.next.After(now) {
				s.setSlot(j, j.sched.Next(now.In(s.loc)))
			}
		}
		if !j.wakeAt.IsZero() && !j.wakeAt.After(now) {
			j.wakeAt = time.Time{}
		}
		j.catchUp = false
		if trigger != "" {
			s.startLocked(ctx, j, trigger)
		}
		for _, t := range []time.Time{j.next, j.wakeAt} {
			if !t.IsZero() && (earliest.IsZero() || t.Before(earliest)) {
				earliest = t
			}
		}
	}
	return earliest
}

// startLocked starts a run of j in its own goroutine unless j is running.
func (s *Scheduler) startLocked(ctx context.Context, j *job, trigger string) {
	if s.stopped {
		return
	}
	if j.running {
		s.log.Warn("job still running; run skipped", "job", j.name, "trigger", trigger)
		return
	}
	j.running = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.exec(ctx, j, trigger)
	}()
}

// exec runs j once (j.running is already set and s.wg counted), recovers a
// panic, records the run and clears j.running.
func (s *Scheduler) exec(ctx context.Context, j *job, trigger string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.kill, cancel)
	defer stop()

	log := s.log.With("job", j.name, "trigger", trigger)
	started := s.clock.Now()
	log.Debug("job started")
	err := call(ctx, j.fn)
	var pe *PanicError
	if errors.As(err, &pe) {
		log.Error("job panicked", "err", err, "stack", string(pe.Stack))
	} else {
		log.Debug("job finished", "duration", s.clock.Now().Sub(started))
	}
	s.mu.Lock()
	j.running = false
	j.lastRun = started
	s.mu.Unlock()
	s.record(ctx, j, started, log)
	return err
}

// record stores a run's start time in the RunLog, even after a
// cancellation or a panic: the run happened. Records of one job are
// serialized and never move backwards (a later run may finish recording
// first once j.running is clear).
func (s *Scheduler) record(ctx context.Context, j *job, started time.Time, log *slog.Logger) {
	if s.runs == nil {
		return
	}
	j.recMu.Lock()
	defer j.recMu.Unlock()
	if !started.After(j.recorded) {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.runs.SetLastRun(rctx, j.name, started); err != nil {
		log.Warn("record last run failed", "err", err)
		return
	}
	j.recorded = started
}

func call(ctx context.Context, fn func(context.Context)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	fn(ctx)
	return nil
}

// Wake asks for an extra run of a job at at, when that is before its next
// planned run (a poll that tightens as a decision deadline approaches). The
// regular schedule is unchanged. An at in the past runs it at once.
func (s *Scheduler) Wake(name string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[name]
	if !ok {
		return fmt.Errorf("wake job %q: %w", name, ErrUnknownJob)
	}
	if j.planned && !j.next.IsZero() && !at.Before(j.next) {
		return nil // it runs by then anyway
	}
	if j.wakeAt.IsZero() || at.Before(j.wakeAt) {
		j.wakeAt = at
		s.signal()
	}
	return nil
}

// Stop stops scheduling (Run returns) and waits for running jobs until ctx
// is done; then it cancels their contexts and returns an error wrapping
// ctx's. Stop may be called more than once; the scheduler cannot restart.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		close(s.quit)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.killJobs()
		return fmt.Errorf("stop scheduler: jobs still running: %w", ctx.Err())
	}
}

// Next is when the job name runs next: its planned run (slot plus
// jitter) or an earlier one asked by Wake; before the loop has planned
// it, the schedule's next slot after now. ok is false for an unknown job
// or one with no further run.
func (s *Scheduler) Next(name string) (at time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, found := s.jobs[name]
	if !found {
		return time.Time{}, false
	}
	at = j.next
	if !j.planned {
		if slot := j.sched.Next(s.clock.Now().In(s.loc)); !slot.IsZero() {
			at = slot.Add(Jitter(j.name, slot, j.jitter))
		}
	}
	if !j.wakeAt.IsZero() && (at.IsZero() || j.wakeAt.Before(at)) {
		at = j.wakeAt
	}
	return at, !at.IsZero()
}
