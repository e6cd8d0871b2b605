package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/authpilot/authpilot"
)

// SetDeadlines replaces a case's computed deadlines in one transaction. An
// unknown case fails with an error wrapping authpilot.ErrNotFound.
func (s *Store) SetDeadlines(ctx context.Context, caseID string, ds []authpilot.Deadline) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := caseMustExist(ctx, tx, caseID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM deadlines WHERE case_id = ?", caseID); err != nil {
			return fmt.Errorf("delete deadlines: %w", err)
		}
		for _, d := range ds {
			if d.Kind == "" {
				return errors.New("deadline with empty kind")
			}
			if d.Due.IsZero() {
				return fmt.Errorf("deadline %s: zero due time", d.Kind)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO deadlines (case_id, kind, due, rule) VALUES (?, ?, ?, ?)",
				caseID, string(d.Kind), fmtTime(d.Due), d.Rule); err != nil {
				return fmt.Errorf("insert deadline %s: %w", d.Kind, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set deadlines of case %s: %w", caseID, err)
	}
	return nil
}

// Deadlines returns a case's computed deadlines, soonest first (none for a
// case without any, or an unknown one).
func (s *Store) Deadlines(ctx context.Context, caseID string) ([]authpilot.Deadline, error) {
	all, err := s.queryDeadlines(ctx, "SELECT case_id, kind, due, rule FROM deadlines WHERE case_id = ? ORDER BY due, kind, rowid", caseID)
	if err != nil {
		return nil, fmt.Errorf("deadlines of case %s: %w", caseID, err)
	}
	return all[caseID], nil
}

// AllDeadlines returns the computed deadlines of every case that has any,
// by case ID, each soonest first: one query for a whole deadline check.
func (s *Store) AllDeadlines(ctx context.Context) (map[string][]authpilot.Deadline, error) {
	all, err := s.queryDeadlines(ctx, "SELECT case_id, kind, due, rule FROM deadlines ORDER BY case_id, due, kind, rowid")
	if err != nil {
		return nil, fmt.Errorf("all deadlines: %w", err)
	}
	return all, nil
}

func (s *Store) queryDeadlines(ctx context.Context, query string, args ...any) (map[string][]authpilot.Deadline, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]authpilot.Deadline{}
	for rows.Next() {
		var d authpilot.Deadline
		var id, kind, due string
		if err := rows.Scan(&id, &kind, &due, &d.Rule); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		d.Kind = authpilot.DeadlineKind(kind)
		if d.Due, err = parseTime(due); err != nil {
			return nil, err
		}
		out[id] = append(out[id], d)
	}
	return out, rows.Err()
}

// LastRun returns when job last ran, or the zero time if it never did.
func (s *Store) LastRun(ctx context.Context, job string) (time.Time, error) {
	var at string
	err := s.r.QueryRowContext(ctx, "SELECT last_run FROM job_runs WHERE job = ?", job).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("last run of %s: %w", job, err)
	}
	t, err := parseTime(at)
	if err != nil {
		return time.Time{}, fmt.Errorf("last run of %s: %w", job, err)
	}
	return t, nil
}

// SetLastRun records when job last ran.
func (s *Store) SetLastRun(ctx context.Context, job string, at time.Time) error {
	if job == "" {
		return errors.New("set last run: empty job name")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO job_runs (job, last_run) VALUES (?, ?)
			ON CONFLICT (job) DO UPDATE SET last_run = excluded.last_run`, job, fmtTime(at))
		return err
	})
	if err != nil {
		return fmt.Errorf("set last run of %s: %w", job, err)
	}
	return nil
}
