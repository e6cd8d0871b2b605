package clocktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/authpilot/authpilot/schedules/clocktest"
)

var start = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func fired(c <-chan time.Time) (time.Time, bool) {
	select {
	case t := <-c:
		return t, true
	default:
		return time.Time{}, false
	}
}

func TestFakeTimers(t *testing.T) {
	tests := []struct {
		name    string
		d       time.Duration
		advance []time.Duration
		want    bool
	}{
		{name: "not yet due", d: time.Hour, advance: []time.Duration{59 * time.Minute}, want: false},
		{name: "exactly due", d: time.Hour, advance: []time.Duration{time.Hour}, want: true},
		{name: "due over two steps", d: time.Hour, advance: []time.Duration{30 * time.Minute, 30 * time.Minute}, want: true},
		{name: "past due", d: time.Hour, advance: []time.Duration{3 * time.Hour}, want: true},
		{name: "zero duration fires at once", d: 0, want: true},
		{name: "negative duration fires at once", d: -time.Minute, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := clocktest.New(start)
			tm := f.NewTimer(tc.d)
			for _, d := range tc.advance {
				f.Advance(d)
			}
			got, ok := fired(tm.C())
			if ok != tc.want {
				t.Fatalf("fired = %v, want %v", ok, tc.want)
			}
			if ok && tc.d > 0 && !got.Equal(start.Add(tc.d)) {
				t.Errorf("delivered %v, want the due time %v", got, start.Add(tc.d))
			}
		})
	}
}

func TestFakeNowAndSet(t *testing.T) {
	f := clocktest.New(start)
	f.Advance(90 * time.Minute)
	if got, want := f.Now(), start.Add(90*time.Minute); !got.Equal(want) {
		t.Fatalf("Now() = %v, want %v", got, want)
	}
	f.Set(start) // backwards: ignored
	if got, want := f.Now(), start.Add(90*time.Minute); !got.Equal(want) {
		t.Fatalf("Set backwards moved the clock to %v", got)
	}
	tm := f.NewTimer(time.Hour)
	f.Set(start.Add(3 * time.Hour))
	if _, ok := fired(tm.C()); !ok {
		t.Fatal("Set past the due time did not fire the timer")
	}
}

func TestFakeStop(t *testing.T) {
	f := clocktest.New(start)
	tm := f.NewTimer(time.Minute)
	if f.Waiters() != 1 {
		t.Fatalf("Waiters() = %d, want 1", f.Waiters())
	}
	if !tm.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}
	if tm.Stop() {
		t.Fatal("second Stop returned true")
	}
	f.Advance(time.Hour)
	if _, ok := fired(tm.C()); ok {
		t.Fatal("stopped timer fired")
	}
	if f.Waiters() != 0 {
		t.Fatalf("Waiters() = %d after stop, want 0", f.Waiters())
	}
	tm2 := f.NewTimer(time.Minute)
	f.Advance(time.Minute)
	if tm2.Stop() {
		t.Fatal("Stop of a fired timer returned true")
	}
}

func TestFakeFiresInOrder(t *testing.T) {
	f := clocktest.New(start)
	late := f.NewTimer(2 * time.Hour)
	early := f.NewTimer(time.Hour)
	if due, ok := f.NextDue(); !ok || !due.Equal(start.Add(time.Hour)) {
		t.Fatalf("NextDue() = %v, %v; want %v", due, ok, start.Add(time.Hour))
	}
	f.Advance(3 * time.Hour)
	e, ok1 := fired(early.C())
	l, ok2 := fired(late.C())
	if !ok1 || !ok2 {
		t.Fatalf("fired early=%v late=%v, want both", ok1, ok2)
	}
	if !e.Before(l) {
		t.Errorf("early delivered %v, late %v", e, l)
	}
	if _, ok := f.NextDue(); ok {
		t.Error("NextDue reports a timer after all fired")
	}
}

func TestBlockUntil(t *testing.T) {
	f := clocktest.New(start)
	done := make(chan struct{})
	go func() {
		f.BlockUntil(2)
		close(done)
	}()
	f.NewTimer(time.Minute)
	select {
	case <-done:
		t.Fatal("BlockUntil(2) returned with one timer waiting")
	default:
	}
	f.NewTimer(time.Minute)
	<-done // returns once the second timer waits; the test times out otherwise

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.BlockUntilContext(ctx, 5); err == nil {
		t.Fatal("BlockUntilContext with a cancelled context returned nil")
	}
}

func TestBlockUntilDue(t *testing.T) {
	f := clocktest.New(start)
	want := start.Add(2 * time.Hour)
	done := make(chan error, 1)
	go func() { done <- f.BlockUntilDue(context.Background(), want) }()
	f.NewTimer(time.Hour) // not the one
	select {
	case err := <-done:
		t.Fatalf("BlockUntilDue returned %v for another timer", err)
	default:
	}
	f.NewTimer(2 * time.Hour)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.BlockUntilDue(ctx, start.Add(time.Minute)); err == nil {
		t.Fatal("BlockUntilDue with a cancelled context returned nil")
	}
}
