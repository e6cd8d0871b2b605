package recordings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/authpilot/authpilot"
)

// ErrFinished is returned by a second Finish.
var ErrFinished = errors.New("recording already finished")

// Recording is the evidence of one connector run. It implements
// connectors.Recorder and connectors.TextRedactor (checked in
// guard_test.go: recordings does not import connectors, which record into
// it) and is safe for concurrent use (network exchanges may
// be attached from a browser's event goroutine while steps are logged).
type Recording struct {
	store     *Store
	id        string
	connector string
	job       string
	started   time.Time
	dir       string
	log       *slog.Logger
	red       redactor

	warnFormat sync.Once

	mu       sync.Mutex
	created  bool
	seq      int
	steps    []Step
	pending  []string
	dropped  int
	writeErr error
	finished bool
}

// ID returns the recording's ID ("rec_" + ULID).
func (r *Recording) ID() string { return r.id }

// Dir returns the directory the recording is written to (created on the
// first write).
func (r *Recording) Dir() string { return r.dir }

// Redact registers values (secrets, PHI) never to be written verbatim; see
// the package doc for how they are matched. Values shorter than
// MinRedactLen characters are ignored. Register them before the steps and
// artifacts that may contain them.
func (r *Recording) Redact(values ...string) { r.red.add(values...) }

// RedactText returns s with every value registered with Redact, or held by
// the store's Options.Index, replaced by Redacted. A connector uses it for
// text it keeps out of the recording's reach, such as the text of a page
// it masks before a screenshot (connectors.TextRedactor).
func (r *Recording) RedactText(s string) string { return r.red.string(s) }

// Wants reports whether an artifact of kind is kept for a step that failed
// or not: screenshots and DOM snapshots per Options.Capture, network
// exchanges per Options.Network.
func (r *Recording) Wants(kind string, failed bool) bool {
	mode := r.store.opts.Capture
	if kind == "network" {
		mode = r.store.opts.Network
	}
	switch mode {
	case CaptureAll:
		return true
	case CaptureOnFailure:
		return failed
	default:
		return false
	}
}

// Step logs one step that ended now. Its name and error are redacted. The
// artifacts attached since the previous step are listed with it.
func (r *Recording) Step(name string, start time.Time, err error) {
	now := r.store.now()
	st := Step{Name: r.red.string(name), Start: start}
	if !start.IsZero() {
		st.DurationMS = max(now.Sub(start).Milliseconds(), 0)
	}
	if err != nil {
		st.Error = r.red.string(err.Error())
		st.Class = authpilot.ErrorClass(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		r.log.Warn("recording step after finish ignored")
		return
	}
	st.N = len(r.steps) + 1
	st.Artifacts, r.pending = r.pending, nil
	r.steps = append(r.steps, st)
	if err := r.ensureDir(); err != nil {
		return
	}
	if err := appendLine(filepath.Join(r.dir, stepsFile), stepLine{Event: "step", Step: &st}); err != nil {
		r.fail("recording step not written", err)
	}
}

// Attach stores an artifact of the current step, redacted: kind
// "screenshot" (PNG or JPEG bytes, kept as they are), "dom" (HTML; see
// DOMSnapshot) or "network" (an Exchange as JSON; other JSON is kept
// redacted as JSON but cannot be replayed, and non-JSON is dropped). Other
// kinds are redacted as text of contentType.
// name is a file name hint. Attach does not consult Wants: callers do.
func (r *Recording) Attach(kind, name, contentType string, data []byte) {
	kind = sanitize(strings.ToLower(kind), 20, false)
	if kind == "" {
		kind = "file"
	}
	var ext string
	switch kind {
	case "network":
		ex, err := ParseExchange(data)
		if err != nil {
			if !json.Valid(data) {
				r.drop("network attachment dropped: not json", err)
				return
			}
			// Another JSON shape: kept as evidence, redacted as JSON,
			// but replay cannot serve it.
			r.warnFormat.Do(func() {
				r.log.Warn("network attachment not in exchange format: kept, not replayable", "err", err)
			})
			data, ext = r.red.foreignJSON(data), ".json"
			break
		}
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false) // keep URLs and bodies readable
		enc.SetIndent("", "  ")
		if err := enc.Encode(r.red.exchange(ex)); err != nil {
			r.drop("network attachment dropped: encode", err)
			return
		}
		data, ext = out.Bytes(), ".json"
	case "dom":
		if u := snapshotURL(data); u != "" {
			data = []byte(strings.Replace(string(data), u, redactURLParams(u), 1))
		}
		data, ext = r.red.body("text/html", data), ".html"
	case "screenshot":
		ext = ".png"
		if strings.Contains(contentType, "jpeg") {
			ext = ".jpg"
		}
	default:
		data, ext = r.red.body(contentType, data), extension(contentType)
	}
	hint := r.red.string(name)
	hint = strings.ReplaceAll(hint, Redacted, "REDACTED")
	hint = strings.TrimSuffix(sanitize(hint, 60, true), ext)
	if hint == "" {
		hint = kind
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		r.log.Warn("recording attachment after finish ignored", "kind", kind)
		return
	}
	r.seq++
	file := fmt.Sprintf("%03d-%s-%s%s", r.seq, kind, hint, ext)
	if err := r.ensureDir(); err != nil {
		r.dropped++
		return
	}
	if err := writeFileAtomic(r.dir, file, data, false); err != nil {
		r.dropped++
		r.fail("recording attachment not written", err)
		return
	}
	r.pending = append(r.pending, file)
}

func (r *Recording) drop(msg string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped++
	r.log.Warn(msg, "err", err)
}

// Finish writes the manifest: the run's outcome, its redacted error and the
// step log. It returns an error if the manifest, or any step or artifact
// before it, could not be written. A second Finish returns ErrFinished.
func (r *Recording) Finish(runErr error) error {
	now := r.store.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return fmt.Errorf("finish recording %s: %w", r.id, ErrFinished)
	}
	r.finished = true
	m := Manifest{
		Run:   Run{ID: r.id, Connector: r.connector, Job: r.job, Started: r.started, Finished: now, Outcome: OutcomeOK},
		Steps: r.steps, Artifacts: r.pending, Dropped: r.dropped,
	}
	if m.Steps == nil {
		m.Steps = []Step{}
	}
	if runErr != nil {
		m.Outcome = OutcomeError
		m.Error = &RunError{Class: authpilot.ErrorClass(runErr), Message: r.red.string(runErr.Error())}
	}
	if err := r.ensureDir(); err != nil {
		return fmt.Errorf("finish recording %s: %w", r.id, err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("finish recording %s: encode manifest: %w", r.id, err)
	}
	if err := writeFileAtomic(r.dir, manifestFile, data, true); err != nil {
		r.fail("recording manifest not written", err)
	}
	if r.writeErr != nil {
		return fmt.Errorf("finish recording %s: %w", r.id, r.writeErr)
	}
	return nil
}

// ensureDir creates the recording's directory and step log on first use.
// r.mu is held.
func (r *Recording) ensureDir() error {
	if r.created {
		return nil
	}
	if r.writeErr != nil {
		return r.writeErr
	}
	if err := os.MkdirAll(r.dir, dirPerm); err != nil {
		r.fail("recording directory not created", err)
		return r.writeErr
	}
	// MkdirAll leaves existing parents alone; the day directory is ours.
	_ = os.Chmod(filepath.Dir(r.dir), dirPerm)
	start := stepLine{Event: "start", ID: r.id, Connector: r.connector, Job: r.job, Started: r.started}
	if err := appendLine(filepath.Join(r.dir, stepsFile), start); err != nil {
		r.fail("recording step log not created", err)
		return r.writeErr
	}
	r.created = true
	return nil
}

// fail keeps the first write error for Finish and logs it. r.mu is held.
func (r *Recording) fail(msg string, err error) {
	r.log.Error(msg, "err", err)
	if r.writeErr == nil {
		r.writeErr = err
	}
}

// sanitize keeps a file-name-safe form of s, at most n bytes: letters,
// digits, '_' and, when punct is set, '.' and '-'.
func sanitize(s string, n int, punct bool) string {
	var b strings.Builder
	lastSep := true
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', punct && (c == '.' || c == '-'):
			b.WriteRune(c)
			lastSep = false
		case !lastSep:
			b.WriteByte('_')
			lastSep = true
		}
	}
	out := strings.Trim(b.String(), "._-")
	if len(out) > n {
		out = strings.TrimRight(out[:n], "._-")
	}
	return out
}

func extension(contentType string) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "text/html":
		return ".html"
	case "application/json":
		return ".json"
	case "text/plain":
		return ".txt"
	case "application/pdf":
		return ".pdf"
	}
	if exts, err := mime.ExtensionsByType(mt); err == nil && len(exts) > 0 {
		return exts[0]
	}
	return ".bin"
}
