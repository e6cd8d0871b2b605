package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/authpilot/authpilot"
)

// CasePHI is what identifies a case's patient in text: the patient and
// the practice's order reference (often an MRN).
type CasePHI struct {
	CaseID      string
	Patient     authpilot.Patient
	ExternalRef string
}

// PHIWrittenSince returns the patient and order reference of every case
// created or updated at or after since (every case for a zero since), and
// the latest update time among them (since itself when there is none).
// The agent keeps its store-wide redaction index current with it; only the
// patient fields are read, so a call that finds few cases is cheap.
func (s *Store) PHIWrittenSince(ctx context.Context, since time.Time) ([]CasePHI, time.Time, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, json_extract(data, '$.patient'), external_ref, updated_at
		FROM cases WHERE updated_at >= ?`, fmtTime(since))
	if err != nil {
		return nil, since, fmt.Errorf("read patients written since %s: %w", fmtTime(since), err)
	}
	defer rows.Close()
	latest := since
	var out []CasePHI
	for rows.Next() {
		var (
			c         CasePHI
			patient   []byte
			updatedAt string
		)
		if err := rows.Scan(&c.CaseID, &patient, &c.ExternalRef, &updatedAt); err != nil {
			return nil, since, fmt.Errorf("read patients: scan: %w", err)
		}
		if len(patient) > 0 {
			if err := json.Unmarshal(patient, &c.Patient); err != nil {
				return nil, since, fmt.Errorf("read patients: case %s: decode patient: %w", c.CaseID, err)
			}
		}
		t, err := parseTime(updatedAt)
		if err != nil {
			return nil, since, fmt.Errorf("read patients: case %s: %w", c.CaseID, err)
		}
		if t.After(latest) {
			latest = t
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, since, fmt.Errorf("read patients: %w", err)
	}
	return out, latest, nil
}
