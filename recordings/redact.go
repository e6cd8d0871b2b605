package recordings

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/authpilot/authpilot"
)

// Redacted replaces every redacted value.
const Redacted = "[REDACTED]"

// MinRedactLen is the shortest value Redact registers; shorter values would
// match almost anywhere and identify nobody.
const MinRedactLen = 3

// sensitiveWords mark a header, query parameter, form field, JSON key or HTML
// input whose value is always redacted.
var sensitiveWords = []string{
	"password", "passwd", "passcode", "token", "secret", "otp", "csrf",
	"xsrf", "apikey", "api_key", "api-key", "sessionid", "session_id",
}

// SensitiveName reports whether a field, parameter or header of this name
// always has its value redacted (see the package doc). OAuth2's token_type
// ("Bearer") is not a secret.
func SensitiveName(name string) bool {
	n := strings.ToLower(name)
	if n == "token_type" {
		return false
	}
	for _, w := range sensitiveWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// PatientValues returns the values to register with Redact for a patient:
// names (each part, both orders), date of birth and member ID.
func PatientValues(p authpilot.Patient) []string {
	var vs []string
	first, last := strings.TrimSpace(p.FirstName), strings.TrimSpace(p.LastName)
	vs = append(vs, first, last, p.MemberID)
	if first != "" && last != "" {
		vs = append(vs, first+" "+last, last+", "+first, last+","+first, last+" "+first)
	}
	if !p.DOB.IsZero() {
		vs = append(vs, p.DOB.String())
	}
	return vs
}

// redactor replaces registered values. It is safe for concurrent use. A
// visit registers every polled case's identifiers (thousands of values)
// and redacts every page it records, so values are indexed by their first
// three bytes: one pass over the text looks up each position and compares
// only the values that start there.
type redactor struct {
	// words makes values without an ASCII digit (names) match only as
	// whole words (see Index); set before the first add.
	words bool
	// shared, when set, is consulted too (Options.Index).
	shared *Index

	mu sync.RWMutex
	// added holds the values given to add, so a value added again (the
	// store-wide index re-reads recently written cases) costs one lookup.
	added map[string]bool
	n     int // spellings indexed
	// short holds the ASCII-lowercased spellings of 3 to 5 bytes by their
	// first 3 bytes (MinRedactLen guarantees 3); long the longer ones by
	// their first 6, so thousands of values sharing a short prefix (dates
	// of one decade, member IDs of one payer) are not all compared at
	// every position that starts with it.
	short map[[3]byte][]pattern
	long  map[[6]byte][]pattern
}

// pattern is one indexed spelling of a value.
type pattern struct {
	v string
	// word: the match must not touch an ASCII letter or digit on a side
	// where the value itself starts or ends with one.
	word bool
}

func (r *redactor) add(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.added == nil {
		r.added = map[string]bool{}
		r.short = map[[3]byte][]pattern{}
		r.long = map[[6]byte][]pattern{}
	}
	for _, v := range values {
		v = strings.TrimSpace(v)
		if utf8.RuneCountInString(v) < MinRedactLen || r.added[v] {
			continue
		}
		r.added[v] = true
		word := r.words && !strings.ContainsAny(v, "0123456789")
		for _, variant := range valueVariants(v) {
			k := asciiLower(variant)
			if len(k) < MinRedactLen {
				continue
			}
			// Buckets are small (values sharing 3 or 6 first bytes): a
			// scan finds a spelling already indexed, with no set beside.
			p := pattern{v: k, word: word}
			if len(k) < 6 {
				key := [3]byte{k[0], k[1], k[2]}
				r.short[key] = addPattern(r.short[key], p, &r.n)
			} else {
				key := [6]byte{k[0], k[1], k[2], k[3], k[4], k[5]}
				r.long[key] = addPattern(r.long[key], p, &r.n)
			}
		}
	}
}

// addPattern appends p to bucket unless its spelling is there, counting
// it in n. A spelling indexed both as a name (whole words) and as part of
// a value with digits keeps the looser match.
func addPattern(bucket []pattern, p pattern, n *int) []pattern {
	for i, q := range bucket {
		if q.v == p.v {
			bucket[i].word = q.word && p.word
			return bucket
		}
	}
	*n++
	return append(bucket, p)
}

// empty reports whether no value is registered here or in the shared index.
func (r *redactor) empty() bool {
	r.mu.RLock()
	n := r.n
	r.mu.RUnlock()
	return n == 0 && (r.shared == nil || r.shared.red.empty())
}

type span struct{ from, to int }

// find appends the spans of lower (an ASCII-lowercased text) that hold a
// registered value, in order of their start.
func (r *redactor) find(lower []byte, spans []span) []span {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.n == 0 {
		return spans
	}
	match := func(i int, p pattern) {
		end := i + len(p.v)
		if end > len(lower) || string(lower[i:end]) != p.v {
			return
		}
		if p.word && ((i > 0 && isAlnum(lower[i-1]) && isAlnum(p.v[0])) ||
			(end < len(lower) && isAlnum(lower[end]) && isAlnum(p.v[len(p.v)-1]))) {
			return
		}
		spans = append(spans, span{i, end})
	}
	for i := 0; i+3 <= len(lower); i++ {
		if len(r.short) > 0 {
			for _, p := range r.short[[3]byte{lower[i], lower[i+1], lower[i+2]}] {
				match(i, p)
			}
		}
		if i+6 <= len(lower) {
			for _, p := range r.long[[6]byte{lower[i], lower[i+1], lower[i+2], lower[i+3], lower[i+4], lower[i+5]}] {
				match(i, p)
			}
		}
	}
	return spans
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// bytes returns b with every registered value replaced (matched without
// regard to ASCII case; overlapping matches are replaced as one). It
// returns b itself when nothing matched.
func (r *redactor) bytes(b []byte) []byte {
	if len(b) < MinRedactLen || r.empty() {
		return b
	}
	lower := asciiLowerBytes(b)
	spans := r.find(lower, nil)
	if r.shared != nil {
		own := len(spans)
		spans = r.shared.red.find(lower, spans)
		if own > 0 && len(spans) > own {
			slices.SortFunc(spans, func(a, b span) int { return a.from - b.from })
		}
	}
	if len(spans) == 0 {
		return b
	}
	// spans are in order of their start.
	out := make([]byte, 0, len(b))
	pos := 0
	for i := 0; i < len(spans); {
		from, to := spans[i].from, spans[i].to
		for i++; i < len(spans) && spans[i].from < to; i++ {
			to = max(to, spans[i].to)
		}
		out = append(out, b[pos:from]...)
		out = append(out, Redacted...)
		pos = to
	}
	return append(out, b[pos:]...)
}

func (r *redactor) string(s string) string {
	if r.empty() {
		return s
	}
	return string(r.bytes([]byte(s)))
}

// Index is a set of values redacted by every recording of a Store
// (Options.Index) besides those each registers with Recording.Redact, and
// by whoever else must keep them out of text (the agent's alerts to sinks
// without PHI): the PHI of every case the store holds. Values are only
// ever added.
//
// Matching is as for Recording.Redact, except that a value without an
// ASCII digit (a name) matches only as a whole word — not next to an ASCII
// letter or digit — so that thousands of short names do not eat into
// ordinary words ("Eve" in "every"); a value with a digit (member ID,
// date, order reference) matches anywhere. Safe for concurrent use.
type Index struct{ red redactor }

// NewIndex returns an empty index.
func NewIndex() *Index { return &Index{red: redactor{words: true}} }

// Add registers values; see PatientValues.
func (x *Index) Add(values ...string) { x.red.add(values...) }

// Len returns how many spellings (escaped forms, date layouts) are indexed.
func (x *Index) Len() int {
	x.red.mu.RLock()
	defer x.red.mu.RUnlock()
	return x.red.n
}

// Redact returns s with every indexed value replaced by Redacted.
func (x *Index) Redact(s string) string { return x.red.string(s) }

// asciiLower lowercases ASCII letters only, so byte offsets are kept.
func asciiLower(s string) string { return string(asciiLowerBytes([]byte(s))) }

// asciiLowerBytes returns a lowercased copy of b (ASCII letters only).
func asciiLowerBytes(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// valueVariants returns v as it may be written on a page, in a URL or in
// JSON, and, for a date, in its usual spellings.
func valueVariants(v string) []string {
	base := []string{v}
	if u, l := strings.ToUpper(v), strings.ToLower(v); u != v || l != v {
		base = append(base, u, l) // non-ASCII case variants (José, JOSÉ)
	}
	base = append(base, dateVariants(v)...)
	var out []string
	for _, b := range base {
		out = append(out, b, html.EscapeString(b), url.QueryEscape(b), url.PathEscape(b), jsonEscape(b))
		if strings.Contains(b, " ") {
			out = append(out, strings.ReplaceAll(b, " ", "&nbsp;"), strings.ReplaceAll(b, " ", "\u00a0"))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func jsonEscape(s string) string {
	b, err := json.Marshal(s)
	if err != nil || len(b) < 2 {
		return s
	}
	return string(b[1 : len(b)-1])
}

var dateInputLayouts = []string{"2006-01-02", "01/02/2006", "1/2/2006"}

var dateOutputLayouts = []string{
	"2006-01-02", "2006/01/02", "20060102",
	"01/02/2006", "1/2/2006", "01-02-2006", "01022006", "01/02/06", "1/2/06",
	"Jan 2, 2006", "Jan 02, 2006", "January 2, 2006", "January 02, 2006",
	"2 Jan 2006", "02 Jan 2006", "2 January 2006", "02-Jan-2006",
	"Jan. 2, 2006", "2-Jan-2006",
}

// dateVariants returns the spellings of v when v is a date.
func dateVariants(v string) []string {
	for _, layout := range dateInputLayouts {
		t, err := time.Parse(layout, v)
		if err != nil {
			continue
		}
		out := make([]string, 0, len(dateOutputLayouts))
		for _, l := range dateOutputLayouts {
			out = append(out, t.Format(l))
		}
		return out
	}
	return nil
}

// headers returns a redacted copy of h.
func (r *redactor) headers(h map[string][]string) map[string][]string {
	if h == nil {
		return nil
	}
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		name := r.string(k)
		nv := make([]string, len(vs))
		for i, v := range vs {
			nv[i] = r.string(redactHeaderValue(k, v))
		}
		out[name] = nv
	}
	return out
}

func redactHeaderValue(name, v string) string {
	switch strings.ToLower(name) {
	case "authorization", "proxy-authorization":
		if scheme, _, ok := strings.Cut(strings.TrimSpace(v), " "); ok && !strings.ContainsAny(scheme, "=,:") {
			return scheme + " " + Redacted
		}
		return Redacted
	case "cookie":
		parts := strings.Split(v, ";")
		for i, p := range parts {
			name, _, _ := strings.Cut(p, "=")
			parts[i] = name + "=" + Redacted
		}
		return strings.Join(parts, ";")
	case "set-cookie":
		first, attrs, hasAttrs := strings.Cut(v, ";")
		name, _, _ := strings.Cut(first, "=")
		s := name + "=" + Redacted
		if hasAttrs {
			s += ";" + attrs
		}
		return s
	case "location", "content-location", "referer", "origin", "refresh", ":path":
		return redactURLParams(v)
	}
	if SensitiveName(name) {
		return Redacted
	}
	return v
}

// redactURLParams redacts the password of a URL's user info and the values
// of sensitive query parameters, keeping everything else as written.
func redactURLParams(raw string) string {
	s := raw
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		authority, path, hasPath := strings.Cut(rest, "/")
		if at := strings.LastIndex(authority, "@"); at >= 0 {
			user, _, _ := strings.Cut(authority[:at], ":")
			authority = user + ":" + Redacted + authority[at:]
			s = scheme + "://" + authority
			if hasPath {
				s += "/" + path
			}
		}
	}
	base, query, ok := strings.Cut(s, "?")
	if !ok {
		return s
	}
	query, frag, hasFrag := strings.Cut(query, "#")
	out := base + "?" + redactForm(query)
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// redactForm redacts sensitive fields of an url-encoded form or query,
// keeping order and encoding.
func redactForm(q string) string {
	if q == "" {
		return q
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasValue && SensitiveName(name) {
			parts[i] = k + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}

// body redacts a request or response body of the given content type.
func (r *redactor) body(contentType string, b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	}
	switch {
	case mt == "application/x-www-form-urlencoded":
		b = []byte(redactForm(string(b)))
	case strings.HasPrefix(mt, "multipart/"):
		b = redactMultipart(b, params["boundary"])
	case strings.Contains(mt, "json"):
		b = redactJSON(b)
	case strings.Contains(mt, "html"):
		b = redactHTMLFields(b)
	case mt == "" && looksLikeJSON(b):
		b = redactJSON(b)
	}
	return r.bytes(b)
}

func looksLikeJSON(b []byte) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t)
}

// redactMultipart rewrites a multipart body with sensitive fields redacted
// and uploaded files replaced by their size and SHA-256. A body that does
// not parse is replaced whole: its fields cannot be told apart.
func redactMultipart(b []byte, boundary string) []byte {
	if boundary == "" {
		return []byte(Redacted + " (multipart body without boundary)")
	}
	mr := multipart.NewReader(bytes.NewReader(b), boundary)
	var out bytes.Buffer
	mw := multipart.NewWriter(&out)
	if err := mw.SetBoundary(boundary); err != nil {
		return []byte(Redacted + " (multipart body with invalid boundary)")
	}
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return []byte(Redacted + " (unparseable multipart body)")
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return []byte(Redacted + " (unparseable multipart body)")
		}
		switch {
		case p.FileName() != "":
			sum := sha256.Sum256(data)
			data = fmt.Appendf(nil, "[file content omitted: %d bytes, sha256 %s]", len(data), hex.EncodeToString(sum[:]))
		case SensitiveName(p.FormName()):
			data = []byte(Redacted)
		}
		w, err := mw.CreatePart(textproto.MIMEHeader(p.Header))
		if err != nil {
			return []byte(Redacted + " (unparseable multipart body)")
		}
		if _, err := w.Write(data); err != nil {
			return []byte(Redacted + " (unparseable multipart body)")
		}
	}
	if err := mw.Close(); err != nil {
		return []byte(Redacted + " (unparseable multipart body)")
	}
	return out.Bytes()
}

// jsonSensitivePair finds "key": "value" pairs with a sensitive key in JSON
// that does not decode.
var jsonSensitivePair = regexp.MustCompile(`(?i)("[^"]*(?:password|passwd|passcode|token|secret|otp|csrf|xsrf|apikey|api_key|api-key|sessionid|session_id)[^"]*"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\]\s]+)`)

// redactJSON replaces the values of sensitive keys, at any depth. The body
// is re-encoded only when something was redacted.
func redactJSON(b []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return jsonSensitivePair.ReplaceAll(b, []byte(`${1}"`+Redacted+`"`))
	}
	v, changed := redactJSONValue(v)
	if !changed {
		return b
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return jsonSensitivePair.ReplaceAll(b, []byte(`${1}"`+Redacted+`"`))
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n"))
}

func redactJSONValue(v any) (any, bool) {
	changed := false
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if SensitiveName(k) && e != nil {
				t[k] = Redacted
				changed = true
				continue
			}
			var c bool
			t[k], c = redactJSONValue(e)
			changed = changed || c
		}
	case []any:
		for i, e := range t {
			var c bool
			t[i], c = redactJSONValue(e)
			changed = changed || c
		}
	}
	return v, changed
}

// foreignJSON redacts a network artifact that is JSON but not an Exchange:
// sensitive keys at any depth, string values under header-like keys
// (Authorization, Cookie, …) as headers, sensitive parameters of URL
// strings, then registered values. Encoded payloads inside it (base64) are
// not looked into.
func (r *redactor) foreignJSON(b []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return r.bytes(redactJSON(b))
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(redactForeign(v, "")); err != nil {
		return r.bytes(redactJSON(b))
	}
	return r.bytes(out.Bytes())
}

// redactForeign redacts a decoded JSON value found under key.
func redactForeign(v any, key string) any {
	lk := strings.ToLower(key)
	if s, ok := v.(string); ok {
		switch {
		case lk == "authorization" || lk == "proxy-authorization":
			return redactHeaderValue("authorization", s)
		case strings.Contains(lk, "set-cookie"):
			return redactHeaderValue("set-cookie", s)
		case strings.Contains(lk, "cookie"):
			return redactHeaderValue("cookie", s)
		}
	}
	if v != nil && SensitiveName(key) {
		return Redacted
	}
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = redactForeign(e, k)
		}
	case []any:
		for i, e := range t {
			t[i] = redactForeign(e, key) // a list of cookies is still cookies
		}
	case string:
		if strings.HasPrefix(t, "http://") || strings.HasPrefix(t, "https://") {
			return redactURLParams(t)
		}
	}
	return v
}

var (
	htmlFieldTag  = regexp.MustCompile(`(?is)<(?:input|meta)\b[^>]*>`)
	htmlNameAttr  = regexp.MustCompile(`(?is)\b(?:name|id|type|property|http-equiv)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
	htmlValueAttr = regexp.MustCompile(`(?is)(\b(?:value|content)\s*=\s*)("[^"]*"|'[^']*'|[^\s>]+)`)
)

// redactHTMLFields blanks the value of <input> and <meta> tags whose name,
// id or type marks a secret (type=password, name=csrf_token, …).
func redactHTMLFields(b []byte) []byte {
	lower := asciiLowerBytes(b)
	if !bytes.Contains(lower, []byte("<input")) && !bytes.Contains(lower, []byte("<meta")) {
		return b
	}
	return htmlFieldTag.ReplaceAllFunc(b, func(tag []byte) []byte {
		sensitive := false
		for _, m := range htmlNameAttr.FindAllSubmatch(tag, -1) {
			if SensitiveName(string(m[1])) {
				sensitive = true
				break
			}
		}
		if !sensitive {
			return tag
		}
		return htmlValueAttr.ReplaceAll(tag, []byte(`${1}"`+Redacted+`"`))
	})
}
