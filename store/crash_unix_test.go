//go:build unix

package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
)

// helperDirEnv, when set, makes TestHelperProcessWriter write into the
// store in that directory until it is killed.
const helperDirEnv = "AUTHPILOT_STORE_CRASH_HELPER_DIR"

// crashRecords is how many acknowledged writes the parent waits for
// before killing the writer.
const crashRecords = 200

// crashContent is the document content of write i; the parent derives it
// again to check what it reads back.
func crashContent(i int) []byte {
	return fmt.Appendf(nil, "letter %d\n%s", i, strings.Repeat("x", (i*37)%5000))
}

// TestHelperProcessWriter is not a test: TestKill9Durability runs the test
// binary again with only this function selected, and kills it.
func TestHelperProcessWriter(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process of TestKill9Durability")
	}
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "writer: %v\n", err)
		os.Exit(3)
	}
	ctx := context.Background()
	s, err := Open(ctx, dir, WithLogger(discard))
	if err != nil {
		fail(err)
	}
	var next atomic.Int64
	var stdout sync.Mutex
	var wg sync.WaitGroup
	// Several writers, so that the kill lands among concurrent writes.
	for range 4 {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				id := fmt.Sprintf("crash-%06d", i)
				err := s.CreateCase(ctx, testCase(id), authpilot.Changes{
					Events: []authpilot.Event{{Type: authpilot.EventCreated, Actor: "crash-test"}},
					Alerts: []authpilot.Alert{{Type: authpilot.AlertTest, CaseID: id, Title: "created", DedupKey: "create-" + id}},
				})
				if err != nil {
					fail(err)
				}
				_, err = s.UpdateCase(ctx, id, func(c *authpilot.Case) (authpilot.Changes, error) {
					c.Status = authpilot.StatusReady
					return authpilot.Changes{Events: []authpilot.Event{{
						Type: authpilot.EventStatusChanged, From: authpilot.StatusDraft, To: authpilot.StatusReady, Actor: "crash-test",
					}}}, nil
				})
				if err != nil {
					fail(err)
				}
				if _, err := s.Enqueue(ctx, authpilot.Alert{Type: authpilot.AlertTest, Title: "enqueued", DedupKey: "enqueue-" + id}); err != nil {
					fail(err)
				}
				doc, err := s.PutDocument(ctx, authpilot.Document{CaseID: id, Kind: authpilot.DocLetter, Name: "letter.txt"},
					bytes.NewReader(crashContent(i)))
				if err != nil {
					fail(err)
				}
				// Every call above returned nil: claim the writes.
				stdout.Lock()
				fmt.Fprintf(os.Stdout, "DURABLE %d %s %s\n", i, id, doc.SHA256)
				stdout.Unlock()
			}
		})
	}
	wg.Wait()
}

type crashRecord struct {
	i   int
	id  string
	sha string
}

func TestKill9Durability(t *testing.T) {
	if os.Getenv(helperDirEnv) != "" {
		t.Skip("running as the helper process")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcessWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	var records []crashRecord
	parse := func(line string) {
		var r crashRecord
		if _, err := fmt.Sscanf(line, "DURABLE %d %s %s", &r.i, &r.id, &r.sha); err == nil {
			records = append(records, r)
		}
	}
	sc := bufio.NewScanner(stdout)
	for len(records) < crashRecords && sc.Scan() {
		parse(sc.Text())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill writer: %v", err)
	}
	// Lines already in the pipe were printed after their writes returned:
	// they are claims too.
	for sc.Scan() {
		parse(sc.Text())
	}
	if _, err := io.Copy(io.Discard, stdout); err != nil {
		t.Logf("drain writer output: %v", err)
	}
	err = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("writer did not die of SIGKILL (wait: %v); stderr:\n%s", err, stderr.String())
	}
	if len(records) < crashRecords {
		t.Fatalf("writer acknowledged %d writes before dying, want %d; stderr:\n%s", len(records), crashRecords, stderr.String())
	}
	t.Logf("writer killed after %d acknowledged iterations", len(records))

	s := openAt(t, dir)
	defer s.Close()
	var integrity string
	if err := s.r.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&integrity); err != nil {
		t.Fatal(err)
	}
	if integrity != "ok" {
		t.Errorf("integrity_check = %q", integrity)
	}
	for _, r := range records {
		c, err := s.GetCase(ctx, r.id)
		if err != nil {
			t.Errorf("%s: acknowledged case lost: %v", r.id, err)
			continue
		}
		if c.Status != authpilot.StatusReady || c.Version != 2 {
			t.Errorf("%s: acknowledged update lost: status %s version %d", r.id, c.Status, c.Version)
		}
		evs, err := s.Events(ctx, r.id)
		if err != nil || len(evs) != 2 {
			t.Errorf("%s: events = %d, %v; want 2", r.id, len(evs), err)
		}
		for _, key := range []string{"create-" + r.id, "enqueue-" + r.id} {
			if n := count(t, s, "SELECT COUNT(*) FROM alerts WHERE dedup_key = ?", key); n != 1 {
				t.Errorf("%s: alert %s stored %d times, want 1", r.id, key, n)
			}
		}
		want := crashContent(r.i)
		sum := sha256.Sum256(want)
		if hex.EncodeToString(sum[:]) != r.sha {
			t.Errorf("%s: writer reported sha256 %s for content with %x", r.id, r.sha, sum)
		}
		rc, doc, err := s.OpenDocument(ctx, r.sha)
		if err != nil {
			t.Errorf("%s: acknowledged document lost: %v", r.id, err)
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, want) || doc.Size != int64(len(want)) {
			t.Errorf("%s: document content differs (%d bytes, err %v), want %d bytes", r.id, len(got), err, len(want))
		}
		docs, err := s.Documents(ctx, r.id)
		if err != nil || len(docs) != 1 || docs[0].SHA256 != r.sha {
			t.Errorf("%s: Documents = %+v, %v", r.id, docs, err)
		}
	}
}
