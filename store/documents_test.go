package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/filetest"
)

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// contentFiles lists the content files under documents/, by name.
func contentFiles(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(s.docs, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(s.docs, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPutDocument(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t)
	mustCreate(t, s, testCase("c1"))
	mustCreate(t, s, testCase("c2"))
	letter := []byte("%PDF-1.4 determination letter")
	sum := digest(letter)

	doc, err := s.PutDocument(ctx, authpilot.Document{CaseID: "c1", Kind: authpilot.DocLetter, Name: "letter.pdf", ContentType: "application/pdf"}, bytes.NewReader(letter))
	if err != nil {
		t.Fatal(err)
	}
	want := authpilot.Document{SHA256: sum, CaseID: "c1", Kind: authpilot.DocLetter, Name: "letter.pdf",
		ContentType: "application/pdf", Size: int64(len(letter)), CreatedAt: clk.Now()}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("PutDocument = %+v\nwant %+v", doc, want)
	}
	if got, want := contentFiles(t, s), []string{filepath.Join(sum[:2], sum)}; !reflect.DeepEqual(got, want) {
		t.Errorf("content files = %v, want %v", got, want)
	}
	filetest.Mode(t, filepath.Join(s.docs, sum[:2], sum), 0o600)

	t.Run("same content, same record", func(t *testing.T) {
		clk.Advance(time.Hour)
		again, err := s.PutDocument(ctx, authpilot.Document{CaseID: "c1", Kind: authpilot.DocLetter, Name: "letter.pdf", ContentType: "application/pdf"}, bytes.NewReader(letter))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again, doc) {
			t.Errorf("second put = %+v, want the first record %+v", again, doc)
		}
		if n := count(t, s, "SELECT COUNT(*) FROM documents"); n != 1 {
			t.Errorf("%d document rows, want 1", n)
		}
	})
	t.Run("same content for another case", func(t *testing.T) {
		d2, err := s.PutDocument(ctx, authpilot.Document{CaseID: "c2", Kind: authpilot.DocAttachment, Name: "copy.pdf"}, bytes.NewReader(letter))
		if err != nil {
			t.Fatal(err)
		}
		if d2.SHA256 != sum || d2.CaseID != "c2" {
			t.Errorf("PutDocument = %+v", d2)
		}
		if n := count(t, s, "SELECT COUNT(*) FROM documents WHERE sha256 = ?", sum); n != 2 {
			t.Errorf("%d rows for the content, want 2", n)
		}
		if files := contentFiles(t, s); len(files) != 1 {
			t.Errorf("content files = %v, want one", files)
		}
	})
	t.Run("documents of a case", func(t *testing.T) {
		other := []byte("clinical notes")
		if _, err := s.PutDocument(ctx, authpilot.Document{CaseID: "c1", Kind: authpilot.DocAttachment, Name: "notes.txt"}, bytes.NewReader(other)); err != nil {
			t.Fatal(err)
		}
		docs, err := s.Documents(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != 2 || docs[0].SHA256 != sum || docs[1].SHA256 != digest(other) || docs[1].Name != "notes.txt" {
			t.Errorf("Documents(c1) = %+v", docs)
		}
		if _, err := s.Documents(ctx, "nope"); !errors.Is(err, authpilot.ErrNotFound) {
			t.Errorf("Documents of unknown case: err = %v, want ErrNotFound", err)
		}
	})
	t.Run("document of no case", func(t *testing.T) {
		shot := []byte("png bytes")
		if _, err := s.PutDocument(ctx, authpilot.Document{Kind: "screenshot", Name: "portal.png"}, bytes.NewReader(shot)); err != nil {
			t.Fatal(err)
		}
		docs, err := s.Documents(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != 1 || docs[0].SHA256 != digest(shot) {
			t.Errorf("Documents(\"\") = %+v", docs)
		}
	})
	t.Run("unknown case", func(t *testing.T) {
		before := contentFiles(t, s)
		_, err := s.PutDocument(ctx, authpilot.Document{CaseID: "nope", Kind: authpilot.DocLetter}, strings.NewReader("never stored"))
		if !errors.Is(err, authpilot.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
		if after := contentFiles(t, s); !reflect.DeepEqual(after, before) {
			t.Errorf("content files changed from %v to %v", before, after)
		}
	})
	t.Run("failing reader leaves nothing", func(t *testing.T) {
		before := contentFiles(t, s)
		rows := count(t, s, "SELECT COUNT(*) FROM documents")
		r := io.MultiReader(strings.NewReader("partial"), errReader{})
		if _, err := s.PutDocument(ctx, authpilot.Document{CaseID: "c1", Kind: authpilot.DocLetter}, r); err == nil {
			t.Fatal("PutDocument with a failing reader succeeded")
		}
		if after := contentFiles(t, s); !reflect.DeepEqual(after, before) {
			t.Errorf("content files changed from %v to %v", before, after)
		}
		if n := count(t, s, "SELECT COUNT(*) FROM documents"); n != rows {
			t.Errorf("document rows changed from %d to %d", rows, n)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.PutDocument(cctx, authpilot.Document{Kind: authpilot.DocLetter}, strings.NewReader("x")); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestOpenDocument(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	mustCreate(t, s, testCase("c1"))
	content := bytes.Repeat([]byte("0123456789abcdef"), 10000) // several copy buffers
	doc, err := s.PutDocument(ctx, authpilot.Document{CaseID: "c1", Kind: authpilot.DocLetter, Name: "big.pdf"}, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	// A file planted outside the content store must stay out of reach.
	if err := os.WriteFile(filepath.Join(filepath.Dir(s.dir), "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		sha     string
		wantErr error
	}{
		{"stored", doc.SHA256, nil},
		{"upper case", strings.ToUpper(doc.SHA256), nil},
		{"unknown", digest([]byte("nothing")), authpilot.ErrNotFound},
		{"empty", "", ErrInvalidDigest},
		{"short", doc.SHA256[:63], ErrInvalidDigest},
		{"long", doc.SHA256 + "0", ErrInvalidDigest},
		{"traversal", "../../secret", ErrInvalidDigest},
		{"traversal padded to 64", "../../../../../../../../../../../../../../../../../../../../secret", ErrInvalidDigest},
		{"absolute", "/etc/passwd" + strings.Repeat("0", 53), ErrInvalidDigest},
		{"not hex", strings.Repeat("g", 64), ErrInvalidDigest},
		{"separator inside", doc.SHA256[:2] + "/" + doc.SHA256[3:], ErrInvalidDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, got, err := s.OpenDocument(ctx, tt.sha)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				if rc != nil {
					rc.Close()
					t.Error("got content with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, content) {
				t.Errorf("content differs: %d bytes, want %d", len(b), len(content))
			}
			if !reflect.DeepEqual(got, doc) {
				t.Errorf("metadata = %+v, want %+v", got, doc)
			}
		})
	}
	t.Run("content missing", func(t *testing.T) {
		if err := os.Remove(s.contentPath(doc.SHA256)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.OpenDocument(ctx, doc.SHA256); !errors.Is(err, authpilot.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}

func TestStaleTempFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	openAt(t, dir).Close()
	stale := filepath.Join(dir, "documents", tempPrefix+"stale")
	fresh := filepath.Join(dir, "documents", tempPrefix+"fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTemp)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, dir)
	defer s.Close()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file still there (err %v)", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file (another process's write) removed: %v", err)
	}
}

func TestDeadlines(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t)
	mustCreate(t, s, testCase("c1"))
	mustCreate(t, s, testCase("c2"))
	now := clk.Now()
	first := []authpilot.Deadline{
		{Kind: authpilot.DeadlineFollowUp, Due: now.Add(72 * time.Hour), Rule: "follow up after 3 days"},
		{Kind: authpilot.DeadlineDecisionDue, Due: now.Add(7 * 24 * time.Hour), Rule: "CMS-0057-F: 7 calendar days"},
		{Kind: authpilot.DeadlineServiceAtRisk, Due: now.Add(24 * time.Hour)},
	}
	second := []authpilot.Deadline{{Kind: authpilot.DeadlineAppeal, Due: now.Add(60 * 24 * time.Hour), Rule: "65 days from notice"}}
	other := []authpilot.Deadline{{Kind: authpilot.DeadlineAuthExpiry, Due: now.Add(time.Hour)}}
	if err := s.SetDeadlines(ctx, "c2", other); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		set  []authpilot.Deadline
		want []authpilot.Deadline
	}{
		{"soonest first", first, []authpilot.Deadline{first[2], first[0], first[1]}},
		{"replaced", second, second},
		{"cleared", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.SetDeadlines(ctx, "c1", tt.set); err != nil {
				t.Fatal(err)
			}
			got, err := s.Deadlines(ctx, "c1")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Deadlines = %+v\nwant %+v", got, tt.want)
			}
			if got, _ := s.Deadlines(ctx, "c2"); !reflect.DeepEqual(got, other) {
				t.Errorf("other case's deadlines changed: %+v", got)
			}
			all, err := s.AllDeadlines(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]authpilot.Deadline{"c2": other}
			if tt.want != nil {
				want["c1"] = tt.want
			}
			if !reflect.DeepEqual(all, want) {
				t.Errorf("AllDeadlines = %+v\nwant %+v", all, want)
			}
		})
	}
	t.Run("unknown case", func(t *testing.T) {
		if err := s.SetDeadlines(ctx, "nope", first); !errors.Is(err, authpilot.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("invalid deadline writes nothing", func(t *testing.T) {
		if err := s.SetDeadlines(ctx, "c2", []authpilot.Deadline{first[0], {Kind: authpilot.DeadlineFollowUp}}); err == nil {
			t.Fatal("SetDeadlines with a zero due time succeeded")
		}
		if got, _ := s.Deadlines(ctx, "c2"); !reflect.DeepEqual(got, other) {
			t.Errorf("deadlines changed by a failed set: %+v", got)
		}
	})
}
