package web_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/agent/agenttest"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/connectors/portal"
	"github.com/authpilot/authpilot/internal/testhttp"
	"github.com/authpilot/authpilot/notify/notifytest"
	_ "github.com/authpilot/authpilot/notify/sinks"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/schedules/clocktest"
	"github.com/authpilot/authpilot/store"
	"github.com/authpilot/authpilot/web"
)

// browser is the tests' one headless Chromium (Debian's), launched on
// first use; each test takes its own incognito context.
var (
	browser  *rod.Browser
	launched *launcher.Launcher
)

func TestMain(m *testing.M) {
	// Sign-ins in tests need not cost 100 ms of bcrypt each.
	web.PasswordCost = 4
	code := m.Run()
	if browser != nil {
		_ = browser.Close()
	}
	if launched != nil {
		launched.Kill()
	}
	os.Exit(code)
}

// incognito returns a fresh browser context of the shared browser.
func incognito(t *testing.T) *rod.Browser {
	t.Helper()
	if browser == nil {
		bin, err := portal.FindChromium("")
		if err != nil {
			t.Fatalf("these tests drive Debian's chromium; run ./scripts/setup: %v", err)
		}
		l := launcher.New().Bin(bin).Headless(true).Leakless(false).Set("no-first-run").Set("disable-background-networking")
		if os.Geteuid() == 0 {
			l = l.NoSandbox(true)
		}
		u, err := l.Launch()
		if err != nil {
			t.Fatalf("launch chromium: %v", err)
		}
		launched = l
		browser = rod.New().ControlURL(u)
		if err := browser.Connect(); err != nil {
			t.Fatalf("connect chromium: %v", err)
		}
	}
	b, err := browser.Incognito()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// world is the daemon with its workspace on loopback, the simulators and
// one injected clock (Monday 7 December 2026, 09:00 in New York).
type world struct {
	a     *agent.Agent
	st    *store.Store
	base  string
	clock *clocktest.Fake
	ny    *time.Location
	sims  *payersim.Set
	// hook receives every alert (a real webhook receiver).
	hook *notifytest.Endpoint
}

const hookSecret = "whsec_d2ViLXRlc3Qtd2ViaG9vay1zaWduaW5nLWtleS0wMQ=="

// tessSeed is the TOTP seed of the account tess (TestSecondFactor).
const tessSeed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

const apiToken = "web-test-api-token"

func newWorld(t testing.TB, rules ...payersim.Rule) *world {
	t.Helper()
	return newWorldWith(t, worldOptions{rules: rules})
}

// worldOptions change the world: the payer's scenario and login mode, and
// Summit's flow (summit edits the example's text).
type worldOptions struct {
	rules    []payersim.Rule
	payerMFA payersim.MFAMode
	summit   func(flow string) string
	// server is a server: section for authpilot.yaml (TLS).
	server string
	// captureAll keeps every run's recording with its screenshots.
	captureAll bool
	// clearviewPoll, if set, is the clearview-rbm connector's poll
	// schedule (a cron spec).
	clearviewPoll string
	// wrap, if set, wraps the workspace's handler (the benchmark's timer).
	wrap func(http.Handler) http.Handler
}

func newWorldWith(t testing.TB, o worldOptions) *world {
	t.Helper()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	clock := clocktest.New(time.Date(2026, 12, 7, 9, 0, 0, 0, ny))
	now := func() time.Time { return clock.Now().In(ny) }
	sims, err := payersim.Start(payersim.SetOptions{Now: now, PayerMFA: o.payerMFA})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sims.Close() })
	if err := sims.Payer.SetScenario(payersim.Scenario{Rules: o.rules}); err != nil {
		t.Fatal(err)
	}
	hook := notifytest.NewEndpoint(t, notifytest.EndpointOptions{Secret: hookSecret, Now: clock.Now})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, sims.PayerURL, sims.RBMURL, hook.URL, o.summit, o.server+capture(o.captureAll))
	cfg.Connectors[1].Schedule.Poll = o.clearviewPoll
	secrets := authpilot.StaticSecrets(payersim.ExampleSecrets())
	secrets["api-token"] = apiToken
	secrets["hook-secret"] = hookSecret
	secrets[store.TOTPSecretName("tess")] = tessSeed
	workspace := web.Workspace(web.Options{Lockout: web.Lockout{After: 3, Base: time.Minute, Max: time.Hour}})
	if o.wrap != nil {
		inner := workspace
		workspace = func(a *agent.Agent) (http.Handler, error) {
			h, err := inner(a)
			if err != nil {
				return nil, err
			}
			return o.wrap(h), nil
		}
	}
	a, _ := agenttest.Serve(t, cfg, agent.Options{Clock: clock, Secrets: secrets, Workspace: workspace})
	return &world{a: a, st: a.Store().(*store.Store), base: a.BaseURL(), clock: clock, ny: ny, sims: sims, hook: hook}
}

// writeConfig writes authpilot.yaml and the example flows pointed at the
// simulators, Summit's edited by summit when it is set; Summit's
// peer-to-peer window is one business day.
func writeConfig(t testing.TB, dir, payerURL, rbmURL, hookURL string, summit func(string) string, server string) *config.Config {
	t.Helper()
	return agenttest.WriteExample(t, dir, agenttest.Example{Practice: "Web Spine",
		PayerURL: payerURL, RBMURL: rbmURL, HookURL: hookURL, Summit: summit,
		SummitPayer: ", deadlines: {peer_to_peer_business_days: 1}", Extra: server})
}

// capture is a recordings: section keeping every run when all is set.
func capture(all bool) string {
	if all {
		return "recordings: {capture: all}\n"
	}
	return ""
}

const password = "correct horse battery"

// addUser creates an account with role and the test password.
func (w *world) addUser(t testing.TB, name string, role store.Role) {
	t.Helper()
	h, err := web.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.st.AddUser(context.Background(), store.User{Name: name, Role: role, PasswordHash: h}); err != nil {
		t.Fatal(err)
	}
}

// intake creates a Summit case for member.
func (w *world) intake(t *testing.T, member, last string) string {
	t.Helper()
	c, err := w.a.Intake().Create(context.Background(), &agent.NewCase{Case: authpilot.Case{
		ExternalRef: "ORD-" + member, Payer: "summit-ma", Track: authpilot.TrackSurgery,
		Patient:          authpilot.Patient{FirstName: "Ada", LastName: last, DOB: authpilot.NewDate(1960, 5, 5), MemberID: member},
		OrderingProvider: authpilot.Provider{NPI: "1245319599", Name: "Lakeside Spine"},
		ServiceLines:     []authpilot.ServiceLine{{Code: "22633", Units: 1, Level: "L4-L5"}},
		Diagnoses:        []string{"M48.062"}, ServiceDate: authpilot.NewDate(2027, 1, 12),
		ClinicalNotes: "Radicular pain despite 8 weeks of PT and NSAIDs.",
	}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// submitAndPoll submits the new cases to Summit and polls it once.
func (w *world) submitAndPoll(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, r := range w.a.SubmitNow(ctx, "summit-portal") {
		if r.Err != nil || r.Submitted != r.Cases {
			t.Fatalf("submit: %d of %d: %v", r.Submitted, r.Cases, r.Err)
		}
	}
	for _, r := range w.a.PollNow(ctx, nil, "summit-portal") {
		if r.Err != nil {
			t.Fatalf("poll: %v", r.Err)
		}
	}
}

func (w *world) get(t *testing.T, id string) *authpilot.Case {
	t.Helper()
	c, err := w.st.GetCase(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signIn opens the sign-in page in a fresh context and signs in as name.
func (w *world) signIn(t *testing.T, name string) *rod.Page {
	t.Helper()
	p := incognito(t).MustPage(w.base + "/").Timeout(30 * time.Second)
	p.MustWaitLoad()
	if !strings.HasSuffix(p.MustInfo().URL, "/signin?next=%2F") {
		t.Fatalf("signed-out worklist went to %s, want the sign-in page", p.MustInfo().URL)
	}
	p.MustElement("#name").MustInput(name)
	p.MustElement("#password").MustInput(password)
	submit(p, "form button[type=submit]")
	return p
}

// submit clicks the element sel on p (a button or a link) and waits for
// the page it leads to.
func submit(p *rod.Page, sel string) {
	wait := p.MustWaitNavigation()
	p.MustElement(sel).MustClick()
	wait()
}

// client is a plain HTTP client that keeps cookies and does not follow
// redirects: for what a browser does not show (status codes, a
// cross-origin post).
func client(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// post sends a form from the workspace's own origin (as its pages do) and
// returns the status and the body.
func (w *world) post(t testing.TB, c *http.Client, path string, form url.Values, header ...string) (int, string) {
	t.Helper()
	code, b, _ := testhttp.Send(t, c, testhttp.NewRequest(t, "POST", w.base+path, strings.NewReader(form.Encode()), append([]string{
		"Content-Type", "application/x-www-form-urlencoded", "Origin", w.base, "Sec-Fetch-Site", "same-origin"}, header...)...))
	return code, string(b)
}

func (w *world) getPage(t testing.TB, c *http.Client, path string) (int, string) {
	t.Helper()
	code, b, _ := testhttp.Send(t, c, testhttp.NewRequest(t, "GET", w.base+path, nil))
	return code, string(b)
}

// httpSignIn signs name in with pw through a plain client.
func (w *world) httpSignIn(t testing.TB, name, pw string) (*http.Client, int, string) {
	t.Helper()
	c := client(t)
	code, body := w.post(t, c, "/signin", url.Values{"name": {name}, "password": {pw}, "next": {"/"}})
	return c, code, body
}

// screenshot saves the page as name under $AUTHPILOT_SCREENSHOTS, if set
// (the README's pictures: AUTHPILOT_SCREENSHOTS=$PWD/docs go test ./web
// -run TestWorklist).
func screenshot(t *testing.T, p *rod.Page, name string) {
	t.Helper()
	dir := os.Getenv("AUTHPILOT_SCREENSHOTS")
	if dir == "" {
		return
	}
	p.MustSetViewport(1280, 900, 1, false)
	b, err := p.Screenshot(true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantPNG fetches path as c and fails unless it answers 200 with a PNG.
func (w *world) wantPNG(t testing.TB, c *http.Client, path string) {
	t.Helper()
	if code, _, h := testhttp.Send(t, c, testhttp.NewRequest(t, "GET", w.base+path, nil)); code != http.StatusOK || h.Get("Content-Type") != "image/png" {
		t.Fatalf("%s: %d %s", path, code, h.Get("Content-Type"))
	}
}
