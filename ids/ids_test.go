package ids_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot/ids"
)

func TestNewIsStampedAndParsesBack(t *testing.T) {
	cases := []struct {
		name string
		at   time.Time
		want time.Time // zero: the current time
	}{
		{"to the millisecond", time.Date(2026, 3, 2, 14, 5, 1, 987654321, time.UTC), time.Date(2026, 3, 2, 14, 5, 1, 987000000, time.UTC)},
		{"other zone", time.Date(2026, 3, 2, 9, 5, 1, 0, time.FixedZone("EST", -5*3600)), time.Date(2026, 3, 2, 14, 5, 1, 0, time.UTC)},
		{"epoch", time.Unix(0, 0), time.Unix(0, 0)},
		{"before 1970", time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), time.Time{}},
		{"zero time", time.Time{}, time.Time{}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now().Truncate(time.Millisecond)
			id := ids.New(tt.at)
			if len(id) != 26 {
				t.Fatalf("New = %q: %d characters, want 26", id, len(id))
			}
			got, err := ids.Time(id)
			if err != nil {
				t.Fatalf("Time(%q): %v", id, err)
			}
			if tt.want.IsZero() {
				if got.Before(before) || got.After(time.Now()) {
					t.Errorf("Time = %v, want the current time", got)
				}
				return
			}
			if !got.Equal(tt.want) {
				t.Errorf("Time = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewSortsInOrderMadeWithinOneMillisecond(t *testing.T) {
	at := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	var made []string
	for range 1000 {
		made = append(made, ids.New(at))
	}
	if !slices.IsSorted(made) {
		t.Error("IDs made in one millisecond do not sort in the order they were made")
	}
}

func TestNewUniqueAcrossGoroutines(t *testing.T) {
	at := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				id := ids.New(at)
				mu.Lock()
				if seen[id] {
					t.Errorf("duplicate id %s", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestTimeRejectsNonIDs(t *testing.T) {
	for _, s := range []string{"", "not-an-id", "01KF000000000000000000000", "01KF00000000000000000000000", "81KF0000000000000000000000"} {
		if _, err := ids.Time(s); err == nil {
			t.Errorf("Time(%q) = nil error", s)
		}
	}
	if _, err := ids.Time("01kf0000000000000000000000"); err != nil {
		t.Errorf("Time of a lower-case id: %v", err)
	}
}

// TestOnlyThisPackageImportsULID keeps ids the one ULID source: no other
// package of the module imports oklog/ulid to make its own.
func TestOnlyThisPackageImportsULID(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := filepath.Abs(".")
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || filepath.Dir(p) == self {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if strings.HasPrefix(strings.Trim(imp.Path.Value, `"`), "github.com/oklog/ulid") {
				rel, _ := filepath.Rel(root, p)
				t.Errorf("%s imports %s: make IDs with ids.New", rel, imp.Path.Value)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
