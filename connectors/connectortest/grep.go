package connectortest

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authpilot/authpilot/recordings"
)

// GrepRecordings fails t for every needle (what -> value) found in any
// file under dir, a recordings directory (ASCII case aside); recorded
// exchanges are searched with their base64 bodies decoded. It fails t too
// when fewer than minFiles files are there: a search of nothing proves
// nothing.
func GrepRecordings(t testing.TB, dir string, minFiles int, needles map[string]string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if ex, err := recordings.ParseExchange(b); err == nil {
			// Response bodies are stored in base64: look at them decoded.
			b = append(append(b, ex.Body...), ex.RequestBody...)
		}
		for what, n := range needles {
			if bytes.Contains(bytes.ToLower(b), bytes.ToLower([]byte(n))) {
				t.Errorf("%s holds %s %q", strings.TrimPrefix(path, dir), what, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < minFiles {
		t.Fatalf("only %d files recorded under %s", files, dir)
	}
}
