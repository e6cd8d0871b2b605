// Package store is authpilot's embedded durable state: cases, their
// history, documents, deadlines and the alert outbox in one SQLite file
// (modernc.org/sqlite, no cgo), with document content kept beside it,
// content-addressed by sha256.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/authpilot/authpilot"
)

var _ authpilot.Store = (*Store)(nil)

// dbFile is the database's file name inside the data directory.
const dbFile = "authpilot.db"

// docsDir is the directory of document content inside the data directory.
const docsDir = "documents"

// busyTimeout bounds how long a connection waits for a lock held by
// another process (the CLI beside the daemon) before SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Store is the SQLite implementation of authpilot.Store. Writes go through
// one connection in BEGIN IMMEDIATE transactions, so writers queue instead
// of failing with SQLITE_BUSY; reads use a pool of read-only connections
// and run concurrently with writes (WAL). Every committed write is synced
// (synchronous=FULL) before the method returns.
type Store struct {
	dir  string
	docs string
	w    *sql.DB // the single writer connection
	r    *sql.DB // read-only connections
	now  func() time.Time
	log  *slog.Logger
}

type options struct {
	now func() time.Time
	log *slog.Logger
}

// Option configures Open.
type Option func(*options)

// WithClock sets the clock that stamps versions, events, alerts and
// deliveries (time.Now by default).
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithLogger sets the logger (slog.Default by default).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// Open opens, creating if needed, the store in dataDir: the database
// dataDir/authpilot.db and document content under dataDir/documents. It
// applies pending schema migrations and refuses a database written by a
// newer authpilot (ErrSchemaTooNew).
func Open(ctx context.Context, dataDir string, opts ...Option) (*Store, error) {
	o := options{now: time.Now, log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if dataDir == "" {
		return nil, errors.New("open store: empty data directory")
	}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if strings.ContainsRune(dir, '?') {
		return nil, fmt.Errorf("open store: data directory %q: '?' is not allowed in the path", dir)
	}
	docs := filepath.Join(dir, docsDir)
	if err := os.MkdirAll(docs, 0o700); err != nil {
		return nil, fmt.Errorf("open store: create data directory: %w", err)
	}
	path := filepath.Join(dir, dbFile)
	// Create the file ourselves so that it (and the -wal and -shm files,
	// which SQLite creates with the database's mode) is private.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store: create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open store: create database file: %w", err)
	}

	s := &Store{
		dir:  dir,
		docs: docs,
		now:  o.now,
		log:  o.log,
	}
	ms := busyTimeout.Milliseconds()
	s.w, err = sql.Open("sqlite", fmt.Sprintf(
		"%s?_txlock=immediate&_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)",
		path, ms))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)

	if err := s.w.PingContext(ctx); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store: open database: %w", err)
	}
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store: read journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		s.w.Close()
		return nil, fmt.Errorf("open store: journal mode is %q, want wal", mode)
	}
	if err := migrate(ctx, s.w, migrationFS, s.now, s.log); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}

	s.r, err = sql.Open("sqlite", fmt.Sprintf(
		"%s?_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_query_only=1", path, ms))
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	if err := s.r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: open read connections: %w", err)
	}
	s.removeTempFiles()
	return s, nil
}

// Close closes the database connections.
func (s *Store) Close() error {
	var errs []error
	if s.r != nil {
		if err := s.r.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store readers: %w", err))
		}
	}
	if err := s.w.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store writer: %w", err))
	}
	return errors.Join(errs...)
}

// write runs fn in a BEGIN IMMEDIATE transaction on the writer connection
// and commits it, or rolls it back if fn fails.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// read runs fn in a read transaction, so that it sees one snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to keep
	return fn(tx)
}

// clock returns the store's current time in UTC, without a monotonic
// reading.
func (s *Store) clock() time.Time { return s.now().UTC().Round(0) }

// timeLayout is RFC 3339 with a fixed nine-digit fraction: in UTC, text
// order is time order, which the DueBefore filter and ORDER BY rely on.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time: %w", err)
	}
	return t.UTC(), nil
}

// nullString is NULL for "".
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// queryer is what *sql.Tx and *sql.DB share.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// queryAll runs query on q and returns its rows, each read by scan, in
// order: the loop of every list the store reads row by row.
func queryAll[T any](ctx context.Context, q queryer, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// queryMap runs query on q and returns its rows, each read by scan into a
// key and its value.
func queryMap[K comparable, V any](ctx context.Context, q queryer, scan func(*sql.Rows) (K, V, error), query string, args ...any) (map[K]V, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[K]V{}
	for rows.Next() {
		k, v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

// caseExists reports whether a case is stored.
// caseMustExist fails with authpilot.ErrNotFound when case id is not
// stored.
func caseMustExist(ctx context.Context, q queryer, id string) error {
	exists, err := caseExists(ctx, q, id)
	switch {
	case err != nil:
		return err
	case !exists:
		return authpilot.ErrNotFound
	}
	return nil
}

func caseExists(ctx context.Context, q queryer, id string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM cases WHERE id = ?", id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up case: %w", err)
	}
	return true, nil
}
