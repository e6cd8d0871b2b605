package recordings

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/filetest"
)

func TestRecordFinishLoad(t *testing.T) {
	s, clk := openStore(t, Options{})
	rec := s.Start("carelon", "poll")
	if !strings.HasPrefix(rec.ID(), IDPrefix) || len(rec.ID()) != len(IDPrefix)+26 {
		t.Fatalf("ID = %q, want rec_ + ULID", rec.ID())
	}
	if _, err := os.Stat(rec.Dir()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("directory exists before the first write: %v", err)
	}

	start := clk.Now()
	clk.Advance(812 * time.Millisecond)
	rec.Attach("network", "login", "application/json",
		mustJSON(t, htmlExchange("POST", "http://127.0.0.1:1234/login", 302, "", nil)))
	rec.Attach("screenshot", "login.png", "image/png", pngBytes)
	rec.Step("login", start, nil)

	start = clk.Now()
	clk.Advance(2 * time.Second)
	rec.Attach("dom", "auth list", "text/html", DOMSnapshot("http://127.0.0.1:1234/auth/list", []byte("<p>list</p>")))
	stepErr := &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: "poll.steps[2] wait_for", Msg: "no #results"}
	rec.Step("poll.steps[2] wait_for", start, stepErr)
	rec.Attach("screenshot", "failure", "image/jpeg", pngBytes)

	clk.Advance(time.Second)
	if err := rec.Finish(fmt.Errorf("poll: %w", stepErr)); err != nil {
		t.Fatalf("Finish: %v", err)
	}

	m, err := Load(s.Dir(), rec.ID())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	wantDir := filepath.Join(s.Dir(), "20260302", rec.ID())
	checkValues(t, []value{
		{"id", m.ID, rec.ID()},
		{"connector", m.Connector, "carelon"},
		{"job", m.Job, "poll"},
		{"started", m.Started, t0},
		{"finished", m.Finished, t0.Add(3812 * time.Millisecond)},
		{"outcome", m.Outcome, OutcomeError},
		{"complete", m.Complete(), true},
		{"error class", m.Error.Class, "portal_changed"},
		{"error message", m.Error.Message, "poll: poll.steps[2] wait_for: portal changed: no #results"},
		{"dir", m.Dir, wantDir},
		{"steps", len(m.Steps), 2},
		{"step 1 n", m.Steps[0].N, 1},
		{"step 1 name", m.Steps[0].Name, "login"},
		{"step 1 duration", m.Steps[0].DurationMS, int64(812)},
		{"step 1 error", m.Steps[0].Error, ""},
		{"step 1 artifacts", strings.Join(m.Steps[0].Artifacts, ","), "001-network-login.json,002-screenshot-login.png"},
		{"step 2 start", m.Steps[1].Start, t0.Add(812 * time.Millisecond)},
		{"step 2 duration", m.Steps[1].DurationMS, int64(2000)},
		{"step 2 class", m.Steps[1].Class, "portal_changed"},
		{"step 2 error", m.Steps[1].Error, "poll.steps[2] wait_for: portal changed: no #results"},
		{"step 2 artifacts", strings.Join(m.Steps[1].Artifacts, ","), "003-dom-auth_list.html"},
		{"trailing artifacts", strings.Join(m.Artifacts, ","), "004-screenshot-failure.jpg"},
		{"files", strings.Join(m.Files(), ","), "001-network-login.json,002-screenshot-login.png,003-dom-auth_list.html,004-screenshot-failure.jpg"},
	})

	t.Run("files on disk", func(t *testing.T) {
		for _, f := range append(m.Files(), manifestFile, stepsFile) {
			filetest.Mode(t, filepath.Join(m.Dir, f), 0o600)
		}
		for _, d := range []string{m.Dir, filepath.Dir(m.Dir)} {
			filetest.Mode(t, d, 0o700)
		}
		entries, _ := os.ReadDir(m.Dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				t.Errorf("temporary file left: %s", e.Name())
			}
		}
		shot, err := os.ReadFile(filepath.Join(m.Dir, "002-screenshot-login.png"))
		if err != nil || string(shot) != string(pngBytes) {
			t.Errorf("screenshot not stored as given: %q, %v", shot, err)
		}
	})

	t.Run("list", func(t *testing.T) {
		list, err := s.List()
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != rec.ID() || list[0].Outcome != OutcomeError ||
			list[0].ErrorClass != "portal_changed" || list[0].Steps != 2 {
			t.Errorf("List = %+v", list)
		}
	})

	t.Run("second finish", func(t *testing.T) {
		if err := rec.Finish(nil); !errors.Is(err, ErrFinished) {
			t.Errorf("second Finish = %v, want ErrFinished", err)
		}
	})
}

func TestFinishWithoutSteps(t *testing.T) {
	s, _ := openStore(t, Options{})
	m := finishLoad(t, s, s.Start("pas", "submit"))
	if m.Outcome != OutcomeOK || m.Error != nil || len(m.Steps) != 0 || m.Steps == nil {
		t.Errorf("manifest = %+v, want ok with an empty step list", m)
	}
}

func TestWants(t *testing.T) {
	tests := []struct {
		name             string
		capture, network string
		kind             string
		failed, want     bool
	}{
		{"all screenshot ok", CaptureAll, "", "screenshot", false, true},
		{"all dom failed", CaptureAll, "", "dom", true, true},
		{"on_failure screenshot ok", CaptureOnFailure, "", "screenshot", false, false},
		{"on_failure screenshot failed", CaptureOnFailure, "", "screenshot", true, true},
		{"on_failure dom ok", CaptureOnFailure, "", "dom", false, false},
		{"on_failure network ok kept by default", CaptureOnFailure, "", "network", false, true},
		{"network on_failure ok", CaptureAll, CaptureOnFailure, "network", false, false},
		{"network on_failure failed", CaptureAll, CaptureOnFailure, "network", true, true},
		{"network none failed", CaptureAll, CaptureNone, "network", true, false},
		{"network none leaves screenshots", CaptureAll, CaptureNone, "screenshot", false, true},
		{"default capture is all", "", "", "dom", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openStore(t, Options{Capture: tt.capture, Network: tt.network})
			if got := s.Start("c", "poll").Wants(tt.kind, tt.failed); got != tt.want {
				t.Errorf("Wants(%q, %v) = %v, want %v", tt.kind, tt.failed, got, tt.want)
			}
		})
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		opts Options
		want string
	}{
		{"no dir", "", Options{}, "no directory"},
		{"capture", "x", Options{Capture: "sometimes"}, `capture "sometimes"`},
		{"network", "x", Options{Network: "always"}, `network capture "always"`},
		{"retention", "x", Options{Retention: -time.Hour}, "negative retention"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			if dir != "" {
				dir = filepath.Join(t.TempDir(), dir)
			}
			_, err := Open(dir, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestPartialRecording(t *testing.T) {
	s, clk := openStore(t, Options{})
	rec := s.Start("evolent", "submit")
	start := clk.Now()
	rec.Attach("screenshot", "login", "image/png", pngBytes)
	clk.Advance(time.Second)
	rec.Step("login", start, nil)
	rec.Attach("dom", "form", "text/html", []byte("<form></form>"))
	rec.Step("fill form", clk.Now(), errors.New("element not found"))
	rec.Attach("screenshot", "submit", "image/png", pngBytes) // the step in progress when it died
	// No Finish: the process died. Tear the last line as a crash might.
	f, err := os.OpenFile(filepath.Join(rec.Dir(), stepsFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"event":"step","n":3,"na`); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()

	m, err := Load(s.Dir(), rec.ID())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checkValues(t, []value{
		{"outcome", m.Outcome, OutcomeIncomplete},
		{"complete", m.Complete(), false},
		{"id", m.ID, rec.ID()},
		{"connector", m.Connector, "evolent"},
		{"job", m.Job, "submit"},
		{"started", m.Started, t0},
		{"finished", m.Finished.IsZero(), true},
		{"steps", len(m.Steps), 2},
		{"step 1", m.Steps[0].Name + " " + strings.Join(m.Steps[0].Artifacts, ","), "login 001-screenshot-login.png"},
		{"step 2 error", m.Steps[1].Error + " " + m.Steps[1].Class, "element not found error"},
		{"unclaimed", strings.Join(m.Artifacts, ","), "003-screenshot-submit.png"},
	})
	t.Run("list", func(t *testing.T) {
		list, err := List(s.Dir())
		if err != nil || len(list) != 1 || list[0].Outcome != OutcomeIncomplete || list[0].Steps != 2 {
			t.Errorf("List = %+v, %v", list, err)
		}
	})
	t.Run("latest", func(t *testing.T) {
		got, err := Latest(s.Dir(), []string{"evolent", "carelon"})
		if r, ok := got["evolent"]; err != nil || len(got) != 1 || !ok || r.ID != rec.ID() || r.Steps != 2 {
			t.Errorf("Latest = %+v, %v; want only evolent's %s", got, err, rec.ID())
		}
	})
}

func TestAttachNetworkInOtherShapes(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		dropped int
		want    []string // in the stored file
		absent  []string
	}{
		{"not json", `GET / HTTP/1.1`, 1, nil, nil},
		{"truncated json", `{"method":"GET","url":"http://h/"`, 1, nil, nil},
		{"another json shape", `{"op":"submit","url":"https://pas.test/Claim/$submit?access_token=abc123",
			"request":{"headers":{"Authorization":"Bearer abc123","Cookie":"sid=abc123"},
			"body":{"resourceType":"Bundle","patient":"Janet Quartermaine","client_secret":"abc123"}},
			"response":{"status":200,"headers":{"Set-Cookie":"sid=abc123; Path=/"},"authorization":{"number":"A-1"}}}`,
			0,
			[]string{`"op": "submit"`, `"Authorization": "Bearer [REDACTED]"`, `"Cookie": "sid=[REDACTED]"`,
				`"Set-Cookie": "sid=[REDACTED]; Path=/"`, `"client_secret": "[REDACTED]"`, `access_token=[REDACTED]`,
				`"patient": "[REDACTED]"`, `"number": "A-1"`},
			[]string{"abc123", "Quartermaine"}},
		{"exchange with an unknown field", `{"method":"GET","url":"http://h/","status":200,"cookies":"sid=abc123"}`,
			0, []string{`"cookies": "sid=[REDACTED]"`}, []string{"abc123"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := openStore(t, Options{})
			rec := s.Start("c", "poll")
			rec.Redact("Janet Quartermaine")
			rec.Attach("network", "x", "application/json", []byte(tt.data))
			rec.Step("s", clk.Now(), nil)
			m := finishLoad(t, s, rec)
			if m.Dropped != tt.dropped || len(m.Files()) != 1-tt.dropped {
				t.Fatalf("dropped = %d, files = %v; want %d dropped", m.Dropped, m.Files(), tt.dropped)
			}
			if tt.dropped > 0 {
				return
			}
			b, err := os.ReadFile(filepath.Join(m.Dir, m.Files()[0]))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("stored artifact lacks %s:\n%s", w, b)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(string(b), a) {
					t.Errorf("stored artifact holds %q:\n%s", a, b)
				}
			}
		})
	}
}

func TestExchangeHeadersAsStrings(t *testing.T) {
	ex, err := ParseExchange([]byte(`{"method":"get","url":"http://h/a","status":200,
		"request_headers":{"Accept":"text/html","X-Two":"a\nb"},
		"response_headers":{"Content-Type":["text/plain"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if ex.Method != "GET" || ex.RequestHeaders.Get("Accept") != "text/html" ||
		len(ex.RequestHeaders["X-Two"]) != 2 || ex.ResponseHeaders.Get("Content-Type") != "text/plain" {
		t.Errorf("ParseExchange = %+v", ex)
	}
}

func TestConcurrentUse(t *testing.T) {
	s, clk := openStore(t, Options{})
	rec := s.Start("c", "poll")
	const workers, each = 4, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				ex := htmlExchange("GET", fmt.Sprintf("http://h/p%d/%d", w, i), 200, "ok", nil)
				rec.Attach("network", "page", "application/json", mustJSON(t, ex))
			}
		})
	}
	wg.Go(func() {
		for i := range each {
			rec.Redact(fmt.Sprintf("secret-%d", i))
			rec.Step(fmt.Sprintf("step %d", i), clk.Now(), nil)
		}
	})
	wg.Wait()
	m := finishLoad(t, s, rec)
	files := m.Files()
	if len(files) != workers*each || len(m.Steps) != each {
		t.Fatalf("%d files, %d steps; want %d, %d", len(files), len(m.Steps), workers*each, each)
	}
	if !slices.IsSortedFunc(files, strings.Compare) || len(slices.Compact(slices.Clone(files))) != len(files) {
		t.Errorf("artifact names not unique and ordered: %v", files)
	}
	for i, st := range m.Steps {
		if st.N != i+1 {
			t.Errorf("step %d numbered %d", i+1, st.N)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	s, _ := openStore(t, Options{})
	tests := []struct {
		name     string
		id       string
		notFound bool
		want     string
	}{
		{"not an id", "../../etc", false, "not a recording id"},
		{"unknown", IDPrefix + "01JNQX0000000000000000000A", true, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(s.Dir(), tt.id)
			if err == nil || !strings.Contains(err.Error(), tt.want) || errors.Is(err, authpilot.ErrNotFound) != tt.notFound {
				t.Errorf("Load = %v, want %q (not found: %v)", err, tt.want, tt.notFound)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	s, _ := openStore(t, Options{})
	rec := s.Start("c", "poll")
	if err := rec.Finish(nil); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{rec.ID(), rec.Dir()} {
		t.Run(filepath.Base(arg), func(t *testing.T) {
			m, err := Resolve(s.Dir(), arg)
			if err != nil || m.ID != rec.ID() {
				t.Errorf("Resolve(%q) = %v, %v", arg, m, err)
			}
		})
	}
}

func TestLoadFindsRecordingDatedByAnotherClock(t *testing.T) {
	s, _ := openStore(t, Options{})
	rec := s.Start("c", "poll")
	if err := rec.Finish(nil); err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(s.Dir(), "20260301", rec.ID())
	if err := os.MkdirAll(filepath.Dir(moved), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(rec.Dir(), moved); err != nil {
		t.Fatal(err)
	}
	m, err := s.Load(rec.ID())
	if err != nil || m.Dir != moved {
		t.Errorf("Load = %+v, %v; want the recording in %s", m, err, moved)
	}
}
