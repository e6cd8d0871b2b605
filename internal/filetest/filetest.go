// Package filetest holds checks on files for tests: what the store, the
// recordings and the keyring promise of the files they write.
package filetest

import (
	"io/fs"
	"os"
	"testing"
)

// Mode fails t unless path exists with the permission bits want.
func Mode(t testing.TB, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("mode of %s: %v", path, err)
		return
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode %v, want %v", path, got, want)
	}
}
