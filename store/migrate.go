package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// ErrSchemaTooNew is returned by Open for a database whose schema was
// written by a newer authpilot than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this authpilot")

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationsDir is where migrate looks in its file system.
const migrationsDir = "migrations"

// migrationName is NNNN_words.sql; NNNN is the version.
var migrationName = regexp.MustCompile(`^([0-9]+)_[a-z0-9_]+\.sql$`)

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads dir of fsys: every .sql file is a migration, and
// their versions must run 1, 2, 3… without gaps or duplicates.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %q: name must be NNNN_words.sql", e.Name())
		}
		v, err := strconv.Atoi(m[1])
		if err != nil {
			return nil, fmt.Errorf("migration %q: version: %w", e.Name(), err)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %q: version %d, want %d (versions run from 1 without gaps or duplicates)", m.name, m.version, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, errors.New("no migrations found")
	}
	return ms, nil
}

// migrate brings db up to the newest migration in fsys, one transaction
// per migration, recording each in schema_migrations. It refuses a
// database at a version it does not know.
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS, now func() time.Time, log *slog.Logger) error {
	ms, err := loadMigrations(fsys, migrationsDir)
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].version
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range ms {
		applied, err := applyMigration(ctx, db, m, latest, now)
		if err != nil {
			return err
		}
		if applied {
			log.Info("schema migration applied", "version", m.version, "name", m.name)
		}
	}
	return nil
}

// applyMigration applies m unless the database has it already; it reports
// whether it did. The version check runs inside the write transaction, so
// two processes opening one database apply each migration once.
func applyMigration(ctx context.Context, db *sql.DB, m migration, latest int, now func() time.Time) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migration %d: begin: %w", m.version, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var current int
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	if current > latest {
		return false, fmt.Errorf("%w: database is at schema version %d, this authpilot knows up to %d; upgrade authpilot",
			ErrSchemaTooNew, current, latest)
	}
	if current >= m.version {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, fmtTime(now())); err != nil {
		return false, fmt.Errorf("migration %d: record: %w", m.version, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %d: commit: %w", m.version, err)
	}
	return true, nil
}
