package notifytest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/authpilot/authpilot"
)

// Secrets is an authpilot.Secrets backed by a map.
type Secrets map[string]string

// Get implements authpilot.Secrets.
func (s Secrets) Get(name string) (string, error) {
	v, ok := s[name]
	if !ok {
		return "", fmt.Errorf("secret %q: %w", name, authpilot.ErrSecretNotFound)
	}
	return v, nil
}

// Cases is a notify.CaseReader backed by a map. Safe for concurrent reads.
type Cases map[string]*authpilot.Case

// GetCase returns a copy of the case or an error wrapping ErrNotFound.
func (c Cases) GetCase(_ context.Context, id string) (*authpilot.Case, error) {
	v, ok := c[id]
	if !ok {
		return nil, fmt.Errorf("case %s: %w", id, authpilot.ErrNotFound)
	}
	cp := *v
	return &cp, nil
}

// LogBuffer collects slog output for assertions. Safe for concurrent use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything logged so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// NewLogger returns a debug-level JSON logger writing into a new buffer.
func NewLogger() (*slog.Logger, *LogBuffer) {
	b := &LogBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// AssertNoSecrets fails t if any secret appears in the logs, in an error
// message or in a delivery's stored last error. Empty secrets are ignored;
// pass each secret's distinctive parts too (a URL's token path, a key
// without its prefix).
func AssertNoSecrets(t testing.TB, logs string, errs []error, deliveries []authpilot.Delivery, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(logs, s) {
			t.Errorf("a secret (%d chars, starting %q) appears in the logs", len(s), prefix(s))
		}
		for _, err := range errs {
			if err != nil && strings.Contains(err.Error(), s) {
				t.Errorf("a secret (%d chars, starting %q) appears in error %q", len(s), prefix(s), err.Error())
			}
		}
		for _, d := range deliveries {
			if strings.Contains(d.LastError, s) {
				t.Errorf("a secret (%d chars, starting %q) appears in delivery %d's last error", len(s), prefix(s), d.ID)
			}
		}
	}
}

func prefix(s string) string {
	if len(s) > 6 {
		return s[:6]
	}
	return s
}
