package recordings

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/ids"
)

// Capture modes for Options.Capture and Options.Network.
const (
	CaptureAll       = "all"
	CaptureOnFailure = "on_failure"
	CaptureNone      = "none"
)

// Outcomes of a recording.
const (
	OutcomeOK    = "ok"
	OutcomeError = "error"
	// OutcomeIncomplete is a recording whose run never finished (the
	// process died): Load rebuilt it from steps.jsonl.
	OutcomeIncomplete = "incomplete"
	// OutcomeUnreadable is listed for a recording directory that holds
	// neither a manifest nor a step log.
	OutcomeUnreadable = "unreadable"
)

// IDPrefix starts every recording ID.
const IDPrefix = "rec_"

const (
	manifestFile = "manifest.json"
	stepsFile    = "steps.jsonl"
	dayLayout    = "20060102"
	dirPerm      = 0o700
)

// Options configure a Store.
type Options struct {
	// Capture says when screenshots and DOM snapshots are kept:
	// CaptureAll (the default) or CaptureOnFailure.
	Capture string
	// Network says when network exchanges are kept: CaptureAll (the
	// default: replay needs them), CaptureOnFailure or CaptureNone.
	Network string
	// Retention is how long Prune keeps a recording; zero keeps them
	// forever.
	Retention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives write failures; nil discards them. It never gets
	// PHI: names and errors are redacted first.
	Logger *slog.Logger
	// Index, when set, holds values every recording redacts besides its
	// own (the agent keeps the PHI of every case of its store in it).
	Index *Index
}

// Store is a directory of recordings. It is safe for concurrent use.
type Store struct {
	dir  string
	opts Options
	now  func() time.Time
	log  *slog.Logger
}

// Open returns the store of recordings under dir, creating dir (0700).
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("open recordings: no directory given")
	}
	if opts.Capture == "" {
		opts.Capture = CaptureAll
	}
	if opts.Network == "" {
		opts.Network = CaptureAll
	}
	if opts.Capture != CaptureAll && opts.Capture != CaptureOnFailure {
		return nil, fmt.Errorf("open recordings: capture %q: want %q or %q", opts.Capture, CaptureAll, CaptureOnFailure)
	}
	switch opts.Network {
	case CaptureAll, CaptureOnFailure, CaptureNone:
	default:
		return nil, fmt.Errorf("open recordings: network capture %q: want %q, %q or %q", opts.Network, CaptureAll, CaptureOnFailure, CaptureNone)
	}
	if opts.Retention < 0 {
		return nil, fmt.Errorf("open recordings: negative retention %s", opts.Retention)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open recordings: %w", err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("open recordings: %w", err)
	}
	s := &Store{
		dir:  abs,
		opts: opts,
		now:  opts.Now,
		log:  opts.Logger,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Start begins the recording of one connector run. Nothing is written until
// its first step, artifact or Finish.
func (s *Store) Start(connectorID, job string) *Recording {
	now := s.now()
	id := IDPrefix + ids.New(now)
	return &Recording{
		store:     s,
		id:        id,
		connector: connectorID,
		job:       job,
		started:   now,
		dir:       filepath.Join(s.dir, now.UTC().Format(dayLayout), id),
		log:       s.log.With("recording", id, "connector", connectorID, "job", job),
		red:       redactor{shared: s.opts.Index},
	}
}

// Load returns the recording id of the store.
func (s *Store) Load(id string) (*Manifest, error) { return Load(s.dir, id) }

// List returns the store's recordings, newest first.
func (s *Store) List() ([]Summary, error) { return List(s.dir) }

// Run is what a recording says of its run, in its manifest and in the
// list's summary.
type Run struct {
	ID        string    `json:"id"`
	Connector string    `json:"connector"`
	Job       string    `json:"job"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished,omitzero"`
	// Outcome is OutcomeOK, OutcomeError, or OutcomeIncomplete for a run
	// that never finished (OutcomeUnreadable in a summary).
	Outcome string `json:"outcome"`
}

// Manifest describes one recording.
type Manifest struct {
	Run
	Error *RunError `json:"error,omitempty"`
	Steps []Step    `json:"steps"`
	// Artifacts attached after the last step (or, for an incomplete
	// recording, not claimed by any logged step).
	Artifacts []string `json:"artifacts,omitempty"`
	// Dropped counts artifacts that were refused or failed to write.
	Dropped int `json:"dropped_artifacts,omitempty"`
	// Dir is the recording's directory; Load sets it.
	Dir string `json:"-"`
}

// RunError is the redacted error a run finished with.
type RunError struct {
	// Class is one of the names authpilot.ErrorClass returns.
	Class   string `json:"class"`
	Message string `json:"message"`
}

// Step is one logged step of a run.
type Step struct {
	N          int       `json:"n"`
	Name       string    `json:"name"`
	Start      time.Time `json:"start"`
	DurationMS int64     `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
	Class      string    `json:"class,omitempty"`
	// Artifacts are file names in the recording's directory.
	Artifacts []string `json:"artifacts,omitempty"`
}

// Complete reports whether the run finished and wrote its manifest.
func (m *Manifest) Complete() bool { return m.Outcome != OutcomeIncomplete }

// Files returns every artifact file name, in attach order.
func (m *Manifest) Files() []string {
	var out []string
	for _, s := range m.Steps {
		out = append(out, s.Artifacts...)
	}
	out = append(out, m.Artifacts...)
	sort.SliceStable(out, func(i, j int) bool { return artifactSeq(out[i]) < artifactSeq(out[j]) })
	return out
}

// Summary is one line of List.
type Summary struct {
	Run
	ErrorClass string `json:"error_class,omitempty"`
	Steps      int    `json:"steps"`
	Dir        string `json:"dir"`
}

var (
	idPattern       = regexp.MustCompile(`^` + IDPrefix + `[0-9A-Za-z]{26}$`)
	artifactPattern = regexp.MustCompile(`^(\d{3,})-([a-z0-9_]+)-.+$`)
)

// artifactSeq returns the attach order of an artifact file name.
func artifactSeq(name string) int {
	m := artifactPattern.FindStringSubmatch(name)
	if m == nil {
		return 1 << 30
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return 1 << 30
	}
	return n
}

// artifactKind returns the kind part of an artifact file name.
func artifactKind(name string) string {
	if m := artifactPattern.FindStringSubmatch(name); m != nil {
		return m[2]
	}
	return ""
}

// Load returns recording id from the store directory dir. A recording whose
// run never finished is rebuilt from its step log, with Outcome
// OutcomeIncomplete. A missing recording is an error wrapping
// authpilot.ErrNotFound.
func Load(dir, id string) (*Manifest, error) {
	if !idPattern.MatchString(id) {
		return nil, fmt.Errorf("load recording %q: not a recording id (%s + 26-character ULID)", id, IDPrefix)
	}
	if at, err := ids.Time(strings.TrimPrefix(id, IDPrefix)); err == nil {
		p := filepath.Join(dir, at.UTC().Format(dayLayout), id)
		if isDir(p) {
			return LoadDir(p)
		}
	}
	// The clock that named it may not be the one that dated its directory.
	days, err := dayDirs(dir)
	if err != nil {
		return nil, fmt.Errorf("load recording %s: %w", id, err)
	}
	for _, d := range days {
		if p := filepath.Join(dir, d, id); isDir(p) {
			return LoadDir(p)
		}
	}
	return nil, fmt.Errorf("load recording %s: %w", id, authpilot.ErrNotFound)
}

// Resolve loads a recording named by its ID (looked up under dir) or by the
// path of its directory, as the replay command is given.
func Resolve(dir, idOrPath string) (*Manifest, error) {
	if idPattern.MatchString(idOrPath) && !isDir(idOrPath) {
		return Load(dir, idOrPath)
	}
	return LoadDir(idOrPath)
}

// LoadDir returns the recording in directory path.
func LoadDir(path string) (*Manifest, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load recording: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(abs, manifestFile))
	switch {
	case err == nil:
		var m Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("load recording %s: decode manifest: %w", filepath.Base(abs), err)
		}
		m.Dir = abs
		return &m, nil
	case errors.Is(err, fs.ErrNotExist):
		return loadPartial(abs)
	default:
		return nil, fmt.Errorf("load recording %s: %w", filepath.Base(abs), err)
	}
}

// stepLine is one line of steps.jsonl.
type stepLine struct {
	Event     string    `json:"event"` // "start" or "step"
	ID        string    `json:"id,omitempty"`
	Connector string    `json:"connector,omitempty"`
	Job       string    `json:"job,omitempty"`
	Started   time.Time `json:"started,omitzero"`
	*Step
}

// loadPartial rebuilds the manifest of a run that never finished.
func loadPartial(dir string) (*Manifest, error) {
	name := filepath.Base(dir)
	f, err := os.Open(filepath.Join(dir, stepsFile))
	if errors.Is(err, fs.ErrNotExist) {
		if isDir(dir) {
			return nil, fmt.Errorf("load recording %s: neither %s nor %s: %w", name, manifestFile, stepsFile, authpilot.ErrNotFound)
		}
		return nil, fmt.Errorf("load recording %s: %w", name, authpilot.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load recording %s: %w", name, err)
	}
	defer f.Close()
	m := &Manifest{Run: Run{ID: name, Outcome: OutcomeIncomplete}, Dir: dir, Steps: []Step{}}
	claimed := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var l stepLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			continue // a line torn by the crash
		}
		switch l.Event {
		case "start":
			m.ID, m.Connector, m.Job, m.Started = l.ID, l.Connector, l.Job, l.Started
		case "step":
			if l.Step != nil {
				m.Steps = append(m.Steps, *l.Step)
				for _, a := range l.Step.Artifacts {
					claimed[a] = true
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("load recording %s: read %s: %w", name, stepsFile, err)
	}
	if m.Started.IsZero() {
		m.Started = idTime(name)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load recording %s: %w", name, err)
	}
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && artifactPattern.MatchString(n) && !claimed[n] {
			m.Artifacts = append(m.Artifacts, n)
		}
	}
	sort.SliceStable(m.Artifacts, func(i, j int) bool { return artifactSeq(m.Artifacts[i]) < artifactSeq(m.Artifacts[j]) })
	return m, nil
}

// idTime returns the time in a recording ID, or zero.
func idTime(id string) time.Time {
	at, err := ids.Time(strings.TrimPrefix(id, IDPrefix))
	if err != nil {
		return time.Time{}
	}
	return at
}

// List returns the recordings under dir, newest first. A recording
// directory that cannot be read is listed with Outcome OutcomeUnreadable.
func List(dir string) ([]Summary, error) {
	days, err := dayDirs(dir)
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	var out []Summary
	for _, d := range days {
		entries, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil {
			return nil, fmt.Errorf("list recordings: %w", err)
		}
		for _, e := range entries {
			if !e.IsDir() || !strings.HasPrefix(e.Name(), IDPrefix) {
				continue
			}
			out = append(out, summarize(filepath.Join(dir, d, e.Name())))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.After(out[j].Started)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// summarize reads the recording in directory p; one it cannot read is
// listed as unreadable.
func summarize(p string) Summary {
	m, err := LoadDir(p)
	if err != nil {
		name := filepath.Base(p)
		return Summary{Run: Run{ID: name, Started: idTime(name), Outcome: OutcomeUnreadable}, Dir: p}
	}
	s := Summary{Run: m.Run, Steps: len(m.Steps), Dir: m.Dir}
	if m.Error != nil {
		s.ErrorClass = m.Error.Class
	}
	return s
}

// Latest returns each named connector's newest recording under dir,
// reading manifests newest first (by day, then by ID, which starts with
// the time) and stopping once every connector has one, so a page that
// shows the last run does not read every recording kept.
func Latest(dir string, connectors []string) (map[string]Summary, error) {
	days, err := dayDirs(dir)
	if err != nil {
		return nil, fmt.Errorf("latest recordings: %w", err)
	}
	want := map[string]bool{}
	for _, c := range connectors {
		want[c] = true
	}
	out := map[string]Summary{}
	for i := len(days) - 1; i >= 0 && len(out) < len(want); i-- {
		entries, err := os.ReadDir(filepath.Join(dir, days[i]))
		if err != nil {
			return nil, fmt.Errorf("latest recordings: %w", err)
		}
		for j := len(entries) - 1; j >= 0 && len(out) < len(want); j-- {
			e := entries[j]
			if !e.IsDir() || !strings.HasPrefix(e.Name(), IDPrefix) {
				continue
			}
			s := summarize(filepath.Join(dir, days[i], e.Name()))
			if _, seen := out[s.Connector]; want[s.Connector] && !seen {
				out[s.Connector] = s
			}
		}
	}
	return out, nil
}

// dayDirs returns the YYYYMMDD directories under dir, oldest first.
func dayDirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if _, err := time.Parse(dayLayout, e.Name()); err == nil && e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Prune deletes the recordings that started before now minus the store's
// Retention, by the start in their manifest (or step log), falling back to
// the day of their directory, and removes day directories left empty. It
// returns how many recordings it deleted. With no Retention it does nothing.
func (s *Store) Prune(now time.Time) (int, error) {
	if s.opts.Retention <= 0 {
		return 0, nil
	}
	cutoff := now.Add(-s.opts.Retention)
	days, err := dayDirs(s.dir)
	if err != nil {
		return 0, fmt.Errorf("prune recordings: %w", err)
	}
	removed := 0
	var errs []error
	for _, d := range days {
		day, _ := time.Parse(dayLayout, d)
		if day.After(cutoff) {
			continue // every recording of this day is newer than the cutoff
		}
		dayPath := filepath.Join(s.dir, d)
		entries, err := os.ReadDir(dayPath)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		left := len(entries)
		for _, e := range entries {
			if !e.IsDir() || !strings.HasPrefix(e.Name(), IDPrefix) {
				continue
			}
			p := filepath.Join(dayPath, e.Name())
			started := recordingStart(p)
			if started.IsZero() {
				started = day.Add(24*time.Hour - time.Nanosecond) // latest it can have started
			}
			if !started.Before(cutoff) {
				continue
			}
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, err)
				continue
			}
			removed++
			left--
		}
		if left == 0 {
			if err := os.Remove(dayPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if removed > 0 {
		s.log.Info("recordings pruned", "removed", removed, "cutoff", cutoff)
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("prune recordings: %w", err)
	}
	return removed, nil
}

// recordingStart returns when the recording in dir started, per its
// manifest or step log, or zero.
func recordingStart(dir string) time.Time {
	if data, err := os.ReadFile(filepath.Join(dir, manifestFile)); err == nil {
		var m struct {
			Started time.Time `json:"started"`
		}
		if json.Unmarshal(data, &m) == nil && !m.Started.IsZero() {
			return m.Started
		}
	}
	if f, err := os.Open(filepath.Join(dir, stepsFile)); err == nil {
		defer f.Close()
		line, _ := bufio.NewReader(f).ReadBytes('\n')
		var l stepLine
		if json.Unmarshal(bytes.TrimSpace(line), &l) == nil && l.Event == "start" && !l.Started.IsZero() {
			return l.Started
		}
	}
	return time.Time{}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
