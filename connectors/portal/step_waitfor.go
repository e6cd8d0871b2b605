package portal

import (
	"regexp"
	"strings"

	"github.com/go-rod/rod"
	"gopkg.in/yaml.v3"
)

// waitForStep waits until an element, a text or a URL is there (or gone).
type waitForStep struct {
	Selector sel
	Text     *regexp.Regexp
	URL      *regexp.Regexp
	Gone     bool
}

func decodeWaitFor(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &waitForStep{}
	if r := d.node(n, path); r != nil && r.Kind == yaml.ScalarNode {
		a.Selector = d.sel(n, path, "wait_for: ", "selector", inEach)
		return a
	}
	if !d.mapping(n, path, "wait_for: ", []field{
		{"selector", false, func(k, v *yaml.Node) { a.Selector = d.sel(v, path, "wait_for: ", "selector", inEach) }},
		{"text", false, func(k, v *yaml.Node) { a.Text = d.regex(v, path, "wait_for: ", "text") }},
		{"url", false, func(k, v *yaml.Node) { a.URL = d.regex(v, path, "wait_for: ", "url") }},
		{"gone", false, func(k, v *yaml.Node) { a.Gone = d.boolean(v, path, "wait_for: ", "gone") }},
	}) {
		return a
	}
	if a.Selector.raw == "" && a.Text == nil && a.URL == nil {
		d.errAt(d.node(n, path), path, "wait_for: needs one of selector, text or url")
	}
	if a.Gone && (a.Text != nil || a.URL != nil) {
		d.errAt(d.node(n, path), path, "wait_for: gone works with selector only")
	}
	return a
}

const jsGone = `(sel) => {
	for (const el of document.querySelectorAll(sel)) {
		if (el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden') return false;
	}
	return true;
}`

func (a *waitForStep) run(x *exec) error {
	sel, err := x.sel(a.Selector)
	if err != nil {
		return err
	}
	if a.Gone {
		if err := x.page.Wait(rod.Eval(jsGone, sel)); err != nil {
			return x.ctxErr(quote(a.Selector.raw)+" to disappear", err)
		}
		return nil
	}
	alt := &Alternative{Selector: sel, Text: a.Text, URL: a.URL}
	var what []string
	if a.Selector.raw != "" {
		what = append(what, quote(a.Selector.raw))
	}
	if a.Text != nil {
		what = append(what, "text "+quote(a.Text.String()))
	}
	if a.URL != nil {
		what = append(what, "URL "+quote(a.URL.String()))
	}
	_, err = x.waitMatch(strings.Join(what, " and "), altMatcher(alt))
	return err
}

func (a *waitForStep) fetch(x *exec) error {
	sel, err := x.sel(a.Selector)
	if err != nil {
		return err
	}
	if a.Gone {
		ok, err := x.docMatches(&Alternative{Selector: sel})
		if err != nil {
			return err
		}
		if ok {
			return x.notOnFetched(quote(a.Selector.raw) + " gone")
		}
		return nil
	}
	ok, err := x.docMatches(&Alternative{Selector: sel, Text: a.Text, URL: a.URL})
	if err != nil {
		return err
	}
	if !ok {
		return x.notOnFetched(quote(a.Selector.raw))
	}
	return nil
}
