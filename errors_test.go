package authpilot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestErrorClass(t *testing.T) {
	classed := func(class, cause error) error { return &Error{Class: class, Step: "login", Err: cause} }
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"auth", classed(ErrAuth, nil), "auth"},
		{"needs human wrapped", fmt.Errorf("login: %w", classed(ErrNeedsHuman, nil)), "needs_human"},
		{"portal changed", ErrPortalChanged, "portal_changed"},
		{"retryable", ErrRetryable, "retryable"},
		{"rejected", classed(ErrRejected, nil), "rejected"},
		{"not found", ErrRequestNotFound, "not_found"},
		{"unsupported", ErrUnsupported, "unsupported"},
		{"timeout", fmt.Errorf("wait: %w", context.DeadlineExceeded), "timeout"},
		{"canceled", context.Canceled, "canceled"},
		{"other", errors.New("boom"), "error"},
		{"store's not found is no connector class", ErrNotFound, "error"},
		// Several classes in one error: the agent's two copies disagreed
		// here (agent: portal_changed first, retryable last; recordings:
		// auth first, retryable before rejected), so a run's metric and its
		// recording named one failure differently.
		{"auth beats portal changed (the agent pauses logins)", errors.Join(classed(ErrPortalChanged, nil), classed(ErrAuth, nil)), "auth"},
		{"needs human beats portal changed", classed(ErrPortalChanged, classed(ErrNeedsHuman, nil)), "needs_human"},
		{"auth beats needs human", errors.Join(classed(ErrNeedsHuman, nil), classed(ErrAuth, nil)), "auth"},
		{"portal changed beats rejected", errors.Join(classed(ErrRejected, nil), classed(ErrPortalChanged, nil)), "portal_changed"},
		{"rejected beats retryable", errors.Join(classed(ErrRetryable, nil), classed(ErrRejected, nil)), "rejected"},
		{"not found beats retryable", errors.Join(classed(ErrRetryable, nil), ErrRequestNotFound), "not_found"},
		{"unsupported beats retryable", errors.Join(classed(ErrRetryable, nil), ErrUnsupported), "unsupported"},
		{"retryable beats its timeout", classed(ErrRetryable, context.DeadlineExceeded), "retryable"},
		{"timeout beats canceled", errors.Join(context.Canceled, context.DeadlineExceeded), "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorClass(tt.err); got != tt.want {
				t.Errorf("ErrorClass = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	if got := ErrorText(errors.New("short")); got != "short" {
		t.Errorf("ErrorText = %q", got)
	}
	long := ErrorText(errors.New(strings.Repeat("x", 600)))
	if len(long) != 500+len("…") || !strings.HasSuffix(long, "…") {
		t.Errorf("ErrorText of 600 bytes is %d bytes", len(long))
	}
}

func TestRetryAfterOf(t *testing.T) {
	err := errors.Join(&Error{Class: ErrRetryable, RetryAfter: time.Minute},
		fmt.Errorf("visit: %w", &Error{Class: ErrRetryable, RetryAfter: time.Hour}), errors.New("plain"))
	if got := RetryAfterOf(err); got != time.Hour {
		t.Errorf("RetryAfterOf = %v, want the longest, 1h", got)
	}
	if got := RetryAfterOf(errors.New("plain")); got != 0 {
		t.Errorf("RetryAfterOf(no connector error) = %v", got)
	}
}
