package daemontest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestStartStopsOnce: stop cancels the run, waits for it and calls after
// once, however often it is called (and again at the test's end).
func TestStartStopsOnce(t *testing.T) {
	var ran, after int
	stop := Start(t, func(ctx context.Context) error {
		<-ctx.Done()
		ran++
		return nil
	}, func() error { after++; return nil })
	stop()
	stop()
	if ran != 1 || after != 1 {
		t.Fatalf("run returned %d times, after called %d times; want 1 and 1", ran, after)
	}
}

// errorsT records what a test reports with Errorf.
type errorsT struct {
	testing.TB
	errs []string
}

func (e *errorsT) Helper() {}

func (e *errorsT) Errorf(format string, args ...any) {
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

// TestStartReportsErrors: a run or an after that fails fails the test.
func TestStartReportsErrors(t *testing.T) {
	rec := &errorsT{TB: t}
	fail := func(context.Context) error { return errors.New("boom") }
	Start(rec, fail, func() error { return errors.New("bust") })()
	if got := strings.Join(rec.errs, "; "); got != "run: boom; after run: bust" {
		t.Fatalf("reported %q", got)
	}
}
