package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
)

// tempPrefix starts the names of content being written.
const tempPrefix = ".tmp-"

// staleTemp is how old a temporary file must be for Open to remove it; a
// younger one may belong to another process using the same store.
const staleTemp = time.Hour

// ErrInvalidDigest is returned for a document address that is not 64 hex
// digits.
var ErrInvalidDigest = errors.New("invalid sha256: want 64 hex digits")

// PutDocument streams r into the content store under its sha256 (content
// already stored is kept, so equal content is one file however many cases
// name it) and records doc's metadata, with SHA256, Size and CreatedAt
// filled in. The content is synced to disk before the metadata is
// committed. Storing the same content under the same case, kind and name
// again is a no-op that returns the stored record. A doc.CaseID that names
// no case fails with an error wrapping authpilot.ErrNotFound; an empty one
// stores a document of no case.
func (s *Store) PutDocument(ctx context.Context, doc authpilot.Document, r io.Reader) (authpilot.Document, error) {
	if doc.CaseID != "" {
		if err := caseMustExist(ctx, s.r, doc.CaseID); err != nil {
			return authpilot.Document{}, fmt.Errorf("put document: case %s: %w", doc.CaseID, err)
		}
	}
	sum, size, err := s.storeContent(ctx, r)
	if err != nil {
		return authpilot.Document{}, fmt.Errorf("put document: %w", err)
	}
	doc.SHA256, doc.Size = sum, size
	var out authpilot.Document
	err = s.write(ctx, func(tx *sql.Tx) error {
		if doc.CaseID != "" {
			if err := caseMustExist(ctx, tx, doc.CaseID); err != nil {
				return fmt.Errorf("case %s: %w", doc.CaseID, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO documents
			(sha256, case_id, kind, name, content_type, size, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (sha256, case_id, kind, name) DO NOTHING`,
			doc.SHA256, doc.CaseID, doc.Kind, doc.Name, doc.ContentType, doc.Size, fmtTime(s.clock())); err != nil {
			return fmt.Errorf("insert document: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+documentColumns+` FROM documents
			WHERE sha256 = ? AND case_id = ? AND kind = ? AND name = ?`, doc.SHA256, doc.CaseID, doc.Kind, doc.Name)
		if err != nil {
			return fmt.Errorf("read document: %w", err)
		}
		defer rows.Close()
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return fmt.Errorf("read document: %w", err)
			}
			return errors.New("read document: row missing after insert")
		}
		out, err = scanDocument(rows)
		return err
	})
	if err != nil {
		return authpilot.Document{}, fmt.Errorf("put document %s: %w", sum, err)
	}
	return out, nil
}

// storeContent writes r to a temporary file while hashing it, syncs it and
// renames it to its content address, unless content with that address is
// there already. Either way the directory entry is synced before it
// returns.
func (s *Store) storeContent(ctx context.Context, r io.Reader) (sum string, size int64, err error) {
	tmp, err := os.CreateTemp(s.docs, tempPrefix+"*")
	if err != nil {
		return "", 0, fmt.Errorf("create temporary file: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(tmp, h), ctxReader{ctx: ctx, r: r})
	if err != nil {
		return "", 0, fmt.Errorf("write content: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("sync content: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("close content: %w", err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	dir := filepath.Join(s.docs, sum[:2])
	if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
		if err = os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", 0, fmt.Errorf("create content directory: %w", err)
		}
		if err = syncDir(s.docs); err != nil {
			return "", 0, err
		}
	}
	final := filepath.Join(dir, sum)
	if info, serr := os.Stat(final); serr == nil && info.Mode().IsRegular() && info.Size() == size {
		// Same content is there already; keep it.
		if err = os.Remove(tmpName); err != nil {
			return "", 0, fmt.Errorf("remove duplicate content: %w", err)
		}
	} else if err = os.Rename(tmpName, final); err != nil {
		return "", 0, fmt.Errorf("move content into place: %w", err)
	}
	// Sync the directory even when the file was there: the process that
	// renamed it may have died before its own directory sync.
	if err = syncDir(dir); err != nil {
		return "", 0, err
	}
	return sum, size, nil
}

// syncDir fsyncs a directory, making the names in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync directory: %w", err)
	}
	if err := d.Close(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// removeTempFiles removes content that a crashed write left behind. Only
// old files go: a young one may be another process's write in progress.
func (s *Store) removeTempFiles() {
	entries, err := os.ReadDir(s.docs)
	if err != nil {
		s.log.Warn("list document directory", "err", err)
		return
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < staleTemp {
			continue
		}
		if err := os.Remove(filepath.Join(s.docs, e.Name())); err != nil {
			s.log.Warn("remove stale temporary document", "file", e.Name(), "err", err)
			continue
		}
		s.log.Info("removed stale temporary document", "file", e.Name())
	}
}

// normalizeDigest lower-cases a sha256 and checks it is 64 hex digits, so
// that it is safe to use as a path.
func normalizeDigest(sum string) (string, error) {
	sum = strings.ToLower(sum)
	if len(sum) != sha256.Size*2 {
		return "", ErrInvalidDigest
	}
	for _, r := range sum {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return "", ErrInvalidDigest
		}
	}
	return sum, nil
}

// contentPath is where content with a valid digest lives.
func (s *Store) contentPath(sum string) string {
	return filepath.Join(s.docs, sum[:2], sum)
}

// OpenDocument returns the content stored under sha256 and the first
// metadata recorded for it. An unknown digest fails with an error wrapping
// authpilot.ErrNotFound, a malformed one with ErrInvalidDigest.
func (s *Store) OpenDocument(ctx context.Context, sha256 string) (io.ReadCloser, authpilot.Document, error) {
	sum, err := normalizeDigest(sha256)
	if err != nil {
		return nil, authpilot.Document{}, fmt.Errorf("open document: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+documentColumns+` FROM documents WHERE sha256 = ? ORDER BY id LIMIT 1`, sum)
	if err != nil {
		return nil, authpilot.Document{}, fmt.Errorf("open document %s: %w", sum, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, authpilot.Document{}, fmt.Errorf("open document %s: %w", sum, err)
		}
		return nil, authpilot.Document{}, fmt.Errorf("open document %s: %w", sum, authpilot.ErrNotFound)
	}
	doc, err := scanDocument(rows)
	if err != nil {
		return nil, authpilot.Document{}, fmt.Errorf("open document %s: %w", sum, err)
	}
	f, err := os.Open(s.contentPath(sum))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, authpilot.Document{}, fmt.Errorf("open document %s: content missing: %w", sum, authpilot.ErrNotFound)
	}
	if err != nil {
		return nil, authpilot.Document{}, fmt.Errorf("open document %s: %w", sum, err)
	}
	return f, doc, nil
}

// Documents lists a case's documents in the order they were stored; an
// empty caseID lists the documents of no case. An unknown case fails with
// an error wrapping authpilot.ErrNotFound.
func (s *Store) Documents(ctx context.Context, caseID string) ([]authpilot.Document, error) {
	var out []authpilot.Document
	err := s.read(ctx, func(tx *sql.Tx) error {
		if caseID != "" {
			if err := caseMustExist(ctx, tx, caseID); err != nil {
				return err
			}
		}
		var err error
		out, err = queryAll(ctx, tx, scanDocument, `SELECT `+documentColumns+` FROM documents WHERE case_id = ? ORDER BY id`, caseID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("documents of case %s: %w", caseID, err)
	}
	return out, nil
}

const documentColumns = `sha256, case_id, kind, name, content_type, size, created_at`

func scanDocument(rows *sql.Rows) (authpilot.Document, error) {
	var d authpilot.Document
	var created string
	if err := rows.Scan(&d.SHA256, &d.CaseID, &d.Kind, &d.Name, &d.ContentType, &d.Size, &created); err != nil {
		return d, fmt.Errorf("scan document: %w", err)
	}
	var err error
	d.CreatedAt, err = parseTime(created)
	return d, err
}
