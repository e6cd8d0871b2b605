package notifytest

import (
	"context"
	"strings"
)

// PHI is a notify.PHIRedactor that knows a fixed list of PHI values, for
// a sink kind's test that an alert carrying PHI reaches it redacted.
type PHI []string

// Refresh implements notify.PHIRedactor.
func (PHI) Refresh(context.Context) error { return nil }

// Redact implements notify.PHIRedactor.
func (p PHI) Redact(s string) string {
	for _, v := range p {
		s = strings.ReplaceAll(s, v, "[REDACTED]")
	}
	return s
}
