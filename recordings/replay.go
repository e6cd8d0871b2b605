package recordings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/authpilot/authpilot/internal/didyoumean"
)

// ReplayIndexPath serves a page listing what a Replay can answer.
const ReplayIndexPath = "/_authpilot/replay"

// errNotExchange marks a network artifact in another JSON shape.
var errNotExchange = errors.New("not a network exchange")

// ReplayOptions configure a Replay.
type ReplayOptions struct {
	// ServeDOM answers a GET that no network exchange answers with a DOM
	// snapshot taken at that URL (see DOMSnapshot), as a 200 text/html.
	ServeDOM bool
	// Logger receives one line per unanswered request; nil discards.
	Logger *slog.Logger
}

// Replay is an http.Handler that serves a recording's responses again (see
// the package doc for how requests are matched). It keeps which responses
// it has served, so repeated requests walk through the recorded order; it
// is safe for concurrent use.
type Replay struct {
	id      string
	opts    ReplayOptions
	log     *slog.Logger
	entries []*entry            // recorded order
	byKey   map[string][]*entry // "METHOD path"
	wild    []*entry            // paths with a redacted segment
	hosts   []string            // recorded origins' hosts

	mu sync.Mutex
}

// entry is one response the replay can serve.
type entry struct {
	file   string
	method string
	path   string
	rawURL string // as recorded, for messages
	query  url.Values
	form   url.Values
	status int
	header http.Header
	body   []byte
	dom    bool
	served bool
}

// ReplayDir loads the recording in directory dir and returns its Replay.
func ReplayDir(dir string, opts ReplayOptions) (*Replay, error) {
	m, err := LoadDir(dir)
	if err != nil {
		return nil, err
	}
	return NewReplay(m, opts)
}

// NewReplay reads the network exchanges (and, with ServeDOM, the DOM
// snapshots) of a loaded recording. It fails when there is nothing to serve.
func NewReplay(m *Manifest, opts ReplayOptions) (*Replay, error) {
	if m == nil || m.Dir == "" {
		return nil, errors.New("replay: recording not loaded from a directory")
	}
	rp := &Replay{id: m.ID, opts: opts, log: opts.Logger, byKey: map[string][]*entry{}}
	if rp.log == nil {
		rp.log = slog.New(slog.DiscardHandler)
	}
	seenHost := map[string]bool{}
	for _, f := range m.Files() {
		var e *entry
		var err error
		switch artifactKind(f) {
		case "network":
			e, err = loadExchangeEntry(m.Dir, f)
			if errors.Is(err, errNotExchange) {
				rp.log.Info("replay skips a network artifact not in exchange format", "file", f)
				e, err = nil, nil
			}
		case "dom":
			if opts.ServeDOM {
				e, err = loadDOMEntry(m.Dir, f)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("replay %s: %w", m.ID, err)
		}
		if e == nil {
			continue
		}
		if u, err := url.Parse(e.rawURL); err == nil && u.Host != "" && !seenHost[strings.ToLower(u.Host)] {
			seenHost[strings.ToLower(u.Host)] = true
			rp.hosts = append(rp.hosts, strings.ToLower(u.Host))
		}
		rp.entries = append(rp.entries, e)
		if strings.Contains(e.path, Redacted) {
			rp.wild = append(rp.wild, e)
		} else {
			k := e.method + " " + e.path
			rp.byKey[k] = append(rp.byKey[k], e)
		}
	}
	if len(rp.entries) == 0 {
		what := "no network exchanges"
		if opts.ServeDOM {
			what += " and no DOM snapshots with a URL"
		}
		return nil, fmt.Errorf("replay %s: nothing to serve: %s", m.ID, what)
	}
	return rp, nil
}

func loadExchangeEntry(dir, file string) (*entry, error) {
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	ex, err := ParseExchange(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", file, errNotExchange, err)
	}
	u, err := url.Parse(ex.URL)
	if err != nil {
		return nil, fmt.Errorf("%s: parse url: %w", file, err)
	}
	return &entry{
		file:   file,
		method: ex.Method,
		path:   pathOf(u),
		rawURL: ex.URL,
		query:  parseQuery(u.RawQuery),
		form:   formFields(headerGet(ex.RequestHeaders, "Content-Type"), []byte(ex.RequestBody)),
		status: ex.Status,
		header: ex.ResponseHeaders,
		body:   ex.Body,
	}, nil
}

func loadDOMEntry(dir, file string) (*entry, error) {
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	raw := snapshotURL(data)
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, nil // a snapshot of a page we cannot address is not served
	}
	return &entry{
		file:   file,
		method: http.MethodGet,
		path:   pathOf(u),
		rawURL: raw,
		query:  parseQuery(u.RawQuery),
		status: http.StatusOK,
		header: http.Header{"Content-Type": {"text/html; charset=utf-8"}},
		body:   data,
		dom:    true,
	}, nil
}

func pathOf(u *url.URL) string {
	if u.Path == "" {
		return "/"
	}
	return u.Path
}

func parseQuery(raw string) url.Values {
	q, _ := url.ParseQuery(raw) // keep what parses
	return q
}

// Reset forgets which responses were served: the next requests start from
// the first recorded answers again.
func (rp *Replay) Reset() {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	for _, e := range rp.entries {
		e.served = false
	}
}

// ServeHTTP answers a request with its recorded response.
func (rp *Replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == ReplayIndexPath {
		rp.serveIndex(w)
		return
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	var form url.Values
	if r.Body != nil && method != http.MethodGet {
		body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
		if err != nil {
			http.Error(w, "authpilot replay: read request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		form = formFields(r.Header.Get("Content-Type"), body)
	}
	conditional := r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != ""
	e := rp.match(method, pathOf(r.URL), parseQuery(r.URL.RawQuery), form, conditional)
	if e == nil {
		rp.notFound(w, r, method)
		return
	}
	rp.write(w, r, e)
}

// rank orders candidates: network before DOM, fewer differing form fields,
// more exactly equal query values, more equal form fields.
type rank struct{ dom, mismatches, queryExact, matches int }

func (a rank) less(b rank) bool {
	if a.dom != b.dom {
		return a.dom < b.dom
	}
	if a.mismatches != b.mismatches {
		return a.mismatches < b.mismatches
	}
	if a.queryExact != b.queryExact {
		return a.queryExact > b.queryExact
	}
	return a.matches > b.matches
}

// match picks the response for a request and marks it served. A recorded
// 304 answers only a conditional request when another answer exists: the
// browser that revalidated during the recording had the page cached, the
// replaying one may not.
func (rp *Replay) match(method, path string, query, form url.Values, conditional bool) *entry {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	cands := rp.byKey[method+" "+path]
	if len(cands) == 0 {
		for _, e := range rp.wild {
			if e.method == method && pathMatches(e.path, path) {
				cands = append(cands, e)
			}
		}
	}
	type scored struct {
		e *entry
		r rank
	}
	var best []scored
	for _, e := range cands {
		exact, ok := queryMatches(e.query, query)
		if !ok {
			continue
		}
		mis, mat := formDistance(e.form, form)
		s := scored{e, rank{dom: boolInt(e.dom), mismatches: mis, queryExact: exact, matches: mat}}
		switch {
		case len(best) == 0 || s.r.less(best[0].r):
			best = []scored{s}
		case !best[0].r.less(s.r):
			best = append(best, s)
		}
	}
	if len(best) == 0 {
		return nil
	}
	if !conditional {
		full := best[:0:0]
		for _, s := range best {
			if s.e.status != http.StatusNotModified {
				full = append(full, s)
			}
		}
		if len(full) > 0 {
			best = full
		}
	}
	// In recorded order: the first not yet served, then the last forever.
	for _, s := range best {
		if !s.e.served {
			s.e.served = true
			return s.e
		}
	}
	return best[len(best)-1].e
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pathMatches compares paths segment by segment; a recorded segment that
// contains [REDACTED] matches any segment.
func pathMatches(recorded, path string) bool {
	rs, ps := strings.Split(recorded, "/"), strings.Split(path, "/")
	if len(rs) != len(ps) {
		return false
	}
	for i := range rs {
		if rs[i] != ps[i] && !strings.Contains(rs[i], Redacted) {
			return false
		}
	}
	return true
}

// queryMatches compares queries regardless of parameter order. A recorded
// value that contains [REDACTED], or of a sensitive parameter, matches any
// value. exact counts values equal as recorded.
func queryMatches(recorded, q url.Values) (exact int, ok bool) {
	if len(recorded) != len(q) {
		return 0, false
	}
	for k, rvs := range recorded {
		vs, found := q[k]
		if !found || len(vs) != len(rvs) {
			return 0, false
		}
		n, ok := matchValues(rvs, vs, SensitiveName(k))
		if !ok {
			return 0, false
		}
		exact += n
	}
	return exact, true
}

// matchValues pairs a request's values of one parameter with the recorded
// ones: equal values first, then the rest with redacted (wildcard) ones.
func matchValues(recorded, q []string, wildKey bool) (exact int, ok bool) {
	used := make([]bool, len(recorded))
	var rest []string
	for _, v := range q {
		hit := false
		for i, rv := range recorded {
			if !used[i] && rv == v {
				used[i], hit = true, true
				exact++
				break
			}
		}
		if !hit {
			rest = append(rest, v)
		}
	}
	for range rest {
		hit := false
		for i, rv := range recorded {
			if !used[i] && (wildKey || strings.Contains(rv, Redacted)) {
				used[i], hit = true, true
				break
			}
		}
		if !hit {
			return 0, false
		}
	}
	return exact, true
}

func sortedCopy(vs []string) []string {
	out := append([]string(nil), vs...)
	sort.Strings(out)
	return out
}

// formDistance compares the recorded form fields with a request's, ignoring
// sensitive fields and redacted values: how many differ and how many agree.
func formDistance(recorded, form url.Values) (mismatches, matches int) {
	keys := map[string]bool{}
	for k := range recorded {
		keys[k] = true
	}
	for k := range form {
		keys[k] = true
	}
	for k := range keys {
		if SensitiveName(k) {
			continue
		}
		rvs, vs := recorded[k], form[k]
		if slicesContainRedacted(rvs) {
			continue
		}
		if strings.Join(sortedCopy(rvs), "\x00") == strings.Join(sortedCopy(vs), "\x00") && len(rvs) == len(vs) {
			matches++
		} else {
			mismatches++
		}
	}
	return mismatches, matches
}

func slicesContainRedacted(vs []string) bool {
	for _, v := range vs {
		if strings.Contains(v, Redacted) {
			return true
		}
	}
	return false
}

// formFields extracts the fields of a url-encoded, multipart (non-file
// parts) or JSON (top-level scalars) body.
func formFields(contentType string, body []byte) url.Values {
	if len(body) == 0 {
		return nil
	}
	mt, params, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/x-www-form-urlencoded":
		return parseQuery(string(body))
	case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "":
		out := url.Values{}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				break
			}
			if p.FileName() != "" || p.FormName() == "" {
				continue
			}
			v, err := io.ReadAll(io.LimitReader(p, 1<<20))
			if err != nil {
				break
			}
			out.Add(p.FormName(), string(v))
		}
		return out
	case strings.Contains(mt, "json"):
		var obj map[string]any
		if json.Unmarshal(body, &obj) != nil {
			return nil
		}
		out := url.Values{}
		jsonFields(out, "", obj)
		return out
	}
	return nil
}

// maxJSONFields bounds the fields jsonFields takes from one body.
const maxJSONFields = 4096

// jsonFields adds the scalars of a JSON value under their paths ("a.b.0.c"),
// so that two requests to one endpoint that differ deep inside their
// bodies (two cases' PAS Bundles) are told apart.
func jsonFields(out url.Values, prefix string, v any) {
	if len(out) >= maxJSONFields {
		return
	}
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			jsonFields(out, join(k), e)
		}
	case []any:
		for i, e := range x {
			jsonFields(out, join(strconv.Itoa(i)), e)
		}
	default:
		out.Set(prefix, fmt.Sprint(x))
	}
}

// hopHeaders are not replayed: the body is served decoded and whole, and
// the replay must not depend on (redacted) cookies.
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Content-Encoding",
	"Set-Cookie", "Strict-Transport-Security", "Alt-Svc", "Upgrade", "Trailer",
}

func (rp *Replay) write(w http.ResponseWriter, r *http.Request, e *entry) {
	if e.status == 0 {
		http.Error(w, "authpilot replay: the recorded request failed without a response ("+e.file+")", http.StatusBadGateway)
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	h := w.Header()
	for k, vs := range e.header {
		ck := http.CanonicalHeaderKey(k)
		if isHop(ck) {
			continue
		}
		for _, v := range vs {
			h.Add(ck, string(rp.rewrite([]byte(v), scheme, r.Host)))
		}
	}
	h.Set("X-Authpilot-Replay", rp.id+" "+e.file)
	body := e.body
	if isText(headerGet(e.header, "Content-Type"), body) {
		body = rp.rewrite(body, scheme, r.Host)
	}
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

func isHop(name string) bool {
	for _, h := range hopHeaders {
		if h == name {
			return true
		}
	}
	return false
}

// isText reports whether a body is text that may hold links.
func isText(contentType string, body []byte) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case strings.HasPrefix(mt, "text/"), strings.Contains(mt, "json"), strings.Contains(mt, "xml"),
		strings.Contains(mt, "javascript"), strings.Contains(mt, "ecmascript"), mt == "application/x-www-form-urlencoded":
		return true
	case mt == "":
		return len(body) > 0 && !bytes.ContainsRune(body[:min(len(body), 512)], 0)
	}
	return false
}

// rewrite points absolute and protocol-relative URLs of the recorded
// origins at the replay's own origin.
func (rp *Replay) rewrite(b []byte, scheme, host string) []byte {
	host = strings.ToLower(host)
	for _, h := range rp.hosts {
		if h != host {
			b = rewriteHost(b, h, scheme, host)
		}
	}
	return b
}

// rewriteHost replaces "//from" (and JSON's "\/\/from") followed by a host
// boundary with "//to", and an http: or https: scheme before it with scheme.
func rewriteHost(b []byte, from, scheme, to string) []byte {
	lower := []byte(asciiLower(string(b)))
	var out []byte
	pos := 0
	for i := 0; i < len(lower); {
		slash, n := findSlashes(lower, i, from)
		if slash < 0 {
			break
		}
		end := slash + n + len(from)
		if !hostBoundary(lower, end) {
			i = slash + 1
			continue
		}
		start := slash
		schemeOut := ""
		switch {
		case bytes.HasSuffix(lower[:slash], []byte("https:")):
			start, schemeOut = slash-len("https:"), scheme+":"
		case bytes.HasSuffix(lower[:slash], []byte("http:")):
			start, schemeOut = slash-len("http:"), scheme+":"
		}
		if start < pos {
			start, schemeOut = slash, ""
		}
		out = append(out, b[pos:start]...)
		out = append(out, schemeOut...)
		out = append(out, b[slash:slash+n]...) // the slashes as written
		out = append(out, to...)
		pos, i = end, end
	}
	if out == nil {
		return b
	}
	return append(out, b[pos:]...)
}

// findSlashes finds the next "//host" or "\/\/host" at or after i; it
// returns the index of the slashes and their length.
func findSlashes(lower []byte, i int, host string) (int, int) {
	best, bestN := -1, 0
	for _, sep := range []string{"//", `\/\/`} {
		j := bytes.Index(lower[i:], []byte(sep+host))
		if j >= 0 && (best < 0 || i+j < best) {
			best, bestN = i+j, len(sep)
		}
	}
	return best, bestN
}

// hostBoundary reports whether a host name ends at b[i].
func hostBoundary(b []byte, i int) bool {
	if i >= len(b) {
		return true
	}
	c := b[i]
	switch {
	case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '-', c == '_':
		return false
	case c == ':':
		return i+1 >= len(b) || b[i+1] < '0' || b[i+1] > '9'
	}
	return true
}

// notFound answers an unknown request with the nearest recorded one.
func (rp *Replay) notFound(w http.ResponseWriter, r *http.Request, method string) {
	target := method + " " + r.URL.RequestURI()
	nearest := rp.nearest(method, r.URL)
	// The path may carry PHI from the flow under test: it goes in the
	// answer, not in the log.
	rp.log.Info("replay request not recorded", "recording", rp.id, "method", method)
	var b strings.Builder
	fmt.Fprintf(&b, "authpilot replay: no recorded response for %s\n", target)
	if nearest != "" {
		fmt.Fprintf(&b, "nearest recorded request: %s\n", nearest)
	}
	fmt.Fprintf(&b, "recording %s holds %d responses; list: %s\n", rp.id, len(rp.entries), ReplayIndexPath)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, b.String())
}

// nearest returns the recorded request closest to a request: by edit
// distance over "path?sorted query", a different method costing more.
func (rp *Replay) nearest(method string, u *url.URL) string {
	want := requestKey("", pathOf(u), parseQuery(u.RawQuery))
	best, bestD := "", -1
	seen := map[string]bool{}
	for _, e := range rp.entries {
		k := requestKey(e.method, e.path, e.query)
		if seen[k] {
			continue
		}
		seen[k] = true
		other := requestKey("", e.path, e.query)
		d := didyoumean.Distance(want[:min(len(want), 256)], other[:min(len(other), 256)])
		if e.method != method {
			d += 8
		}
		if bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func requestKey(method, path string, q url.Values) string {
	s := path
	if method != "" {
		s = method + " " + path
	}
	if len(q) > 0 {
		s += "?" + q.Encode() // Encode sorts by key
	}
	return s
}

func (rp *Replay) serveIndex(w http.ResponseWriter) {
	var b strings.Builder
	fmt.Fprintf(&b, "<!doctype html><meta charset=utf-8><title>replay %s</title><h1>Recording %s</h1><table>\n",
		html.EscapeString(rp.id), html.EscapeString(rp.id))
	b.WriteString("<tr><th>method</th><th>URL</th><th>status</th><th>file</th></tr>\n")
	for _, e := range rp.entries {
		target := e.path
		if len(e.query) > 0 {
			target += "?" + e.query.Encode()
		}
		link := html.EscapeString(target)
		if e.method == http.MethodGet {
			link = `<a href="` + html.EscapeString(target) + `">` + link + `</a>`
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%d</td><td>%s</td></tr>\n",
			html.EscapeString(e.method), link, e.status, html.EscapeString(e.file))
	}
	b.WriteString("</table>\n")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, b.String())
}
