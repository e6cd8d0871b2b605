package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/internal/daemontest"
	"github.com/authpilot/authpilot/internal/testhttp"
	"github.com/authpilot/authpilot/notify/notifytest"
)

// The agenttest-idle kind never talks to anyone; it lets the intake tests
// reference a connector without a browser.
func init() {
	registerFakeKind("agenttest-idle", fakeConnector{open: func() (connectors.Session, error) {
		return nil, authpilot.ErrUnsupported
	}})
}

const testToken = "test-token-5f2c9a"

func testConfig(t *testing.T, dir string) *config.Config {
	t.Helper()
	return spineConfig(t, dir, `
payers:
  - {id: summit-ma, plan_type: medicare_advantage, connector: summit}
connectors:
  - id: summit
    kind: agenttest-idle
    options: {}
`)
}

// spineConfig parses the config of the practice Test Spine with its data
// in dir and the sections in rest (payers, connectors, …).
func spineConfig(t *testing.T, dir, rest string) *config.Config {
	t.Helper()
	y := fmt.Sprintf("practice: {name: Test Spine, timezone: America/New_York}\ndata_dir: %s\n", dir) + rest
	cfg, err := config.Parse("test.yaml", []byte(y))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// startAgent runs an agent on a loopback port, logging to logs, until the
// test ends or stop is called.
func startAgent(t *testing.T, cfg *config.Config, logs io.Writer) (base string, stop func()) {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	base, _, stop = serve(t, cfg, Options{Logger: log})
	return base, stop
}

// serve runs an agent on cfg with the test token and its API on a
// loopback port until the test ends or stop is called; stop ends the run
// and closes the agent.
func serve(t *testing.T, cfg *config.Config, opts Options) (base string, a *Agent, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Secrets = authpilot.StaticSecrets{"api-token": testToken}
	opts.Listener = ln
	if a, err = New(cfg, opts); err != nil {
		t.Fatalf("agent.New: %v", err)
	}
	return "http://" + ln.Addr().String(), a, daemontest.Start(t, a.Run, a.Close)
}

func lumbarFusionJSON(npi string) string {
	return fmt.Sprintf(`{
  "external_ref": "MRN-88231-ORD-1",
  "patient": {"first_name": "Rosalind", "last_name": "Quillfeather", "dob": "1958-03-14", "member_id": "SHPQ7781920"},
  "payer": "summit-ma",
  "track": "surgery",
  "ordering_provider": {"npi": %q, "name": "Dr. Ortho"},
  "service_lines": [{"code": "22612", "units": 1, "level": "L4-L5"}, {"code": "22614", "units": 1, "level": "L5-S1"}],
  "diagnoses": ["M48.062", "M43.16"],
  "service_date": %q
}`, npi, time.Now().AddDate(0, 1, 0).Format(time.DateOnly))
}

// do sends a request through specClient: the request and its answer are
// checked against openapi.json.
func do(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	return doWith(t, specClient(t), method, url, token, body)
}

func doWith(t *testing.T, client *http.Client, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	auth := ""
	if token != "" {
		auth = "Bearer " + token
	}
	code, b, h := testhttp.Send(t, client, testhttp.NewRequest(t, method, url, strings.NewReader(body), "Authorization", auth, "Content-Type", "application/json"))
	var out map[string]any
	if len(b) > 0 && strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: bad JSON %q", method, url, b)
		}
	}
	return code, out
}

// TestAPIIntakeSurvivesRestartAndLogsNoPHI is the foundation's acceptance:
// a lumbar-fusion case is accepted with the token, refused without it,
// refused with a bad NPI naming the field, still there with its events
// after a restart, and no PHI reaches the logs.
func TestAPIIntakeSurvivesRestartAndLogsNoPHI(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	logs := &notifytest.LogBuffer{}
	base, stop := startAgent(t, cfg, logs)

	if code, _ := do(t, "POST", base+"/v1/cases", "", lumbarFusionJSON("1234567893")); code != http.StatusUnauthorized {
		t.Fatalf("without token: %d, want 401", code)
	}
	if code, _ := do(t, "POST", base+"/v1/cases", "wrong", lumbarFusionJSON("1234567893")); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d, want 401", code)
	}
	code, body := do(t, "POST", base+"/v1/cases", testToken, lumbarFusionJSON("1234567890"))
	if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body["fields"]), "ordering_provider.npi") {
		t.Fatalf("bad NPI: %d %v, want 400 naming ordering_provider.npi", code, body)
	}
	code, body = do(t, "POST", base+"/v1/cases", testToken, `{"payer": "summit-ma", "colour": "red"}`)
	if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body["error"]), "colour") {
		t.Fatalf("unknown field: %d %v", code, body)
	}
	code, body = do(t, "POST", base+"/v1/cases", testToken, lumbarFusionJSON("1234567893"))
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, body)
	}
	id, _ := body["id"].(string)
	if id == "" || body["status"] != "ready" || body["connector"] != "summit" || body["plan_type"] != "medicare_advantage" {
		t.Fatalf("created case: %v", body)
	}
	// The attachment given at intake is served back for its case only.
	withFile := strings.Replace(lumbarFusionJSON("1234567893"), `"external_ref": "MRN-88231-ORD-1",`,
		`"external_ref": "MRN-88231-ORD-2", "files": [{"name": "pt.pdf", "content_type": "application/pdf", "content_base64": "JVBERi0xLjQK"}],`, 1)
	code, withDoc := do(t, "POST", base+"/v1/cases", testToken, withFile)
	if code != http.StatusCreated {
		t.Fatalf("create with a file: %d %v", code, withDoc)
	}
	att := withDoc["attachments"].([]any)[0].(map[string]any)
	docURL := base + "/v1/cases/" + withDoc["id"].(string) + "/documents/" + att["sha256"].(string)
	code, content, _ := testhttp.Send(t, specClient(t), testhttp.NewRequest(t, "GET", docURL, nil, "Authorization", "Bearer "+testToken))
	if code != 200 || string(content) != "%PDF-1.4\n" {
		t.Fatalf("attachment: %d %q", code, content)
	}
	if code, _ := do(t, "GET", base+"/v1/cases/"+id+"/documents/"+att["sha256"].(string), testToken, ""); code != 404 {
		t.Fatalf("another case's document: %d, want 404", code)
	}
	code, list := do(t, "GET", base+"/v1/cases?status=ready&payer=summit-ma", testToken, "")
	if code != 200 || len(list["cases"].([]any)) != 2 {
		t.Fatalf("list: %d %v", code, list)
	}
	if code, _ := do(t, "GET", base+"/v1/cases?status=bogus", testToken, ""); code != http.StatusBadRequest {
		t.Fatalf("bad status filter: %d", code)
	}
	if code, _ := do(t, "GET", base+"/healthz", "", ""); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	stop()

	base, stop = startAgent(t, cfg, logs)
	code, got := do(t, "GET", base+"/v1/cases/"+id, testToken, "")
	if code != 200 || got["id"] != id {
		t.Fatalf("after restart: %d %v", code, got)
	}
	events, _ := got["events"].([]any)
	if len(events) == 0 || events[0].(map[string]any)["type"] != string(authpilot.EventCreated) {
		t.Fatalf("events after restart: %v", got["events"])
	}
	if code, _ := do(t, "GET", base+"/v1/cases/01NOPE", testToken, ""); code != 404 {
		t.Fatalf("missing case: %d", code)
	}
	if _, m, _ := testhttp.Send(t, specClient(t), testhttp.NewRequest(t, "GET", base+"/metrics", nil)); !strings.Contains(string(m), "authpilot_http_requests_total") {
		t.Fatalf("metrics lack authpilot_http_requests_total")
	}
	stop()

	out := logs.String()
	if !strings.Contains(out, id) {
		t.Fatalf("logs do not mention the case ID; is the logger wired? %q", out)
	}
	for _, phi := range []string{"Rosalind", "Quillfeather", "1958-03-14", "SHPQ7781920", "22612", "22614", "M48.062", "M43.16", testToken} {
		if strings.Contains(out, phi) {
			t.Errorf("logs contain PHI or secret %q", phi)
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestAPIListKnowsRejected: the worklist filters on the rejected status
// (issue 10 item 3) and names the rule for a status it does not know.
func TestAPIListKnowsRejected(t *testing.T) {
	base, _ := startAgent(t, testConfig(t, t.TempDir()), io.Discard)
	if code, body := do(t, "GET", base+"/v1/cases?status=rejected,ready", testToken, ""); code != http.StatusOK {
		t.Fatalf("status=rejected: %d %v", code, body)
	}
	code, body := do(t, "GET", base+"/v1/cases?status=refused", testToken, "")
	if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body), "rejected") {
		t.Fatalf("status=refused: %d %v, want 400 listing the statuses (rejected among them)", code, body)
	}
}
