package portal

import (
	"encoding/json"

	"github.com/go-rod/rod"

	"github.com/authpilot/authpilot/connectors"
)

// jsMaskCollect gathers the text the page shows — its text nodes (in the
// document and in open shadow roots) and the values of its form fields —
// keeps the nodes for jsMaskApply, and returns the texts as JSON. The
// known values never enter the page: Go decides what to mask.
const jsMaskCollect = `() => {
	const nodes = [], texts = [];
	const walk = root => {
		const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
		for (let n = w.currentNode; n; n = w.nextNode()) {
			if (n.nodeType === Node.TEXT_NODE) {
				if (n.nodeValue.trim().length >= 3) { nodes.push(n); texts.push(n.nodeValue); }
			} else if (n.shadowRoot) {
				walk(n.shadowRoot);
			}
			if (n.nodeType === Node.ELEMENT_NODE && (n.tagName === 'INPUT' || n.tagName === 'TEXTAREA') &&
				typeof n.value === 'string' && n.value.trim().length >= 3) {
				nodes.push(n); texts.push(n.value);
			}
		}
	};
	walk(document.documentElement);
	window[Symbol.for('authpilot.mask')] = {nodes, saved: []};
	return JSON.stringify(texts);
}`

// jsMaskApply replaces the texts of the nodes jsMaskCollect kept, by index,
// saving the originals for jsMaskRestore.
const jsMaskApply = `(changes) => {
	const m = window[Symbol.for('authpilot.mask')];
	if (!m) return 0;
	for (const [i, text] of changes) {
		const n = m.nodes[i];
		if (!n) continue;
		if (n.nodeType === Node.TEXT_NODE) { m.saved.push([n, 'nodeValue', n.nodeValue]); n.nodeValue = text; }
		else { m.saved.push([n, 'value', n.value]); n.value = text; }
	}
	return m.saved.length;
}`

// jsMaskRestore puts the original texts back.
const jsMaskRestore = `() => {
	const k = Symbol.for('authpilot.mask');
	const m = window[k];
	if (!m) return;
	for (const [n, prop, v] of m.saved.reverse()) n[prop] = v;
	delete window[k];
}`

// maskPage replaces, on the page about to be photographed, every text node
// and form field value that holds a value the recording redacts (secrets,
// the visit's cases, every PHI value the store knows) with its redacted
// text, and returns how many it masked and a function that restores them.
// It is a best effort: what is not text in the DOM (images, canvas, PDF
// viewers, cross-origin frames) and a value split across nodes are not
// masked. With a recorder that cannot redact text, it does nothing.
func maskPage(rec *lockedRecorder, p *rod.Page) (int, func()) {
	noop := func() {}
	red, ok := rec.textRedactor()
	if !ok {
		return 0, noop
	}
	res, err := p.Eval(jsMaskCollect)
	if err != nil {
		return 0, noop
	}
	var texts []string
	if err := json.Unmarshal([]byte(res.Value.Str()), &texts); err != nil {
		return 0, noop
	}
	var changes [][2]any
	for i, t := range texts {
		if r := red.RedactText(t); r != t {
			changes = append(changes, [2]any{i, r})
		}
	}
	restore := func() { _, _ = p.Eval(jsMaskRestore) }
	if len(changes) == 0 {
		restore()
		return 0, noop
	}
	if _, err := p.Eval(jsMaskApply, changes); err != nil {
		restore()
		return 0, noop
	}
	return len(changes), restore
}

// textRedactor returns the recorder's text redaction, when it has one.
func (l *lockedRecorder) textRedactor() (connectors.TextRedactor, bool) {
	t, ok := l.r.(connectors.TextRedactor)
	return t, ok
}

// maskedScreenshot takes a PNG of p's viewport (the whole page with
// fullPage) with maskPage's masking.
func maskedScreenshot(rec *lockedRecorder, p *rod.Page, fullPage bool) ([]byte, error) {
	_, restore := maskPage(rec, p)
	defer restore()
	return p.Screenshot(fullPage, nil)
}
