package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
)

// Idempotency returns the record stored for key, or an error wrapping
// authpilot.ErrNotFound.
func (s *Store) Idempotency(ctx context.Context, key string) (*authpilot.IdempotencyRecord, error) {
	var rec authpilot.IdempotencyRecord
	var at string
	err := s.r.QueryRowContext(ctx, `SELECT key, route, request_hash, status, case_id, body, created_at
		FROM idempotency_keys WHERE key = ?`, key).Scan(&rec.Key, &rec.Route, &rec.RequestHash, &rec.Status, &rec.CaseID, &rec.Body, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("idempotency key: %w", authpilot.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read idempotency key: %w", err)
	}
	if rec.CreatedAt, err = parseTime(at); err != nil {
		return nil, err
	}
	return &rec, nil
}

// PutIdempotency stores a record made outside a case change. A key already
// stored fails with an error wrapping authpilot.ErrConflict.
func (s *Store) PutIdempotency(ctx context.Context, rec authpilot.IdempotencyRecord) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return insertIdempotency(ctx, tx, &rec, rec.CaseID, s.clock())
	})
	if err != nil {
		return fmt.Errorf("store idempotency key: %w", err)
	}
	return nil
}

// insertIdempotency writes rec (if any) for caseID inside tx.
func insertIdempotency(ctx context.Context, tx *sql.Tx, rec *authpilot.IdempotencyRecord, caseID string, now time.Time) error {
	if rec == nil {
		return nil
	}
	if rec.Key == "" || len(rec.RequestHash) != 64 {
		return errors.New("idempotency record: empty key or bad request hash")
	}
	if rec.CaseID != "" {
		caseID = rec.CaseID
	}
	var body any
	if rec.Body != nil {
		body = rec.Body
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (key, route, request_hash, status, case_id, body, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, rec.Key, rec.Route, rec.RequestHash, rec.Status, caseID, body, fmtTime(now))
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE constraint failed") {
			return fmt.Errorf("idempotency key already used: %w", authpilot.ErrConflict)
		}
		return fmt.Errorf("insert idempotency key: %w", err)
	}
	return nil
}
