package recordings

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authpilot/authpilot/internal/testhttp"
)

const origin = "http://127.0.0.1:1234"

// replayFixture records a small portal visit and returns its manifest.
func replayFixture(t *testing.T) *Manifest {
	t.Helper()
	s, clk := openStore(t, Options{})
	rec := s.Start("portal", "poll")
	rec.Redact("M12345678")
	form := func(method, path, body string, status int, respBody string, hdr http.Header) Exchange {
		ex := htmlExchange(method, origin+path, status, respBody, hdr)
		ex.RequestHeaders = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		ex.RequestBody = body
		return ex
	}
	listPage := `<a href="` + origin + `/auth/detail?id=7">detail</a> <a href="http://127.0.0.1:12345/other">other</a> <script src="//127.0.0.1:1234/app.js"></script>`
	exchanges := []Exchange{
		htmlExchange("GET", origin+"/auth/list?page=1&sort=date", 200, "first "+listPage, nil),
		htmlExchange("GET", origin+"/auth/list?page=1&sort=date", 200, "second "+listPage, nil),
		form("POST", "/login", "username=office&password=pw-secret&csrf_token=c1", 302, "", http.Header{
			"Location":   {origin + "/dashboard"},
			"Set-Cookie": {"sid=abc; Path=/"},
		}),
		htmlExchange("GET", origin+"/dashboard", 200, "dashboard", http.Header{"Content-Encoding": {"gzip"}}),
		form("POST", "/auth/search", "member=M12345678&type=mri&csrf=c2", 200, "search mri", nil),
		form("POST", "/auth/search", "member=M12345678&type=surgery&csrf=c3", 200, "search surgery", nil),
		htmlExchange("GET", origin+"/members/M12345678/letters?token=t0k3n", 200, "letters", nil),
		{
			Method: "GET", URL: origin + "/api/status", Status: 200,
			ResponseHeaders: http.Header{"Content-Type": {"application/json"}},
			Body:            []byte(`{"next":"` + origin + `/api/status?page=2","php":"http:\/\/127.0.0.1:1234\/x"}`),
		},
		{Method: "GET", URL: origin + "/flaky", Status: 0},
		htmlExchange("GET", origin+"/app.css", 200, "body{}", http.Header{"Content-Type": {"text/css"}}),
		htmlExchange("GET", origin+"/app.css", 304, "", nil),
	}
	for i, ex := range exchanges {
		rec.Attach("network", fmt.Sprintf("x%d", i), "application/json", mustJSON(t, ex))
	}
	// Evidence in another JSON shape is kept but not replayed.
	rec.Attach("network", "pas", "application/json", []byte(`{"op":"submit","url":"`+origin+`/Claim/$submit"}`))
	rec.Attach("dom", "detail", "text/html", DOMSnapshot(origin+"/auth/detail?id=9", []byte(`<p>detail 9</p><a href="`+origin+`/auth/list">back</a>`)))
	rec.Step("visit", clk.Now(), nil)
	return finishLoad(t, s, rec)
}

// noRedirects is a client that shows redirects instead of following them.
// serveReplay finishes rec and serves a replay of it (network exchanges
// only) until the test ends.
func serveReplay(t *testing.T, rec *Recording) *httptest.Server {
	t.Helper()
	if err := rec.Finish(nil); err != nil {
		t.Fatal(err)
	}
	rp, err := ReplayDir(rec.Dir(), ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv
}

func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type reply struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, method, u, form string) reply {
	t.Helper()
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	status, b, h := testhttp.Send(t, c, req)
	return reply{status, h, string(b)}
}

func TestReplay(t *testing.T) {
	m := replayFixture(t)
	rp, err := NewReplay(m, ReplayOptions{})
	if err != nil {
		t.Fatalf("NewReplay: %v", err)
	}
	srv := httptest.NewServer(rp)
	defer srv.Close()
	c := noRedirects()
	host := strings.TrimPrefix(srv.URL, "http://")

	t.Run("recorded order then the last, query order ignored", func(t *testing.T) {
		var got []string
		for _, q := range []string{"page=1&sort=date", "sort=date&page=1", "page=1&sort=date"} {
			r := do(t, c, "GET", srv.URL+"/auth/list?"+q, "")
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			got = append(got, strings.Fields(r.body)[0])
		}
		if strings.Join(got, ",") != "first,second,second" {
			t.Errorf("served %v, want first, second, second", got)
		}
	})

	t.Run("reset starts over", func(t *testing.T) {
		rp.Reset()
		if r := do(t, c, "GET", srv.URL+"/auth/list?sort=date&page=1", ""); !strings.HasPrefix(r.body, "first") {
			t.Errorf("after Reset got %q, want the first response", r.body)
		}
	})

	t.Run("absolute links rewritten", func(t *testing.T) {
		r := do(t, c, "GET", srv.URL+"/auth/list?page=1&sort=date", "")
		for _, want := range []string{
			`href="` + srv.URL + `/auth/detail?id=7"`,
			`href="http://127.0.0.1:12345/other"`, // another origin, left alone
			`src="//` + host + `/app.js"`,
		} {
			if !strings.Contains(r.body, want) {
				t.Errorf("body lacks %s:\n%s", want, r.body)
			}
		}
		if strings.Contains(r.body, origin+"/") {
			t.Errorf("body still links to the recorded origin:\n%s", r.body)
		}
	})

	t.Run("redirect rewritten, cookies not replayed", func(t *testing.T) {
		r := do(t, c, "POST", srv.URL+"/login", "username=office&password=other&csrf_token=zzz")
		if r.status != http.StatusFound || r.header.Get("Location") != srv.URL+"/dashboard" {
			t.Errorf("got %d Location %q, want 302 to %s/dashboard", r.status, r.header.Get("Location"), srv.URL)
		}
		if sc := r.header.Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("Set-Cookie replayed: %v", sc)
		}
		if id := r.header.Get("X-Authpilot-Replay"); !strings.HasPrefix(id, m.ID+" ") {
			t.Errorf("X-Authpilot-Replay = %q", id)
		}
	})

	t.Run("content encoding not replayed", func(t *testing.T) {
		r := do(t, c, "GET", srv.URL+"/dashboard", "")
		if r.body != "dashboard" || r.header.Get("Content-Encoding") != "" {
			t.Errorf("got %q with Content-Encoding %q", r.body, r.header.Get("Content-Encoding"))
		}
	})

	t.Run("posts told apart by form fields", func(t *testing.T) {
		for _, typ := range []string{"surgery", "mri", "surgery"} {
			r := do(t, c, "POST", srv.URL+"/auth/search", "member=OTHER999&csrf=new&type="+typ)
			if r.body != "search "+typ {
				t.Errorf("type=%s: got %q", typ, r.body)
			}
		}
	})

	t.Run("redacted path segment and secret parameter match anything", func(t *testing.T) {
		r := do(t, c, "GET", srv.URL+"/members/Z999/letters?token=fresh", "")
		if r.status != 200 || r.body != "letters" {
			t.Errorf("got %d %q", r.status, r.body)
		}
	})

	t.Run("json links rewritten", func(t *testing.T) {
		r := do(t, c, "GET", srv.URL+"/api/status", "")
		want := `{"next":"` + srv.URL + `/api/status?page=2","php":"http:\/\/` + host + `\/x"}`
		if r.body != want {
			t.Errorf("got %s, want %s", r.body, want)
		}
	})

	t.Run("failed exchange answers 502", func(t *testing.T) {
		if r := do(t, c, "GET", srv.URL+"/flaky", ""); r.status != http.StatusBadGateway {
			t.Errorf("got %d %q", r.status, r.body)
		}
	})

	t.Run("recorded 304 only for conditional requests", func(t *testing.T) {
		var got []int
		for _, cond := range []bool{false, false, true} {
			req, _ := http.NewRequest("GET", srv.URL+"/app.css", nil)
			if cond {
				req.Header.Set("If-None-Match", `"v1"`)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got = append(got, resp.StatusCode)
		}
		if fmt.Sprint(got) != "[200 200 304]" {
			t.Errorf("statuses %v, want [200 200 304]", got)
		}
	})

	t.Run("head answered like get", func(t *testing.T) {
		if r := do(t, c, "HEAD", srv.URL+"/dashboard", ""); r.status != 200 || r.body != "" {
			t.Errorf("got %d %q", r.status, r.body)
		}
	})

	t.Run("unknown request names the nearest", func(t *testing.T) {
		tests := []struct {
			name, method, target, nearest string
		}{
			{"typo in path", "GET", "/auth/lists?sort=date&page=1", "GET /auth/list?page=1&sort=date"},
			{"other query", "GET", "/auth/list?page=3&sort=date", "GET /auth/list?page=1&sort=date"},
			{"method", "DELETE", "/dashboard", "GET /dashboard"},
			{"dom without ServeDOM", "GET", "/auth/detail?id=9", "GET /"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := do(t, c, tt.method, srv.URL+tt.target, "")
				if r.status != http.StatusNotFound {
					t.Fatalf("status %d, want 404", r.status)
				}
				for _, want := range []string{
					"no recorded response for " + tt.method + " " + tt.target,
					"nearest recorded request: " + tt.nearest,
					ReplayIndexPath,
				} {
					if !strings.Contains(r.body, want) {
						t.Errorf("404 body lacks %q:\n%s", want, r.body)
					}
				}
			})
		}
	})

	t.Run("index lists the recording", func(t *testing.T) {
		r := do(t, c, "GET", srv.URL+ReplayIndexPath, "")
		if r.status != 200 || !strings.Contains(r.body, m.ID) || !strings.Contains(r.body, `<a href="/auth/list?page=1&amp;sort=date">`) {
			t.Errorf("index: %d\n%s", r.status, r.body)
		}
	})
}

func TestReplayServesDOMSnapshots(t *testing.T) {
	m := replayFixture(t)
	rp, err := NewReplay(m, ReplayOptions{ServeDOM: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rp)
	defer srv.Close()
	r := do(t, noRedirects(), "GET", srv.URL+"/auth/detail?id=9", "")
	if r.status != 200 || !strings.Contains(r.body, "<p>detail 9</p>") ||
		!strings.Contains(r.body, `href="`+srv.URL+`/auth/list"`) ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("got %d %v\n%s", r.status, r.header, r.body)
	}
	// A URL with a recorded exchange is still served from the network.
	if r := do(t, noRedirects(), "GET", srv.URL+"/dashboard", ""); r.body != "dashboard" {
		t.Errorf("got %q, want the recorded exchange", r.body)
	}
}

func TestNewReplayNeedsSomethingToServe(t *testing.T) {
	s, clk := openStore(t, Options{})
	rec := s.Start("portal", "poll")
	rec.Attach("dom", "page", "text/html", []byte("<p>no url</p>"))
	rec.Step("s", clk.Now(), nil)
	if err := rec.Finish(nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts ReplayOptions
		want string
	}{
		{"network only", ReplayOptions{}, "nothing to serve: no network exchanges"},
		{"dom without url", ReplayOptions{ServeDOM: true}, "and no DOM snapshots with a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReplayDir(rec.Dir(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReplayDir = %v, want error containing %q", err, tt.want)
			}
		})
	}
	if _, err := NewReplay(&Manifest{}, ReplayOptions{}); err == nil {
		t.Error("NewReplay of a manifest without a directory succeeded")
	}
}

// TestRecordThenReplay records a visit to a live server through Transport
// and replays it: the same client sees the same pages, on the replay's host.
func TestRecordThenReplay(t *testing.T) {
	mux := http.NewServeMux()
	var base string
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("password") != "s3cret-pw" {
			http.Error(w, "bad login", http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "live-session", Path: "/"})
		http.Redirect(w, r, base+"/auth/list?page=1", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /auth/list", func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("sid"); err != nil {
			http.Error(w, "log in first", http.StatusForbidden)
			return
		}
		page := r.URL.Query().Get("page")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<h1>page %s</h1><p>Member MBR-778899</p><a href="%s/auth/list?page=2">next</a>`, page, base)
	})
	live := httptest.NewServer(mux)
	defer live.Close()
	base = live.URL

	visit := func(c *http.Client, root string) []string {
		t.Helper()
		resp, err := c.PostForm(root+"/login", url.Values{"username": {"office"}, "password": {"s3cret-pw"}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		pages := []string{resp.Request.URL.String() + " " + string(b)}
		resp, err = c.Get(root + "/auth/list?page=2")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return append(pages, fmt.Sprintf("%d %s", resp.StatusCode, b))
	}

	s, clk := openStore(t, Options{})
	rec := s.Start("portal", "poll")
	rec.Redact("s3cret-pw", "MBR-778899")
	jar, _ := cookiejar.New(nil)
	recorded := visit(&http.Client{Jar: jar, Transport: &Transport{Rec: rec, Now: clk.Now}}, live.URL)
	rec.Step("visit", clk.Now(), nil)
	srv := serveReplay(t, rec)
	replayed := visit(&http.Client{}, srv.URL) // no cookie jar: replay needs no session

	for i := range recorded {
		want := strings.ReplaceAll(recorded[i], live.URL, srv.URL)
		want = strings.ReplaceAll(want, "MBR-778899", Redacted)
		if replayed[i] != want {
			t.Errorf("page %d replayed as\n%s\nwant\n%s", i, replayed[i], want)
		}
	}
	if !strings.Contains(replayed[0], srv.URL+"/auth/list?page=1 <h1>page 1</h1>") {
		t.Errorf("redirect not followed on the replay host: %s", replayed[0])
	}
}

// TestReplayTellsJSONBodiesApart: two POSTs to one API endpoint whose
// bodies differ only deep inside (two cases' PAS inquiries, each with its
// time stamp) are each answered with their own recorded response, in any
// order; a body no recording resembles more gets the recorded order.
func TestReplayTellsJSONBodiesApart(t *testing.T) {
	s, clk := openStore(t, Options{})
	rec := s.Start("pas", "poll")
	inquiry := func(caseID, ts string) string {
		return `{"resourceType":"Bundle","timestamp":"` + ts + `","entry":[{"resource":{"resourceType":"Claim","identifier":[{"value":"` + caseID + `"}]}}]}`
	}
	for _, id := range []string{"CASE-A", "CASE-B"} {
		rec.Attach("network", "inquire", "application/json", mustJSON(t, Exchange{
			Method: "POST", URL: origin + "/Claim/$inquire", Status: 200,
			RequestHeaders:  http.Header{"Content-Type": {"application/fhir+json"}},
			RequestBody:     inquiry(id, "2026-03-02T14:00:00Z"),
			ResponseHeaders: http.Header{"Content-Type": {"application/fhir+json"}},
			Body:            []byte(`{"answer":"` + id + `"}`),
		}))
	}
	rec.Step("poll", clk.Now(), nil)
	srv := serveReplay(t, rec)
	post := func(body string) string {
		t.Helper()
		resp, err := http.Post(srv.URL+"/Claim/$inquire", "application/fhir+json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for _, id := range []string{"CASE-B", "CASE-A", "CASE-B"} {
		if got := post(inquiry(id, "2026-03-09T08:00:00Z")); got != `{"answer":"`+id+`"}` {
			t.Errorf("inquiry about %s answered %s", id, got)
		}
	}
}
