package portal

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
)

// Fetch mode (poll.fetch: true) reads the pages of the poll and download
// flows without navigating a browser tab: the page the login left open
// fetches each URL with the visit's cookies, parses the HTML with
// DOMParser and the steps read that document. A fetched page is neither
// rendered nor run (no layout, no scripts, no stylesheets), which makes a
// read about ten times cheaper in CPU than a navigation and lets the
// visit's reads run side by side on one tab.
//
// Only reading steps have a fetched form: goto, expect, wait_for,
// extract, clicks on links (navigate or download), call and each. Any
// step that fails on a fetched page — an element missing, an interrupt, a
// refused request — makes the caller run the whole flow again in a real
// tab, where the usual waits, interrupts, screenshots and errors apply;
// fetch mode never decides an error on its own.

// errNotFetchable marks a step kind that has no fetched form.
var errNotFetchable = errors.New("this step cannot run on a fetched page")

// fetchAction is implemented by the step kinds that can read a fetched
// document.
type fetchAction interface {
	fetch(x *exec) error
}

// fetchable reports whether a step kind has a fetched form; clicks only
// when they follow a link (navigate or download).
func fetchable(st *Step) bool {
	switch a := st.action.(type) {
	case *clickStep:
		return a.Navigate || a.Download != ""
	case fetchAction:
		return true
	}
	return false
}

// jsDocs is the page-side store of fetched documents, by key.
const jsDocs = `(window.__authpilotDocs || (window.__authpilotDocs = {}))`

// jsDocVisible: a fetched document has no layout, so an element counts as
// shown unless it or an ancestor is hidden by markup (the hidden
// attribute, an inline display:none or visibility:hidden, a hidden input,
// or an element that never renders).
const jsDocVisible = `(el) => {
	for (let e = el; e; e = e.parentElement) {
		if (e.hidden || ['TEMPLATE', 'SCRIPT', 'STYLE', 'NOSCRIPT', 'HEAD', 'TITLE'].includes(e.tagName)) return false;
		if (e.tagName === 'INPUT' && (e.getAttribute('type') || '').toLowerCase() === 'hidden') return false;
		const st = e.getAttribute('style') || '';
		if (/display\s*:\s*none|visibility\s*:\s*hidden/i.test(st)) return false;
	}
	return true;
}`

// jsMatchIn checks selectors against a fetched document d: for each,
// whether it matches an element and a shown one, and the body text when
// asked for.
const jsMatchIn = `(d, sels, wantText) => {
	const visible = ` + jsDocVisible + `;
	const found = [], shown = [];
	for (const sel of sels) {
		let f = false, v = false;
		if (sel) {
			for (const el of d.doc.querySelectorAll(sel)) {
				f = true;
				if (visible(el)) { v = true; break; }
			}
		}
		found.push(f);
		shown.push(v);
	}
	const body = d.doc.body;
	return {found, shown, text: wantText && body ? (body.innerText || body.textContent || '') : ''};
}`

// jsFetchDoc fetches url with the page's cookies, keeps the parsed
// document under key and checks sels on it (the interrupts), in one round
// trip.
const jsFetchDoc = `async (key, url, sels, wantText) => {
	const docs = ` + jsDocs + `;
	delete docs[key];
	const r = await fetch(url, {credentials: 'include', redirect: 'follow'});
	const text = await r.text();
	const type = (r.headers.get('content-type') || '').toLowerCase();
	const retryAfter = r.headers.get('retry-after') || '';
	if (!type.includes('html')) return {status: r.status, url: r.url, html: false, retryAfter};
	const d = {doc: new DOMParser().parseFromString(text, 'text/html'), url: r.url};
	docs[key] = d;
	return {status: r.status, url: r.url, html: true, retryAfter, match: (` + jsMatchIn + `)(d, sels, wantText)};
}`

// jsDocMatch is jsMatchIn on the document kept under key.
const jsDocMatch = `(key, sels, wantText) => {
	const d = ` + jsDocs + `[key];
	return d ? (` + jsMatchIn + `)(d, sels, wantText) : null;
}`

// jsLinkIn finds the first shown element of sel in a fetched document d
// (whose text matches the pattern, when given) and returns its link target
// resolved against the document's URL: {found, href, disabled}; href is
// "" when it is not an http(s) link.
const jsLinkIn = `(d, sel, pattern, flags) => {
	const visible = ` + jsDocVisible + `;
	const re = pattern ? new RegExp(pattern, flags) : null;
	for (const el of d.doc.querySelectorAll(sel)) {
		if (!visible(el)) continue;
		if (re && !re.test((el.textContent || '').replace(/\s+/g, ' ').trim())) continue;
		const raw = el.getAttribute('href');
		const disabled = el.disabled || el.getAttribute('aria-disabled') === 'true' || el.classList.contains('disabled') || !raw;
		let href = '';
		if (raw) {
			try {
				const u = new URL(raw, d.url);
				if (u.protocol === 'http:' || u.protocol === 'https:') href = u.href;
			} catch (e) {}
		}
		return {found: true, href, disabled};
	}
	return {found: false, href: '', disabled: false};
}`

// jsDocLink is jsLinkIn on the document kept under key.
const jsDocLink = `(key, sel, pattern, flags) => {
	const d = ` + jsDocs + `[key];
	return d ? (` + jsLinkIn + `)(d, sel, pattern, flags) : null;
}`

// jsDocDownload finds a link like jsDocLink and, when it is one, fetches
// its target like jsFetchURL, in one round trip.
const jsDocDownload = `async (key, sel, pattern, flags) => {
	const d = ` + jsDocs + `[key];
	if (!d) return null;
	const l = (` + jsLinkIn + `)(d, sel, pattern, flags);
	if (!l.found || !l.href) return {link: l};
	return {link: l, file: await (` + jsFetchURL + `)(l.href)};
}`

// jsDocHTML returns a fetched document's markup (for DOM evidence).
const jsDocHTML = `(key) => { const d = ` + jsDocs + `[key]; return d ? '<!-- ' + d.url + ' -->\n' + d.doc.documentElement.outerHTML : '' }`

// notOnFetched is the error of a fetched step that did not find what the
// flow expects; the caller reads the page again in a tab.
func (x *exec) notOnFetched(what string) error {
	return x.fail(authpilot.ErrPortalChanged, what+" is not on the fetched page", errMissing)
}

// fetchDoc fetches url into the runner's document and fails on an
// interrupt it shows.
func (x *exec) fetchDoc(url string) error {
	if err := x.pace(); err != nil {
		return err
	}
	its := x.r.interrupts()
	sels, text := matchArgs(its)
	res, err := x.page.Eval(jsFetchDoc, x.r.doc, url, sels, text)
	if err != nil {
		if x.ctx.Err() != nil {
			return x.navErr(x.ctx.Err())
		}
		return x.fail(authpilot.ErrRetryable, "fetch the page", err)
	}
	var out struct {
		Status     int       `json:"status"`
		URL        string    `json:"url"`
		HTML       bool      `json:"html"`
		RetryAfter string    `json:"retryAfter"`
		Match      *docMatch `json:"match"`
	}
	if err := res.Value.Unmarshal(&out); err != nil {
		return x.actErr("fetch the page", err)
	}
	x.r.docURL = out.URL
	retryAfter, _ := connectors.ParseRetryAfter(out.RetryAfter, x.r.s.c.now())
	if out.Status >= 500 || out.Status == http.StatusTooManyRequests {
		e := x.fail(authpilot.ErrRetryable, fmt.Sprintf("the portal answered HTTP %d", out.Status), nil)
		e.RetryAfter = retryAfter
		return e
	}
	if !out.HTML || out.Match == nil || len(out.Match.Shown) != len(sels) {
		return x.fail(authpilot.ErrPortalChanged, "the fetched page is not HTML", nil)
	}
	if i := x.firstMatch(its, out.Match); i >= 0 {
		err := x.interruptErr(its[i], nil)
		var ce *authpilot.Error
		if errors.As(err, &ce) && errors.Is(ce, authpilot.ErrRetryable) && retryAfter > 0 {
			ce.RetryAfter = retryAfter
		}
		return err
	}
	return nil
}

type docMatch struct {
	Found []bool `json:"found"`
	Shown []bool `json:"shown"`
	Text  string `json:"text"`
}

// docMatchAll checks selectors (and reads the body text when text is set)
// on the fetched document.
func (x *exec) docMatchAll(sels []string, text bool) (*docMatch, error) {
	res, err := x.page.Eval(jsDocMatch, x.r.doc, sels, text)
	if err != nil {
		return nil, x.actErr("read the fetched page", err)
	}
	var m *docMatch
	if err := res.Value.Unmarshal(&m); err != nil {
		return nil, x.actErr("read the fetched page", err)
	}
	if m == nil || len(m.Shown) != len(sels) {
		return nil, x.fail(authpilot.ErrRetryable, "the fetched page is gone", nil)
	}
	return m, nil
}

// matchArgs are the selectors of alts and whether any needs the text.
func matchArgs(alts []*Alternative) ([]string, bool) {
	sels := make([]string, len(alts))
	text := false
	for i, a := range alts {
		sels[i] = a.Selector
		text = text || a.Text != nil
	}
	return sels, text
}

// docFirstMatch returns the index of the first alternative the fetched
// document shows (every matcher it sets holds), or -1.
func (x *exec) docFirstMatch(alts []*Alternative) (int, error) {
	if len(alts) == 0 {
		return -1, nil
	}
	sels, text := matchArgs(alts)
	m, err := x.docMatchAll(sels, text)
	if err != nil {
		return -1, err
	}
	return x.firstMatch(alts, m), nil
}

// firstMatch applies alts to what the page returned for their selectors.
func (x *exec) firstMatch(alts []*Alternative, m *docMatch) int {
	for i, a := range alts {
		if a.URL != nil && !a.URL.MatchString(x.r.docURL) {
			continue
		}
		if a.Selector != "" && !m.Shown[i] {
			continue
		}
		if a.Text != nil && !a.Text.MatchString(m.Text) {
			continue
		}
		return i
	}
	return -1
}

// docMatches checks one alternative against the fetched document.
func (x *exec) docMatches(a *Alternative) (bool, error) {
	i, err := x.docFirstMatch([]*Alternative{a})
	return i == 0, err
}

// docExists reports whether sel matches an element of the fetched
// document, shown or not.
func (x *exec) docExists(sel string) (bool, error) {
	m, err := x.docMatchAll([]string{sel}, false)
	if err != nil {
		return false, err
	}
	return m.Found[0], nil
}

type docLink struct {
	Found    bool   `json:"found"`
	Href     string `json:"href"`
	Disabled bool   `json:"disabled"`
}

// docLink finds the link a click on sel would follow.
func (x *exec) docLink(sel string, text interface{ String() string }) (docLink, error) {
	pattern := ""
	if text != nil {
		pattern = text.String()
	}
	jsPattern, flags := goRegexToJS(pattern)
	res, err := x.page.Eval(jsDocLink, x.r.doc, sel, jsPattern, flags)
	if err != nil {
		return docLink{}, x.actErr("read the fetched page", err)
	}
	var l *docLink
	if err := res.Value.Unmarshal(&l); err != nil {
		return docLink{}, x.actErr("read the fetched page", err)
	}
	if l == nil {
		return docLink{}, x.fail(authpilot.ErrRetryable, "the fetched page is gone", nil)
	}
	return *l, nil
}

// goRegexToJS turns a click text pattern into a JavaScript pattern and
// flags: a leading (?i) becomes the i flag, \A and \z become ^ and $,
// (?P<name> becomes (?<name>; the common subset (classes, groups,
// anchors, alternation) is the same.
func goRegexToJS(p string) (string, string) {
	flags := ""
	if rest, ok := strings.CutPrefix(p, "(?i)"); ok {
		p, flags = rest, "i"
	}
	return strings.NewReplacer(`\A`, "^", `\z`, "$", "(?P<", "(?<").Replace(p), flags
}

// docHasEnabled reports whether a shown, enabled link matches sel.
func (x *exec) docHasEnabled(sel string) (bool, error) {
	l, err := x.docLink(sel, nil)
	if err != nil {
		return false, err
	}
	return l.Found && !l.Disabled && l.Href != "", nil
}

// attachFetchedDOM attaches the fetched document when the recorder keeps
// the DOM of every step.
func (r *runner) attachFetchedDOM(x *exec, st *Step) {
	if !r.s.rec.Wants("dom", false) {
		return
	}
	res, err := x.page.Eval(jsDocHTML, r.doc)
	if err != nil || res.Value.Str() == "" {
		return
	}
	base := strings.NewReplacer("[", "-", "]", "", ".", "-").Replace(st.Path)
	r.s.rec.Attach("dom", base+".html", "text/html", []byte(res.Value.Str()))
}

// runFetched runs a step on the runner's fetched document.
func runFetched(x *exec) error {
	if !fetchable(x.st) {
		return x.fail(authpilot.ErrPortalChanged, errNotFetchable.Error(), errNotFetchable)
	}
	return x.st.action.(fetchAction).fetch(x)
}

// fetchMiss is the short reason a fetched step failed, for the recording.
func fetchMiss(err error) string {
	var ce *authpilot.Error
	if errors.As(err, &ce) && ce.Msg != "" {
		return ce.Msg
	}
	return "failed"
}
