package agent

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/internal/testhttp"
	"github.com/authpilot/authpilot/store"
)

// startAgentWith is startAgent with options (server timeouts) and the
// agent, for tests that look into its store.
func startAgentWith(t *testing.T, cfg *config.Config, opts Options) (string, *Agent) {
	t.Helper()
	opts.Logger = discardLogger()
	base, a, _ := serve(t, cfg, opts)
	return base, a
}

// post sends a POST /v1/cases with an optional Idempotency-Key and returns
// the status, the headers and the JSON body.
func post(t *testing.T, base, key, body string) (int, http.Header, map[string]any) {
	t.Helper()
	code, b, h := testhttp.Send(t, specClient(t), testhttp.NewRequest(t, "POST", base+"/v1/cases", strings.NewReader(body),
		"Authorization", "Bearer "+testToken, "Content-Type", "application/json", "Idempotency-Key", key))
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return code, h, out
}

func countCases(t *testing.T, st authpilot.Store) int {
	t.Helper()
	cs, err := st.ListCases(context.Background(), authpilot.CaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(cs)
}

// TestAPISecondIdenticalPostIsRefused is issue 10's first repro: the same
// order posted twice (same external_ref) became two payer requests. Now
// the second answers 409 naming the first case and stores nothing.
func TestAPISecondIdenticalPostIsRefused(t *testing.T) {
	base, a := startAgentWith(t, testConfig(t, t.TempDir()), Options{})
	body := lumbarFusionJSON("1234567893")
	code, _, first := post(t, base, "", body)
	if code != http.StatusCreated {
		t.Fatalf("first POST: %d %v", code, first)
	}
	code, h, second := post(t, base, "", body)
	if code != http.StatusConflict || second["existing_case"] != first["id"] || h.Get("Location") != "/v1/cases/"+first["id"].(string) {
		t.Fatalf("second POST: %d %v (Location %q), want 409 naming %v", code, second, h.Get("Location"), first["id"])
	}
	if !strings.Contains(fmt.Sprint(second["fields"]), "external_ref") {
		t.Fatalf("409 does not name the field: %v", second)
	}
	if n := countCases(t, a.Store()); n != 1 {
		t.Fatalf("%d cases stored, want 1", n)
	}
}

// TestAPIIdempotencyKey: a client whose 201 was lost retries with the same
// Idempotency-Key and gets the same case back (also after a restart), not
// a second case; the same key with another body is refused and changes
// nothing; concurrent retries make one case.
func TestAPIIdempotencyKey(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	// No external_ref: only the key stands between a retry and a second case.
	body := strings.Replace(lumbarFusionJSON("1234567893"), `"external_ref": "MRN-88231-ORD-1",`, "", 1)
	other := strings.Replace(body, "SHPQ7781920", "SHPQ7781921", 1)

	base, a, stop := serve(t, cfg, Options{Logger: discardLogger()})
	code, h, first := post(t, base, "key-7f3a", body)
	if code != http.StatusCreated || h.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first POST: %d %v", code, first)
	}
	code, h, again := post(t, base, "key-7f3a", body)
	if code != http.StatusCreated || again["id"] != first["id"] || h.Get("Idempotent-Replayed") != "true" ||
		h.Get("Location") != "/v1/cases/"+first["id"].(string) {
		t.Fatalf("retry: %d %v %v, want 201 with case %v replayed", code, h, again, first["id"])
	}
	code, _, diff := post(t, base, "key-7f3a", other)
	if code != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(diff["error"]), "different request") ||
		!strings.Contains(fmt.Sprint(diff["fields"]), "Idempotency-Key") {
		t.Fatalf("same key, other body: %d %v, want 422", code, diff)
	}
	if code, _, bad := post(t, base, "bad key", body); code != http.StatusBadRequest {
		t.Fatalf("malformed key: %d %v", code, bad)
	}
	if n := countCases(t, a.Store()); n != 1 {
		t.Fatalf("%d cases stored, want 1", n)
	}

	// Concurrent retries under one new key: one case, every answer names it.
	var wg sync.WaitGroup
	ids := make([]any, 6)
	codes := make([]int, 6)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out map[string]any
			codes[i], _, out = post(t, base, "key-concurrent", other)
			ids[i] = out["id"]
		}()
	}
	wg.Wait()
	for i := range ids {
		if codes[i] != http.StatusCreated || ids[i] != ids[0] || ids[0] == nil {
			t.Fatalf("concurrent retries: codes %v ids %v", codes, ids)
		}
	}
	if n := countCases(t, a.Store()); n != 2 {
		t.Fatalf("%d cases stored after concurrent retries, want 2", n)
	}

	// The key is durable: a restarted daemon still answers the retry.
	stop()
	base2, a2 := startAgentWith(t, cfg, Options{})
	code, h, after := post(t, base2, "key-7f3a", body)
	if code != http.StatusCreated || after["id"] != first["id"] || h.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry after restart: %d %v", code, after)
	}
	if n := countCases(t, a2.Store()); n != 2 {
		t.Fatalf("%d cases stored after restart, want 2", n)
	}
}

// TestAPIControlCharactersAndConnector: control characters in any text
// field are field errors; a client's connector never overrides the
// payer's.
func TestAPIControlCharactersAndConnector(t *testing.T) {
	// Two configured connectors: the client names the one that is not the
	// payer's.
	cfg := spineConfig(t, t.TempDir(), `
payers:
  - {id: summit-ma, plan_type: medicare_advantage, connector: summit}
connectors:
  - {id: summit, kind: agenttest-idle, options: {}}
  - {id: clearview, kind: agenttest-idle, options: {}}
`)
	base, a := startAgentWith(t, cfg, Options{})
	good := lumbarFusionJSON("1234567893")
	tests := []struct {
		name, old, new string
		code           int
		field          string
	}{
		{"ESC in a name", `"first_name": "Rosalind"`, `"first_name": "Ros\u001b[2Jalind"`, 400, "patient.first_name"},
		{"NUL in a name", `"last_name": "Quillfeather"`, `"last_name": "Quill\u0000feather"`, 400, "patient.last_name"},
		{"CR LF in a provider name", `"name": "Dr. Ortho"`, `"name": "Dr. Ortho\r\nINFO forged"`, 400, "ordering_provider.name"},
		{"bidi override in a level", `"level": "L4-L5"`, `"level": "L4\u202eL5"`, 400, "service_lines[0].level"},
		{"another connector", `"payer": "summit-ma",`, `"payer": "summit-ma", "connector": "clearview",`, 400, "connector"},
		{"the payer's own connector", `"payer": "summit-ma",`, `"payer": "summit-ma", "connector": "summit",`, 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Replace(good, tt.old, tt.new, 1)
			if body == good {
				t.Fatalf("replacement %q not found", tt.old)
			}
			code, _, out := post(t, base, "", body)
			if code != tt.code || !strings.Contains(fmt.Sprint(out["fields"]), tt.field) {
				t.Fatalf("%d %v, want %d naming %s", code, out, tt.code, tt.field)
			}
			if code == 201 && out["connector"] != "summit" {
				t.Fatalf("connector %v", out["connector"])
			}
		})
	}
	if n := countCases(t, a.Store()); n != 1 {
		t.Fatalf("%d cases stored, want 1", n)
	}
}

// TestAPIServerTimeouts: a client that stalls in the middle of a body, or
// keeps an idle connection, is cut off by the real server within its
// timeouts (the report: a stalled body held 70 s).
func TestAPIServerTimeouts(t *testing.T) {
	base, _ := startAgentWith(t, testConfig(t, t.TempDir()), Options{
		ServerTimeouts: ServerTimeouts{ReadHeader: time.Second, Read: 2 * time.Second, Idle: time.Second}})
	addr := strings.TrimPrefix(base, "http://")
	t.Run("slowloris body", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "POST /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"pat", testToken)
		conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		_, err = io.ReadAll(conn) // the server answers (or not) and closes
		if err != nil {
			t.Fatalf("connection still held after %v: %v", time.Since(start), err)
		}
		if d := time.Since(start); d > 6*time.Second {
			t.Fatalf("stalled body held %v", d)
		}
	})
	t.Run("idle connection", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("idle connection: %v after %v, want EOF (closed by the server)", err, time.Since(start))
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("idle connection kept %v", d)
		}
	})
}

// TestAPIBodyLimits: a body over the limit is refused by its length before
// it is read.
func TestAPIBodyLimits(t *testing.T) {
	base, _ := startAgentWith(t, testConfig(t, t.TempDir()), Options{})
	req := testhttp.NewRequest(t, "POST", base+"/v1/cases", strings.NewReader(""), "Authorization", "Bearer "+testToken, "Content-Type", "application/json")
	req.ContentLength = 63 << 20
	req.Body = io.NopCloser(io.LimitReader(zeros{}, 63<<20))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("63 MB body: %d, want 413", resp.StatusCode)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// TestAPICursorPagination: more than 5,000 cases are all reachable through
// next links, the newest included, and a case created while a client pages
// is listed once, at the end.
func TestAPICursorPagination(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	st, err := store.Open(context.Background(), cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	// The store's schema, filled in one transaction (CreateCase syncs each
	// case, which would make this slow).
	db, err := sql.Open("sqlite", filepath.Join(cfg.DataDir, "authpilot.db"))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	const n = 5050
	at := time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
	for i := range n {
		id := fmt.Sprintf("01CASE%05d", i)
		data := fmt.Sprintf(`{"id": %q, "patient": {"first_name": "Ada", "last_name": "Moss", "dob": "1950-01-02", "member_id": "M%05d"},
			"payer": "summit-ma", "plan_type": "medicare_advantage", "connector": "summit", "track": "imaging", "urgency": "standard",
			"ordering_provider": {"npi": "1234567893"}, "servicing_provider": {"npi": ""}, "facility": {},
			"service_lines": [{"code": "72148", "units": 1}], "diagnoses": ["M54.16"], "service_date": "2030-01-07",
			"status": "ready", "created_at": %q, "updated_at": %q, "version": 1}`, id, i, at, at)
		if _, err := tx.Exec(`INSERT INTO cases (id, status, payer, connector, version, created_at, updated_at, data)
			VALUES (?, 'ready', 'summit-ma', 'summit', 1, ?, ?, ?)`, id, at, at, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	base, _ := startAgentWith(t, cfg, Options{})

	seen := map[string]bool{}
	var last string
	next := "/v1/cases?limit=2000&status=ready"
	pages := 0
	for next != "" {
		code, out := do(t, "GET", base+next, testToken, "")
		if code != 200 {
			t.Fatalf("GET %s: %d %v", next, code, out)
		}
		for _, c := range out["cases"].([]any) {
			id := c.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("case %s listed twice", id)
			}
			seen[id], last = true, id
		}
		next, _ = out["next"].(string)
		if next != "" {
			u, _ := url.Parse(next)
			if u.Query().Get("status") != "ready" || u.Query().Get("limit") != "2000" {
				t.Fatalf("next link drops the filters: %s", next)
			}
		}
		if pages++; pages == 1 {
			code, created := do(t, "POST", base+"/v1/cases", testToken, lumbarFusionJSON("1234567893"))
			if code != 201 {
				t.Fatalf("create while paging: %d %v", code, created)
			}
		}
	}
	if len(seen) != n+1 || pages != 3 {
		t.Fatalf("%d cases over %d pages, want %d over 3", len(seen), pages, n+1)
	}
	if last == fmt.Sprintf("01CASE%05d", n-1) {
		t.Fatalf("the case created while paging was not listed last")
	}
	if code, out := do(t, "GET", base+"/v1/cases?cursor=nope", testToken, ""); code != 400 || !strings.Contains(fmt.Sprint(out["fields"]), "cursor") {
		t.Fatalf("bad cursor: %d %v", code, out)
	}
}
