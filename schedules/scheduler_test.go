package schedules_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot/schedules"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

// runLog is an in-memory RunLog that reports every SetLastRun.
type runLog struct {
	mu   sync.Mutex
	last map[string]time.Time
	sets chan string
}

func newRunLog() *runLog {
	return &runLog{last: map[string]time.Time{}, sets: make(chan string, 100)}
}

func (r *runLog) LastRun(_ context.Context, job string) (time.Time, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[job], nil
}

func (r *runLog) SetLastRun(_ context.Context, job string, at time.Time) error {
	r.mu.Lock()
	r.last[job] = at
	r.mu.Unlock()
	r.sets <- job
	return nil
}

func (r *runLog) get(job string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[job]
}

// logs records log messages.
type logs struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logs) WithGroup(string) slog.Handler      { return l }

func (l *logs) count(level slog.Level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level == level && r.Message == msg {
			n++
		}
	}
	return n
}

// harness runs a scheduler on a fake clock.
type harness struct {
	t     *testing.T
	clock *clocktest.Fake
	runs  *runLog
	logs  *logs
	s     *schedules.Scheduler
	ctx   context.Context // bounds every wait of the test
	done  chan error
}

func newHarness(t *testing.T, start time.Time) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	h := &harness{t: t, clock: clocktest.New(start), runs: newRunLog(), logs: &logs{}, ctx: ctx}
	h.s = schedules.NewScheduler(h.clock, newYork(t), slog.New(h.logs), h.runs)
	return h
}

func (h *harness) add(name, spec string, jitter time.Duration, fn func(context.Context)) {
	h.t.Helper()
	if err := h.s.Add(name, spec, jitter, fn); err != nil {
		h.t.Fatalf("Add(%q, %q): %v", name, spec, err)
	}
}

func (h *harness) start() {
	done := make(chan error, 1)
	h.done = done
	go func() { done <- h.s.Run(context.Background()) }()
	h.t.Cleanup(func() { h.stop() })
}

func (h *harness) stop() {
	if err := h.s.Stop(h.ctx); err != nil {
		h.t.Errorf("Stop: %v", err)
	}
	if h.done != nil {
		select {
		case err := <-h.done:
			if err != nil {
				h.t.Errorf("Run returned %v", err)
			}
		case <-h.ctx.Done():
			h.t.Error("Run did not return after Stop")
		}
		h.done = nil
	}
}

// nextFire waits for the scheduler's timer and returns when it fires.
func (h *harness) nextFire() time.Time {
	h.t.Helper()
	if err := h.clock.BlockUntilContext(h.ctx, 1); err != nil {
		h.t.Fatalf("scheduler armed no timer: %v", err)
	}
	due, ok := h.clock.NextDue()
	if !ok {
		h.t.Fatal("no timer waiting")
	}
	return due
}

// waitDue waits until the scheduler's timer is armed for when.
func (h *harness) waitDue(when time.Time) {
	h.t.Helper()
	if err := h.clock.BlockUntilDue(h.ctx, when); err != nil {
		h.t.Fatalf("no timer armed for %v: %v", when, err)
	}
}

// fire advances the clock to the next timer and returns its time.
func (h *harness) fire() time.Time {
	h.t.Helper()
	due := h.nextFire()
	h.clock.Set(due)
	return due
}

// waitSet waits for a SetLastRun of job.
func (h *harness) waitSet(job string) {
	h.t.Helper()
	for {
		select {
		case j := <-h.runs.sets:
			if j == job {
				return
			}
		case <-h.ctx.Done():
			h.t.Fatalf("job %q never recorded a run", job)
		}
	}
}

func recv[T any](t *testing.T, ctx context.Context, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-ctx.Done():
		t.Fatal("timed out waiting")
		panic("unreachable")
	}
}

func TestSchedulerFiresAtSpecTimesAcrossDST(t *testing.T) {
	tests := []struct {
		name  string
		start string
		spec  string
		want  []string // New York wall times of successive runs
		gaps  []time.Duration
	}{
		{
			name: "daily 08:00 across the start of DST", start: "2026-03-06 09:00", spec: "0 8 * * *",
			want: []string{"2026-03-07 08:00", "2026-03-08 08:00", "2026-03-09 08:00"},
			gaps: []time.Duration{23 * time.Hour, 24 * time.Hour},
		},
		{
			name: "daily 08:00 across the end of DST", start: "2026-10-31 09:00", spec: "0 8 * * *",
			want: []string{"2026-11-01 08:00", "2026-11-02 08:00"},
			gaps: []time.Duration{24 * time.Hour},
		},
		{
			name: "business days 08:00 skip the weekend", start: "2026-11-20 09:00", spec: "0 8 * * 1-5",
			want: []string{"2026-11-23 08:00", "2026-11-24 08:00"},
		},
		{
			name: "02:30 does not exist on the day DST starts", start: "2026-03-07 03:00", spec: "30 2 * * *",
			want: []string{"2026-03-09 02:30"},
		},
		{
			name: "01:30 happens twice on the day DST ends", start: "2026-11-01 00:00", spec: "30 1 * * *",
			want: []string{"2026-11-01 01:30", "2026-11-01 01:30", "2026-11-02 01:30"},
			gaps: []time.Duration{time.Hour, 24 * time.Hour},
		},
		{
			name: "every 15 minutes in business hours", start: "2026-11-20 16:40", spec: "*/15 8-16 * * 1-5",
			want: []string{"2026-11-20 16:45", "2026-11-23 08:00", "2026-11-23 08:15"},
		},
		{
			name: "CRON_TZ prefix overrides the practice zone", start: "2026-11-20 00:00", spec: "CRON_TZ=UTC 0 12 * * *",
			want: []string{"2026-11-20 07:00", "2026-11-21 07:00"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, at(t, tc.start))
			ran := make(chan time.Time, 10)
			h.add("job", tc.spec, 0, func(context.Context) { ran <- h.clock.Now() })
			h.start()
			var prev time.Time
			for i, w := range tc.want {
				due := h.fire()
				got := recv(t, h.ctx, ran)
				if !got.Equal(due) {
					t.Errorf("run %d at %v, timer at %v", i, got, due)
				}
				if gotNY := got.In(newYork(t)).Format("2006-01-02 15:04"); gotNY != w {
					t.Errorf("run %d at %s, want %s", i, gotNY, w)
				}
				if i > 0 && i-1 < len(tc.gaps) && got.Sub(prev) != tc.gaps[i-1] {
					t.Errorf("gap before run %d = %v, want %v", i, got.Sub(prev), tc.gaps[i-1])
				}
				prev = got
				h.waitSet("job")
			}
		})
	}
}

func TestSchedulerNoOverlap(t *testing.T) {
	h := newHarness(t, at(t, "2026-11-20 09:00:30"))
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	h.add("poll", "* * * * *", 0, func(context.Context) {
		started <- struct{}{}
		<-release
	})
	h.start()
	h.fire() // 09:01: starts and blocks
	recv(t, h.ctx, started)
	h.fire()     // 09:02: still running
	h.nextFire() // the loop has dispatched 09:02 and armed 09:03
	if n := h.logs.count(slog.LevelWarn, "job still running; run skipped"); n != 1 {
		t.Fatalf("skip logged %d times, want 1", n)
	}
	close(release)
	h.waitSet("poll")
	h.fire() // 09:03 runs again
	recv(t, h.ctx, started)
	h.waitSet("poll")
	select {
	case <-started:
		t.Fatal("an overlapping run started")
	default:
	}
}

func TestSchedulerRecoversPanics(t *testing.T) {
	h := newHarness(t, at(t, "2026-11-20 09:00:30"))
	var mu sync.Mutex
	calls := 0
	ran := make(chan int, 10)
	h.add("flaky", "* * * * *", 0, func(context.Context) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			var m map[string]int
			//lint:ignore SA5000 a deliberate runtime panic
			m["boom"]++ // nil map write: a runtime panic
		}
		ran <- n
	})
	h.start()
	first := h.fire()
	h.waitSet("flaky") // recorded even though it panicked
	if n := h.logs.count(slog.LevelError, "job panicked"); n != 1 {
		t.Fatalf("panic logged %d times, want 1", n)
	}
	if got := h.runs.get("flaky"); !got.Equal(first) {
		t.Errorf("last run %v, want %v", got, first)
	}
	h.fire()
	if n := recv(t, h.ctx, ran); n != 2 {
		t.Fatalf("second run reported %d", n)
	}
}

func TestSchedulerCatchUp(t *testing.T) {
	tests := []struct {
		name    string
		last    string // "" = never ran
		now     string
		spec    string
		catchUp bool
	}{
		{"missed this morning's slot", "2026-11-19 08:00", "2026-11-20 10:00", "0 8 * * 1-5", true},
		{"missed several slots runs once", "2026-11-13 08:00", "2026-11-20 10:00", "0 8 * * 1-5", true},
		{"last run after the latest slot", "2026-11-20 08:00:05", "2026-11-20 10:00", "0 8 * * 1-5", false},
		{"no slot since (weekend)", "2026-11-20 08:00", "2026-11-22 10:00", "0 8 * * 1-5", false},
		{"never ran: nothing to make up", "", "2026-11-20 10:00", "0 8 * * 1-5", false},
		{"interval job overdue", "2026-11-20 09:00", "2026-11-20 10:00", "@every 15m", true},
		{"interval job not due", "2026-11-20 09:50", "2026-11-20 10:00", "@every 15m", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, at(t, tc.now))
			if tc.last != "" {
				h.runs.last["digest"] = at(t, tc.last)
			}
			var mu sync.Mutex
			var runs []time.Time
			h.add("digest", tc.spec, 0, func(context.Context) {
				mu.Lock()
				runs = append(runs, h.clock.Now())
				mu.Unlock()
			})
			h.start()
			next := h.nextFire() // start-up planned and dispatched
			h.stop()             // waits for any run started at start-up
			mu.Lock()
			defer mu.Unlock()
			want := 0
			if tc.catchUp {
				want = 1
			}
			if len(runs) != want {
				t.Fatalf("ran %d times at start-up, want %d", len(runs), want)
			}
			if tc.catchUp && !runs[0].Equal(at(t, tc.now)) {
				t.Errorf("catch-up ran at %v, want at start-up %v", runs[0], at(t, tc.now))
			}
			if !next.After(at(t, tc.now)) {
				t.Errorf("next run %v is not after start-up", next)
			}
			if tc.catchUp && h.logs.count(slog.LevelInfo, "job missed a run while down; running it now") != 1 {
				t.Error("catch-up not logged")
			}
		})
	}
}

func TestJitter(t *testing.T) {
	slot := at(t, "2026-11-20 08:00")
	limit := 10 * time.Minute
	seen := map[time.Duration]bool{}
	for _, name := range []string{"poll:aetna", "poll:cigna", "poll:carelon", "poll:evicore", "submit", "digest", "deadlines"} {
		j := schedules.Jitter(name, slot, limit)
		if j < 0 || j >= limit {
			t.Errorf("Jitter(%q) = %v, outside [0, %v)", name, j, limit)
		}
		if j != schedules.Jitter(name, slot, limit) {
			t.Errorf("Jitter(%q) not deterministic", name)
		}
		seen[j] = true
	}
	if len(seen) < 5 {
		t.Errorf("jitter hardly varies across jobs: %v", seen)
	}
	if a, b := schedules.Jitter("poll", slot, limit), schedules.Jitter("poll", slot.Add(time.Hour), limit); a == b {
		t.Errorf("same jitter %v for different slots", a)
	}
	if j := schedules.Jitter("poll", slot, 0); j != 0 {
		t.Errorf("zero max gave %v", j)
	}

	h := newHarness(t, at(t, "2026-11-20 07:00"))
	ran := make(chan time.Time, 4)
	h.add("poll:aetna", "0 8 * * *", limit, func(context.Context) { ran <- h.clock.Now() })
	h.start()
	for _, s := range []string{"2026-11-20 08:00", "2026-11-21 08:00"} {
		slot := at(t, s)
		want := slot.Add(schedules.Jitter("poll:aetna", slot, limit))
		if due := h.fire(); !due.Equal(want) {
			t.Fatalf("fired at %v, want slot %v + jitter = %v", due, slot, want)
		}
		if got := recv(t, h.ctx, ran); !got.Equal(want) {
			t.Fatalf("ran at %v, want %v", got, want)
		}
		h.waitSet("poll:aetna")
	}
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		spec string
		err  string // "" = valid
	}{
		{"*/15 8-17 * * 1-5", ""},
		{"0 8 * * mon-fri", ""},
		{"@daily", ""},
		{"@every 15m", ""},
		{"CRON_TZ=America/Chicago 0 8 * * *", ""},
		{"TZ=UTC 0 8 * * *", ""},
		{"", "empty"},
		{"   ", "empty"},
		{"TZ=UTC", "malformed time-zone prefix"},
		{"CRON_TZ=America/New_York", "malformed time-zone prefix"},
		{"CRON_TZ=UTC ", "malformed time-zone prefix"},
		{"CRON_TZ=Mars/Olympus 0 8 * * *", "bad location"},
		{"* * * *", "expected exactly 5 fields"},
		{"0 0 8 * * *", "expected exactly 5 fields"},
		{"61 * * * *", "above maximum"},
		{"@fortnightly", "unrecognized descriptor"},
		{"0 0 30 2 *", "never fires"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := schedules.ParseSpec(tc.spec)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("ParseSpec: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("ParseSpec = %v, want an error containing %q", err, tc.err)
			}
			if !strings.HasPrefix(err.Error(), "cron spec ") {
				t.Errorf("error %q does not name the spec", err)
			}
		})
	}
}

func TestAddErrors(t *testing.T) {
	h := newHarness(t, at(t, "2026-11-20 09:00"))
	noop := func(context.Context) {}
	h.add("poll", "@hourly", 0, noop)
	s := h.s
	tests := []struct {
		name, job, spec string
		jitter          time.Duration
		fn              func(context.Context)
		err             string
	}{
		{"bad zone prefix", "x", "TZ=UTC", 0, noop, `add job "x": cron spec "TZ=UTC": malformed time-zone prefix: want CRON_TZ=Area/City followed by the schedule`},
		{"duplicate", "poll", "@daily", 0, noop, `add job "poll": a job with that name exists`},
		{"empty name", " ", "@daily", 0, noop, "add job: empty name"},
		{"nil function", "y", "@daily", 0, nil, `add job "y": nil function`},
		{"negative jitter", "z", "@daily", -time.Second, noop, `add job "z": negative jitter -1s`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Add(tc.job, tc.spec, tc.jitter, tc.fn)
			if err == nil || err.Error() != tc.err {
				t.Fatalf("Add = %v, want %q", err, tc.err)
			}
		})
	}
	for _, tc := range tests {
		if tc.job == "poll" {
			continue
		}
		if err := s.Wake(tc.job, at(t, "2026-11-20 10:00")); !errors.Is(err, schedules.ErrUnknownJob) {
			t.Errorf("Wake(%q) after a failed add = %v, want ErrUnknownJob", tc.job, err)
		}
	}
}

func TestWake(t *testing.T) {
	h := newHarness(t, at(t, "2026-11-20 09:00"))
	ran := make(chan time.Time, 10)
	h.add("poll", "0 8 * * *", 0, func(context.Context) { ran <- h.clock.Now() })

	h.start()
	if due := h.nextFire(); !due.Equal(at(t, "2026-11-21 08:00")) {
		t.Fatalf("next run %v, want tomorrow 08:00", due)
	}
	if err := h.s.Wake("poll", at(t, "2026-11-20 13:00")); err != nil {
		t.Fatal(err)
	}
	// The loop re-arms for the earlier time.
	h.waitDue(at(t, "2026-11-20 13:00"))
	h.fire()
	if got := recv(t, h.ctx, ran); !got.Equal(at(t, "2026-11-20 13:00")) {
		t.Errorf("woken run at %v", got)
	}
	h.waitSet("poll")
	if due := h.nextFire(); !due.Equal(at(t, "2026-11-21 08:00")) {
		t.Fatalf("after the wake, next run %v, want the regular 08:00", due)
	}
	// A wake later than the next run changes nothing.
	if err := h.s.Wake("poll", at(t, "2026-11-22 08:00")); err != nil {
		t.Fatal(err)
	}
	if due := h.nextFire(); !due.Equal(at(t, "2026-11-21 08:00")) {
		t.Errorf("after a later wake, next run %v, want the regular 08:00", due)
	}
	if err := h.s.Wake("nope", time.Time{}); !errors.Is(err, schedules.ErrUnknownJob) {
		t.Errorf("Wake(unknown) = %v", err)
	}
}

func TestStop(t *testing.T) {
	t.Run("waits for running jobs", func(t *testing.T) {
		h := newHarness(t, at(t, "2026-11-20 09:00:30"))
		started := make(chan struct{})
		release := make(chan struct{})
		h.add("slow", "* * * * *", 0, func(context.Context) {
			close(started)
			<-release
		})
		h.start()
		h.fire()
		recv(t, h.ctx, started)
		stopped := make(chan error, 1)
		go func() { stopped <- h.s.Stop(h.ctx) }()
		select {
		case err := <-stopped:
			t.Fatalf("Stop returned %v while the job ran", err)
		default:
		}
		close(release)
		if err := recv(t, h.ctx, stopped); err != nil {
			t.Fatalf("Stop = %v", err)
		}
		if err := h.s.Run(h.ctx); !errors.Is(err, schedules.ErrStopped) {
			t.Errorf("Run after Stop = %v", err)
		}
	})
	t.Run("gives up and cancels at the deadline", func(t *testing.T) {
		h := newHarness(t, at(t, "2026-11-20 09:00:30"))
		started := make(chan struct{})
		exited := make(chan error, 1)
		h.add("stuck", "* * * * *", 0, func(ctx context.Context) {
			close(started)
			<-ctx.Done()
			exited <- ctx.Err()
		})
		h.start()
		h.fire()
		recv(t, h.ctx, started)
		expired, cancel := context.WithCancel(context.Background())
		cancel()
		if err := h.s.Stop(expired); !errors.Is(err, context.Canceled) {
			t.Fatalf("Stop = %v, want context.Canceled", err)
		}
		if err := recv(t, h.ctx, exited); !errors.Is(err, context.Canceled) {
			t.Fatalf("job context ended with %v", err)
		}
		h.waitSet("stuck") // the cancelled run is still recorded
	})
	t.Run("run twice", func(t *testing.T) {
		h := newHarness(t, at(t, "2026-11-20 09:00"))
		h.add("a", "@hourly", 0, func(context.Context) {})
		h.start()
		h.nextFire()
		if err := h.s.Run(h.ctx); err == nil || !strings.Contains(err.Error(), "already running") {
			t.Fatalf("second Run = %v", err)
		}
	})
}

// TestNext: a job's next run is its schedule's next slot (plus its
// jitter) before the loop runs, an earlier Wake when one is asked, and
// nothing for an unknown job.
func TestNext(t *testing.T) {
	h := newHarness(t, at(t, "2026-11-20 09:10"))
	noop := func(context.Context) {}
	h.add("poll", "0 14 * * *", 0, noop)
	h.add("submit", "@hourly", 10*time.Minute, noop)
	s := h.s
	if got, ok := s.Next("poll"); !ok || !got.Equal(at(t, "2026-11-20 14:00")) {
		t.Errorf("poll's next run %v %v, want 14:00", got, ok)
	}
	slot := at(t, "2026-11-20 10:00")
	if got, ok := s.Next("submit"); !ok || !got.Equal(slot.Add(schedules.Jitter("submit", slot, 10*time.Minute))) {
		t.Errorf("submit's next run %v %v, want 10:00 plus its jitter", got, ok)
	}
	if err := s.Wake("poll", at(t, "2026-11-20 11:30")); err != nil {
		t.Fatal(err)
	}
	if got, ok := s.Next("poll"); !ok || !got.Equal(at(t, "2026-11-20 11:30")) {
		t.Errorf("poll's next run after a wake %v %v, want 11:30", got, ok)
	}
	if _, ok := s.Next("digest"); ok {
		t.Error("an unknown job has a next run")
	}
}
