package portal

import (
	"errors"
	"fmt"
	"strings"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"

	"github.com/go-rod/rod"
	"gopkg.in/yaml.v3"
)

// expectStep waits for the first of named alternatives to appear.
type expectStep struct {
	Alternatives []*Alternative
}

func decodeExpect(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &expectStep{}
	d.pairs(n, path, "expect: ", func(k, v *yaml.Node) {
		if alt := d.alternative(k, v, path+".expect."+k.Value, "expect: ", false, inEach); alt != nil {
			a.Alternatives = append(a.Alternatives, alt)
		}
	})
	if r := d.node(n, path); r != nil && r.Kind == yaml.MappingNode && len(r.Content) == 0 {
		d.errAt(r, path, "expect: needs at least one alternative")
	}
	return a
}

func (a *expectStep) run(x *exec) error {
	var hit, intr *Alternative
	var hitEl *rod.Element
	rc := x.page.Race()
	for _, alt := range a.Alternatives {
		rc.ElementFunc(altMatcher(alt)).Handle(func(el *rod.Element) error { hit, hitEl = alt, el; return nil })
	}
	for _, it := range x.r.interrupts() {
		rc.ElementFunc(altMatcher(it)).Handle(func(el *rod.Element) error { intr, hitEl = it, el; return nil })
	}
	_, err := rc.Do()
	if intr != nil {
		return x.interruptErr(intr, hitEl)
	}
	if err != nil {
		names := make([]string, len(a.Alternatives))
		for i, alt := range a.Alternatives {
			names[i] = alt.Name
		}
		return x.unexpectedPage(names, x.ctxErr("none of the expected alternatives ("+strings.Join(names, ", ")+")", err))
	}
	return x.follow(hit, hitEl)
}

func (a *expectStep) fetch(x *exec) error {
	its := x.r.interrupts()
	i, err := x.docFirstMatch(append(append([]*Alternative{}, its...), a.Alternatives...))
	if err != nil {
		return err
	}
	if i >= 0 && i < len(its) {
		return x.interruptErr(its[i], nil)
	}
	var hit *Alternative
	if i >= 0 {
		hit = a.Alternatives[i-len(its)]
	}
	if hit == nil {
		names := make([]string, len(a.Alternatives))
		for i, alt := range a.Alternatives {
			names[i] = alt.Name
		}
		return x.notOnFetched("none of the expected alternatives (" + strings.Join(names, ", ") + ")")
	}
	return x.follow(hit, nil)
}

// follow acts on the alternative an expect step found: its failure, the
// end of the flow, or its then steps. On a fetched page a failure is not
// decided: the caller reads the page again in a tab.
func (x *exec) follow(hit *Alternative, el *rod.Element) error {
	switch {
	case hit.Fail != nil && x.r.doc != "":
		return x.notOnFetched(fmt.Sprintf("a success alternative (the page shows %q)", hit.Name))
	case hit.Fail != nil:
		msg := fmt.Sprintf("the page shows %q", hit.Name)
		if hit.Message != "" {
			msg += ": " + hit.Message
		}
		e := x.fail(hit.Fail, msg, nil)
		e.PayerText = x.payerText(hit, el)
		return x.orHandOff(hit, e)
	case hit.Done:
		return errFlowDone
	case len(hit.Then) > 0:
		return x.r.runSteps(x.r.flowCtx, hit.Then)
	}
	return nil
}

// unexpectedPage returns err, or err as a hand-off of the page to a person
// when the connector hands off unexpected pages (hand_off.unexpected_page)
// and err is the page not showing what the flow expects (names).
func (x *exec) unexpectedPage(names []string, err error) error {
	var ce *authpilot.Error
	if !x.r.s.c.opts.HandOff.UnexpectedPage || !errors.As(err, &ce) || !errors.Is(err, authpilot.ErrPortalChanged) {
		return err
	}
	return x.askHandOff(connectors.HandOffUnexpectedPage, "The page is not one the flow expects ("+strings.Join(names, ", ")+
		"): bring the page to one of them in the live view, then hand it back.", ce)
}
