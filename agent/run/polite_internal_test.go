package run

import (
	"errors"
	"fmt"
	"testing"

	"github.com/authpilot/authpilot"
)

// TestNeedsHumanAtLogin: only a needs_human of a login pauses the
// connector; one about a case (a missing attachment) does not.
func TestNeedsHumanAtLogin(t *testing.T) {
	nh := func(step string) error {
		return &authpilot.Error{Class: authpilot.ErrNeedsHuman, Step: step, Msg: "x"}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"open failed", &loginError{nh("open")}, true},
		{"captcha in a relogin", fmt.Errorf("poll: %w", nh("login.steps[5].expect.mfa.then[2] expect")), true},
		{"joined with a case error", errors.Join(errors.New("case 1"), nh("login.steps[2] goto")), true},
		{"missing attachment", nh("submit.steps[12] upload"), false},
		{"retryable at login", &loginError{&authpilot.Error{Class: authpilot.ErrRetryable, Step: "login.steps[0] goto"}}, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := needsHumanAtLogin(tt.err); got != tt.want {
				t.Fatalf("needsHumanAtLogin(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
