// Package ids makes authpilot's identifiers: the IDs of cases, alerts,
// outbox deliveries and recordings are ULIDs, which sort by the time they
// were made. It is the one place that makes them.
package ids

import (
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

var (
	mu      sync.Mutex
	entropy = ulid.Monotonic(rand.Reader, 0)
)

// New returns a new ULID (26 characters, Crockford base32, upper case)
// stamped with at to the millisecond. IDs made within one millisecond sort
// in the order they were made. A time ULIDs cannot hold (before 1970 or
// after the year 10889) is stamped with the current time instead.
func New(at time.Time) string {
	ms := ulid.Timestamp(at)
	if at.Before(time.Unix(0, 0)) || ms > ulid.MaxTime() {
		ms = ulid.Now()
	}
	mu.Lock()
	defer mu.Unlock()
	id, err := ulid.New(ms, entropy)
	if err != nil {
		// 2^80 IDs within one millisecond: start afresh.
		entropy = ulid.Monotonic(rand.Reader, 0)
		id = ulid.MustNew(ms, entropy)
	}
	return id.String()
}

// Time returns the time an ID made by New is stamped with, to the
// millisecond. Lower case is accepted.
func Time(id string) (time.Time, error) {
	u, err := ulid.ParseStrict(strings.ToUpper(id))
	if err != nil {
		return time.Time{}, fmt.Errorf("id %q: %w", id, err)
	}
	return ulid.Time(u.Time()), nil
}
