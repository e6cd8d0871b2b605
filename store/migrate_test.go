package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestReopenDoesNotReapply(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := newClock()
	s := openAt(t, dir, WithClock(clk.Now))
	mustCreate(t, s, testCase("c1"))
	var applied string
	if err := s.r.QueryRowContext(ctx, "SELECT applied_at FROM schema_migrations WHERE version = 1").Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	clk.Advance(time.Hour)
	s = openAt(t, dir, WithClock(clk.Now))
	defer s.Close()
	ms, err := loadMigrations(migrationFS, migrationsDir)
	if err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, "SELECT COUNT(*) FROM schema_migrations"); got != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", got, len(ms))
	}
	var again string
	if err := s.r.QueryRowContext(ctx, "SELECT applied_at FROM schema_migrations WHERE version = 1").Scan(&again); err != nil {
		t.Fatal(err)
	}
	if again != applied {
		t.Errorf("migration 1 applied_at changed from %s to %s", applied, again)
	}
	if _, err := s.GetCase(ctx, "c1"); err != nil {
		t.Errorf("data lost on reopen: %v", err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openAt(t, dir)
	if _, err := s.w.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 'x')"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, dir, WithLogger(discard))
	if err == nil {
		s.Close()
		t.Fatal("Open of a newer database succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("err = %v, want ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), "version 999") {
		t.Errorf("error %q does not name the database's version", err)
	}
}

func TestMigrateIncrementally(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	now := newClock().Now

	v1 := fstest.MapFS{
		"migrations/0001_first.sql": {Data: []byte("CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);")},
		"migrations/README":         {Data: []byte("not a migration")},
	}
	v2 := fstest.MapFS{
		"migrations/0001_first.sql":  v1["migrations/0001_first.sql"],
		"migrations/0002_second.sql": {Data: []byte("INSERT INTO a VALUES (2);")},
	}
	rows := func() int {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM a").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	steps := []struct {
		name     string
		fsys     fstest.MapFS
		wantRows int
	}{
		{"first", v1, 1},
		{"first again", v1, 1},
		{"second", v2, 2},
		{"second again", v2, 2},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := migrate(ctx, db, st.fsys, now, discard); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			if got := rows(); got != st.wantRows {
				t.Errorf("table a has %d rows, want %d (a migration ran twice or not at all)", got, st.wantRows)
			}
		})
	}
	t.Run("older binary refused", func(t *testing.T) {
		err := migrate(ctx, db, v1, now, discard)
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Errorf("err = %v, want ErrSchemaTooNew", err)
		}
	})
	t.Run("failed migration leaves nothing", func(t *testing.T) {
		bad := fstest.MapFS{
			"migrations/0001_first.sql":  v1["migrations/0001_first.sql"],
			"migrations/0002_second.sql": v2["migrations/0002_second.sql"],
			"migrations/0003_bad.sql":    {Data: []byte("INSERT INTO a VALUES (3); INSERT INTO nosuchtable VALUES (1);")},
		}
		if err := migrate(ctx, db, bad, now, discard); err == nil {
			t.Fatal("bad migration succeeded")
		}
		if got := rows(); got != 2 {
			t.Errorf("table a has %d rows after a failed migration, want 2", got)
		}
		var v int
		if err := db.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != 2 {
			t.Errorf("schema version = %d after a failed migration, want 2", v)
		}
	})
}

func TestLoadMigrationsRejects(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("SELECT 1;")}
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"none", fstest.MapFS{"migrations/x.txt": sql}, "no migrations"},
		{"bad name", fstest.MapFS{"migrations/first.sql": sql}, "NNNN_words.sql"},
		{"gap", fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/0003_c.sql": sql}, "want 2"},
		{"duplicate", fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/0001_b.sql": sql}, "want 2"},
		{"not from one", fstest.MapFS{"migrations/0002_a.sql": sql}, "want 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadMigrations(tt.fsys, migrationsDir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
