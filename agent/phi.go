package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/recordings"
	"github.com/authpilot/authpilot/store"
)

// phiIndex keeps every PHI value the store holds — each case's patient
// names, date of birth (in the spellings payers print), member ID and
// order reference — in one recordings.Index. Every recording redacts with
// it (not only the visit's own cases: list pages show other patients), and
// the dispatcher redacts every alert bound for a sink without include_phi
// with it.
//
// Cases are written by the daemon and by the CLI beside it, so the index
// is refreshed from the store rather than fed by intake: a refresh reads
// the patients of the cases written since the last one (with an overlap,
// since a writer's clock is read before it waits for the write lock).
// Values are never removed: a case deleted or corrected keeps its old
// values redacted, which errs on the safe side.
type phiIndex struct {
	idx   *recordings.Index
	store authpilot.Store

	mu     sync.Mutex
	loaded bool
	latest time.Time // latest updated_at read so far
}

// phiOverlap is how far before the latest write already read a refresh
// reads again: longer than a writer can wait for the store's write lock
// between taking its timestamp and committing.
const phiOverlap = time.Minute

// phiSource is the store's cheap read of patients written since a time
// (*store.Store); other stores are read whole.
type phiSource interface {
	PHIWrittenSince(ctx context.Context, since time.Time) ([]store.CasePHI, time.Time, error)
}

var (
	_ phiSource          = (*store.Store)(nil)
	_ notify.PHIRedactor = (*phiIndex)(nil)
)

func newPHIIndex(st authpilot.Store) *phiIndex {
	return &phiIndex{idx: recordings.NewIndex(), store: st}
}

// Refresh adds the values of the cases written since the last refresh
// (every case the first time). It implements notify.PHIRedactor.
func (p *phiIndex) Refresh(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if src, ok := p.store.(phiSource); ok {
		var since time.Time
		if p.loaded {
			since = p.latest.Add(-phiOverlap)
		}
		rows, latest, err := src.PHIWrittenSince(ctx, since)
		if err != nil {
			return fmt.Errorf("refresh phi index: %w", err)
		}
		for _, r := range rows {
			p.idx.Add(caseValues(r.Patient, r.ExternalRef)...)
		}
		if latest.After(p.latest) {
			p.latest = latest
		}
		p.loaded = true
		return nil
	}
	cases, err := p.store.ListCases(ctx, authpilot.CaseFilter{})
	if err != nil {
		return fmt.Errorf("refresh phi index: %w", err)
	}
	for _, c := range cases {
		p.idx.Add(caseValues(c.Patient, c.ExternalRef)...)
	}
	p.loaded = true
	return nil
}

// Redact implements notify.PHIRedactor.
func (p *phiIndex) Redact(s string) string { return p.idx.Redact(s) }

// caseValues are the values of one case to redact: the patient's names
// (each part and the usual combinations), DOB (recordings spells it the
// ways payers print dates), member ID, and the order reference.
func caseValues(pt authpilot.Patient, externalRef string) []string {
	return append(recordings.PatientValues(pt), externalRef)
}
