package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/connectors/connectortest"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

// testBrowser is the one Chromium of this package's tests: every test
// gets its own incognito context (a visit) and its own httptest server.
var testBrowser = NewBrowser(BrowserOptions{RecycleAfter: DefaultRecycleAfter}, nil)

// chromiumErr is set when no browser is installed; browser tests skip.
var chromiumErr error

func TestMain(m *testing.M) {
	_, chromiumErr = FindChromium("")
	code := m.Run()
	if err := testBrowser.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close browser:", err)
	}
	os.Exit(code)
}

func needBrowser(t testing.TB) {
	t.Helper()
	if chromiumErr != nil {
		t.Skipf("no chromium: %v", chromiumErr)
	}
}

func newClock() *clocktest.Fake {
	return clocktest.New(time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC))
}

// decodeYAML decodes portal options from YAML text.
func decodeYAML(t testing.TB, text string) *Options {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	o, err := decodeOptions(&n)
	if err != nil {
		var fe connectors.FieldErrors
		if errors.As(err, &fe) {
			var lines []string
			for _, e := range fe {
				lines = append(lines, fmt.Sprintf("line %d: %v", e.Line, e))
			}
			t.Fatalf("decode:\n%s", strings.Join(lines, "\n"))
		}
		t.Fatalf("decode: %v", err)
	}
	return o
}

// harness is one connector against one test server.
type harness struct {
	t    *testing.T
	srv  *httptest.Server
	conn *Connector
	rec  *connectortest.Recorder
}

type harnessOpts struct {
	secrets  notifytest.Secrets
	now      func() time.Time
	dataDir  string
	handOffs connectors.HandOffs
	logger   *slog.Logger
}

// newHarness builds a connector from cfg ("BASE" is replaced by the
// server's URL).
func newHarness(t *testing.T, srv *httptest.Server, cfg string, ho harnessOpts) *harness {
	t.Helper()
	needBrowser(t)
	o := decodeYAML(t, strings.ReplaceAll(cfg, "BASE", srv.URL))
	if ho.secrets == nil {
		ho.secrets = notifytest.Secrets{}
	}
	if ho.now == nil {
		ho.now = time.Now
	}
	c, err := o.New(connectors.Env{
		ID:       "test",
		Secrets:  ho.secrets,
		Now:      ho.now,
		DataDir:  ho.dataDir,
		Resource: testBrowser,
		HandOffs: ho.handOffs,
		Logger:   ho.logger,
	})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &harness{t: t, srv: srv, conn: c.(*Connector), rec: &connectortest.Recorder{}}
}

func (h *harness) open(ctx context.Context) (*Session, error) {
	s, err := h.conn.Open(ctx, h.rec)
	if err != nil {
		return nil, err
	}
	h.t.Cleanup(func() { _ = s.Close() })
	return s.(*Session), nil
}

func (h *harness) mustOpen() *Session {
	h.t.Helper()
	s, err := h.open(testCtx(h.t))
	if err != nil {
		h.t.Fatalf("open: %v", err)
	}
	return s
}

// runFlow runs a named flow of the flows section on the visit's page.
func (h *harness) runFlow(s *Session, name string, c *authpilot.Case) (*runner, error) {
	h.t.Helper()
	f, ok := h.conn.opts.Flows[name]
	if !ok {
		h.t.Fatalf("no flow %q", name)
	}
	slot, err := s.page(testCtx(h.t))
	if err != nil {
		h.t.Fatalf("page: %v", err)
	}
	defer s.putPage(slot)
	r := s.newRunner(slot, &tmplData{Case: c, Vars: map[string]any{}}, name)
	return r, r.runFlow(testCtx(h.t), f.Steps)
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
