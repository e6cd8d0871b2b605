package portal

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/authpilot/authpilot"
	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"
	"gopkg.in/yaml.v3"
)

// clickStep clicks an element; it may wait for the navigation it starts or
// for the download it triggers.
type clickStep struct {
	Selector sel
	// Text keeps only elements whose text matches.
	Text     *regexp.Regexp
	Navigate bool
	// Download is the document kind of the file the click downloads.
	Download string
}

func decodeClick(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &clickStep{}
	if r := d.node(n, path); r != nil && r.Kind == yaml.ScalarNode {
		a.Selector = d.sel(n, path, "click: ", "selector", inEach)
		return a
	}
	if !d.mapping(n, path, "click: ", []field{
		{"selector", true, func(k, v *yaml.Node) { a.Selector = d.sel(v, path, "click: ", "selector", inEach) }},
		{"text", false, func(k, v *yaml.Node) { a.Text = d.regex(v, path, "click: ", "text") }},
		{"navigate", false, func(k, v *yaml.Node) { a.Navigate = d.boolean(v, path, "click: ", "navigate") }},
		{"download", false, func(k, v *yaml.Node) {
			a.Download = d.str(v, path, "click: ", "download")
			if a.Download != "" && !validName(a.Download) {
				d.errAt(d.node(v, path), path, "click: download: document kind %q: use letters, digits, - and _", a.Download)
			}
		}},
	}) {
		return a
	}
	if a.Navigate && a.Download != "" {
		d.errAt(d.node(n, path), path, "click: navigate and download cannot be combined")
	}
	return a
}

func (a *clickStep) run(x *exec) error {
	sel, err := x.sel(a.Selector)
	if err != nil {
		return err
	}
	what := quote(a.Selector.raw)
	if a.Text != nil {
		what += " with text " + quote(a.Text.String())
	}
	el, err := x.waitMatch(what, visibleWithText(sel, a.Text))
	if err != nil {
		return err
	}
	if a.Download != "" || a.Navigate {
		// A page load or a download: one request to the payer.
		if err := x.pace(); err != nil {
			return err
		}
	}
	if err := x.beforeAct(); err != nil {
		return err
	}
	switch {
	case a.Download != "":
		return x.download(el, a.Download)
	case a.Navigate:
		wait := x.page.WaitNavigation(proto.PageLifecycleEventNameLoad)
		if err := el.Click(proto.InputMouseButtonLeft, 1); err != nil {
			return x.actErr("click "+what, err)
		}
		wait()
		if x.ctx.Err() != nil {
			return x.navErr(x.ctx.Err())
		}
		return x.checkHTTP()
	default:
		if err := el.Click(proto.InputMouseButtonLeft, 1); err != nil {
			return x.actErr("click "+what, err)
		}
		return nil
	}
}

// fetch follows a link; runFetched lets only navigate and download clicks
// through (see fetchable).
func (a *clickStep) fetch(x *exec) error {
	sel, err := x.sel(a.Selector)
	if err != nil {
		return err
	}
	var text interface{ String() string }
	if a.Text != nil {
		text = a.Text
	}
	if a.Navigate {
		l, err := x.docLink(sel, text)
		if err != nil {
			return err
		}
		if !l.Found || l.Href == "" {
			return x.notOnFetched(quote(a.Selector.raw) + " as a link")
		}
		return x.fetchDoc(l.Href)
	}
	pattern, flags := "", ""
	if text != nil {
		pattern, flags = goRegexToJS(text.String())
	}
	if err := x.pace(); err != nil {
		return err
	}
	res, err := x.page.Eval(jsDocDownload, x.r.doc, sel, pattern, flags)
	if err != nil {
		if x.ctx.Err() != nil {
			return x.fail(authpilot.ErrRetryable, "the download did not finish within the step timeout", x.ctx.Err())
		}
		return x.fail(authpilot.ErrRetryable, "fetch the download link", err)
	}
	var out *struct {
		Link docLink          `json:"link"`
		File *fetchedURLReply `json:"file"`
	}
	if err := res.Value.Unmarshal(&out); err != nil {
		return x.actErr("fetch the download link", err)
	}
	if out == nil {
		return x.fail(authpilot.ErrRetryable, "the fetched page is gone", nil)
	}
	if out.File == nil {
		return x.notOnFetched(quote(a.Selector.raw) + " as a link")
	}
	name, data, err := x.fetchedFile(out.File)
	if err != nil {
		return err
	}
	if name == "" {
		name = a.Download
	}
	x.r.out.files = append(x.r.out.files, authpilot.File{Name: name, ContentType: contentType(name, data), Kind: a.Download, Data: data})
	return nil
}

// download clicks el and waits for the file it downloads. One download at
// a time per browser context.
func (x *exec) download(el *rod.Element, kind string) error {
	// A plain link is fetched from inside the page: the page's cookies
	// and origin, no download manager, and several pages of a visit can
	// fetch at once (the browser's download events allow one download at
	// a time per context). Anything else is clicked and the download
	// caught.
	if name, data, ok, err := x.fetchLink(el); ok {
		if err != nil {
			return err
		}
		if name == "" {
			name = kind
		}
		x.r.out.files = append(x.r.out.files, authpilot.File{Name: name, ContentType: contentType(name, data), Kind: kind, Data: data})
		return nil
	}
	s := x.r.s
	dir, err := s.workDir()
	if err != nil {
		return x.fail(authpilot.ErrRetryable, "download", err)
	}
	dlDir := filepath.Join(dir, "downloads")
	if err := os.MkdirAll(dlDir, 0o700); err != nil {
		return x.fail(authpilot.ErrRetryable, "download", err)
	}
	s.dlMu.Lock()
	defer s.dlMu.Unlock()
	wait, err := waitDownload(x.page, s.browser, dlDir)
	if err != nil {
		return x.actErr("allow downloads", err)
	}
	if err := el.Click(proto.InputMouseButtonLeft, 1); err != nil {
		return x.actErr("click the download link", err)
	}
	info, canceled := wait()
	if canceled {
		return x.fail(authpilot.ErrRetryable, "the browser canceled the download", nil)
	}
	if info == nil || x.ctx.Err() != nil {
		return x.fail(authpilot.ErrRetryable, "the download did not finish within the step timeout", x.ctx.Err())
	}
	path := filepath.Join(dlDir, info.GUID)
	data, err := os.ReadFile(path)
	_ = os.Remove(path)
	if err != nil {
		return x.fail(authpilot.ErrRetryable, "read the downloaded file", err)
	}
	if len(data) == 0 {
		return x.fail(authpilot.ErrRetryable, "the downloaded file is empty", nil)
	}
	name := info.SuggestedFilename
	if name == "" {
		name = kind
	}
	x.r.out.files = append(x.r.out.files, authpilot.File{
		Name:        name,
		ContentType: contentType(name, data),
		Kind:        kind,
		Data:        data,
	})
	return nil
}

// jsLinkHref returns an <a href>'s absolute target, or null for an element
// that is not an http(s) link.
const jsLinkHref = `function() {
	return (this instanceof HTMLAnchorElement && /^https?:/.test(this.href)) ? this.href : null;
}`

// jsFetchURL fetches a URL the way following a link would (the page's
// cookies), returning the body base64-encoded with its Content-Disposition.
const jsFetchURL = `async (url) => {
	const r = await fetch(url, {credentials: 'include'});
	const b = new Uint8Array(await r.arrayBuffer());
	let s = '';
	for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
	return {status: r.status, disposition: r.headers.get('content-disposition') || '', data: btoa(s)};
}`

// fetchLink downloads a link's target from inside the page. ok is false
// when el is not a plain link (the caller clicks instead).
func (x *exec) fetchLink(el *rod.Element) (name string, data []byte, ok bool, err error) {
	res, evalErr := el.Context(x.ctx).Eval(jsLinkHref)
	if evalErr != nil {
		return "", nil, true, x.actErr("read the download link", evalErr)
	}
	if res.Value.Nil() {
		return "", nil, false, nil
	}
	name, data, err = x.fetchURL(res.Value.Str())
	return name, data, true, err
}

// fetchURL downloads url from inside the page.
func (x *exec) fetchURL(url string) (name string, data []byte, err error) {
	if err := x.pace(); err != nil {
		return "", nil, err
	}
	res, evalErr := x.page.Eval(jsFetchURL, url)
	if evalErr != nil {
		if x.ctx.Err() != nil {
			return "", nil, x.fail(authpilot.ErrRetryable, "the download did not finish within the step timeout", x.ctx.Err())
		}
		return "", nil, x.fail(authpilot.ErrRetryable, "fetch the download link", evalErr)
	}
	var reply fetchedURLReply
	if err := res.Value.Unmarshal(&reply); err != nil {
		return "", nil, x.fail(authpilot.ErrRetryable, "fetch the download link", err)
	}
	return x.fetchedFile(&reply)
}

// fetchedURLReply is what jsFetchURL returns.
type fetchedURLReply struct {
	Status      int    `json:"status"`
	Disposition string `json:"disposition"`
	Data        string `json:"data"`
}

// fetchedFile checks and decodes a fetched download.
func (x *exec) fetchedFile(f *fetchedURLReply) (name string, data []byte, err error) {
	if f.Status >= 400 {
		class := authpilot.ErrRetryable
		if f.Status < 500 && f.Status != http.StatusTooManyRequests {
			class = authpilot.ErrPortalChanged
		}
		return "", nil, x.fail(class, fmt.Sprintf("the download link answered HTTP %d", f.Status), nil)
	}
	data, decErr := base64.StdEncoding.DecodeString(f.Data)
	if decErr != nil {
		return "", nil, x.fail(authpilot.ErrRetryable, "decode the downloaded file", decErr)
	}
	if len(data) == 0 {
		return "", nil, x.fail(authpilot.ErrRetryable, "the downloaded file is empty", nil)
	}
	if _, params, perr := mime.ParseMediaType(f.Disposition); perr == nil {
		name = filepath.Base(params["filename"])
		if name == "." || name == "/" {
			name = ""
		}
	}
	return name, data, nil
}

// waitDownload is rod's Browser.WaitDownload scoped to one page: rod's
// listens to the download events of every context of the browser, so two
// portals downloading at once could each take the other's file. It returns
// the download that page started (nil when the page's context ends first)
// and whether the browser canceled it.
func waitDownload(p *rod.Page, b *rod.Browser, dir string) (func() (*proto.PageDownloadWillBegin, bool), error) {
	err := proto.BrowserSetDownloadBehavior{
		Behavior:         proto.BrowserSetDownloadBehaviorBehaviorAllowAndName,
		BrowserContextID: b.BrowserContextID,
		DownloadPath:     dir,
	}.Call(p)
	if err != nil {
		return nil, err
	}
	var start *proto.PageDownloadWillBegin
	var canceled bool
	wait := p.EachEvent(func(e *proto.PageDownloadWillBegin) {
		if start == nil {
			start = e
		}
	}, func(e *proto.PageDownloadProgress) bool {
		if start == nil || e.GUID != start.GUID {
			return false
		}
		canceled = e.State == proto.PageDownloadProgressStateCanceled
		return canceled || e.State == proto.PageDownloadProgressStateCompleted
	})
	return func() (*proto.PageDownloadWillBegin, bool) {
		wait()
		return start, canceled
	}, nil
}

func contentType(name string, data []byte) string {
	if strings.HasPrefix(string(data), "%PDF-") {
		return "application/pdf"
	}
	return http.DetectContentType(data)
}
