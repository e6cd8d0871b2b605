package fhirpas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/connectors/connectortest"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/payersim/pas"
	"github.com/authpilot/authpilot/recordings"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

const testSecret = "pas-secret-Zq81"

// newRecorder returns a recorder that redacts registered values the way a
// real recorder must.
func newRecorder() *connectortest.Recorder { return &connectortest.Recorder{Redacting: true} }

// network returns rec's network attachments, each decoded strictly as a
// recordings.Exchange (the format replay serves).
func network(t *testing.T, rec *connectortest.Recorder) []*recordings.Exchange {
	t.Helper()
	var out []*recordings.Exchange
	for _, a := range rec.Artifacts("network") {
		ex, err := recordings.ParseExchange(a.Data)
		if err != nil {
			t.Fatalf("network attachment %s: %v", a.Name, err)
		}
		out = append(out, ex)
	}
	return out
}

// exchangesTo returns the exchanges whose URL path ends with suffix.
func exchangesTo(exs []*recordings.Exchange, suffix string) []*recordings.Exchange {
	var out []*recordings.Exchange
	for _, ex := range exs {
		if u, err := url.Parse(ex.URL); err == nil && strings.HasSuffix(u.Path, suffix) {
			out = append(out, ex)
		}
	}
	return out
}

// harness is a connector wired to the PAS simulator over a real HTTP
// server.
type harness struct {
	t     testing.TB
	clock *clocktest.Fake
	sim   *pas.Server
	srv   *httptest.Server
	conn  connectors.Connector
	opts  *Options
	rec   *connectortest.Recorder
	logs  *notifytest.LogBuffer
}

type harnessConfig struct {
	sim     pas.Options
	options func(*Options)
	secrets notifytest.Secrets
	// wrap puts a handler in front of the simulator.
	wrap func(http.Handler) http.Handler
	// quiet logs at info level instead of debug.
	quiet bool
	// zone is the practice's time zone; the simulator prints its times
	// with that zone's offset, as a payer in that zone would.
	zone *time.Location
	// limiter paces the connector's requests (limits.requests_per_minute).
	limiter connectors.Limiter
}

func newHarness(t testing.TB, cfg harnessConfig) *harness {
	clock := clocktest.New(time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC))
	cfg.sim.Now = clock.Now
	if cfg.zone != nil {
		cfg.sim.Now = func() time.Time { return clock.Now().In(cfg.zone) }
	}
	if cfg.sim.ClientSecret == "" {
		cfg.sim.ClientSecret = testSecret
	}
	sim := pas.New(cfg.sim)
	var h http.Handler = sim
	if cfg.wrap != nil {
		h = cfg.wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	conn, o, logs := newTestConnector(t, srv.URL, clock, cfg)
	return &harness{t: t, clock: clock, sim: sim, srv: srv, conn: conn, opts: o, rec: newRecorder(), logs: logs}
}

// newTestConnector builds a connector whose base_url and token_url point
// at url (the simulator or a replay of a recording). At cleanup it is
// closed and its logs are checked for PHI and the client secret.
func newTestConnector(t testing.TB, url string, clock *clocktest.Fake, cfg harnessConfig) (connectors.Connector, *Options, *notifytest.LogBuffer) {
	t.Helper()
	var doc = fmt.Sprintf(`
base_url: %s/
token_url: %s/token
client_id: authpilot
client_secret: summit-pas
scopes: [system/Claim.write, system/ClaimResponse.read]
timeout: 2s
retries: 3
retry_wait_max: 5ms
insurer:
  name: Summit Health Plan
  identifier: SHP01
requester:
  name: Spine Associates
  npi: "1234567893"
`, url, url)
	opts, err := decodeYAML(t, doc)
	if err != nil {
		t.Fatalf("options: %v", err)
	}
	o := opts.(*Options)
	if cfg.options != nil {
		cfg.options(o)
	}
	secrets := cfg.secrets
	if secrets == nil {
		secrets = notifytest.Secrets{"summit-pas": testSecret}
	}
	logs := &notifytest.LogBuffer{}
	level := slog.LevelDebug
	if cfg.quiet {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
	conn, err := o.New(connectors.Env{ID: "summit-pas", Logger: logger, Secrets: secrets, Now: clock.Now, Location: cfg.zone, Limiter: cfg.limiter})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		out := logs.String()
		for _, secret := range []string{testSecret, "SHP99887766", "Quimby", "Rosalind", "1961-07-14", "M43.16", "C1889"} {
			if strings.Contains(out, secret) {
				t.Errorf("logs carry %q:\n%s", secret, out)
			}
		}
	})
	return conn, o, logs
}

func (h *harness) open() connectors.Session {
	h.t.Helper()
	s, err := h.conn.Open(context.Background(), h.rec)
	if err != nil {
		h.t.Fatalf("open: %v", err)
	}
	h.t.Cleanup(func() { _ = s.Close() })
	return s
}

func noCommit(context.Context) error { return nil }

func (h *harness) submit(s connectors.Session, c *authpilot.Case) *authpilot.Submission {
	h.t.Helper()
	sub, err := s.Submit(context.Background(), c, noCommit)
	if err != nil {
		h.t.Fatalf("submit: %v", err)
	}
	return sub
}

func (h *harness) poll(s connectors.Session, c *authpilot.Case) authpilot.Observation {
	h.t.Helper()
	obs, err := s.Poll(context.Background(), []*authpilot.Case{c})
	if err != nil {
		h.t.Fatalf("poll: %v", err)
	}
	if len(obs) != 1 || obs[0].CaseID != c.ID {
		h.t.Fatalf("poll observations = %+v", obs)
	}
	return obs[0]
}

// findsNothing fails the test unless s finds no request for c answered
// since the given time.
func findsNothing(t *testing.T, s connectors.Session, c *authpilot.Case, since time.Time) {
	t.Helper()
	if _, err := s.Find(context.Background(), c, since); !errors.Is(err, authpilot.ErrRequestNotFound) {
		t.Errorf("find of %s since %v = %v, want ErrRequestNotFound", c.ID, since, err)
	}
}

func (h *harness) scenario(rules ...pas.Rule) {
	h.t.Helper()
	if err := h.sim.SetScenario(pas.Scenario{Rules: rules}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) fault(f pas.Fault) {
	h.t.Helper()
	if err := h.sim.AddFault(f); err != nil {
		h.t.Fatal(err)
	}
}
