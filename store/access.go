package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
)

// LogAccess appends a to the access log with the store's clock (a.At is
// ignored). It returns once the entry is durable.
func (s *Store) LogAccess(ctx context.Context, a authpilot.Access) error {
	if a.Actor == "" || a.Action == "" {
		return errors.New("log access: empty actor or action")
	}
	ids := a.CaseIDs
	if ids == nil {
		ids = []string{}
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("log access: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO access_log (at, actor, action, matched, case_ids, source) VALUES (?, ?, ?, ?, ?, ?)`,
			fmtTime(s.clock()), a.Actor, a.Action, strings.Join(a.Matched, ","), string(b), a.From)
		return err
	})
	if err != nil {
		return fmt.Errorf("log access: %w", err)
	}
	return nil
}

// AccessLog returns the access log entries made at or after since, oldest
// first.
func (s *Store) AccessLog(ctx context.Context, since time.Time) ([]authpilot.Access, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, actor, action, matched, case_ids, source FROM access_log
		WHERE at >= ? ORDER BY id`, fmtTime(since))
	if err != nil {
		return nil, fmt.Errorf("read access log: %w", err)
	}
	defer rows.Close()
	var out []authpilot.Access
	for rows.Next() {
		var (
			a                authpilot.Access
			at, matched, ids string
		)
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &matched, &ids, &a.From); err != nil {
			return nil, fmt.Errorf("read access log: scan: %w", err)
		}
		if a.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("read access log: %w", err)
		}
		if matched != "" {
			a.Matched = strings.Split(matched, ",")
		}
		if err := json.Unmarshal([]byte(ids), &a.CaseIDs); err != nil {
			return nil, fmt.Errorf("read access log: entry %d: %w", a.ID, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read access log: %w", err)
	}
	return out, nil
}
