package portal

import (
	"errors"
	"net/url"
	"strings"

	"github.com/authpilot/authpilot"
	"gopkg.in/yaml.v3"
)

// gotoStep navigates to a URL (relative to base_url).
type gotoStep struct {
	URL *tmpl
}

func decodeGoto(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &gotoStep{}
	if r := d.node(n, path); r != nil && r.Kind == yaml.ScalarNode {
		d.str(n, path, "goto: ", "url")
		a.URL = d.template(n, path, "goto: ", "url", inEach)
		return a
	}
	d.mapping(n, path, "goto: ", []field{
		{"url", true, func(k, v *yaml.Node) {
			d.str(v, path, "goto: ", "url")
			a.URL = d.template(v, path, "goto: ", "url", inEach)
		}},
	})
	return a
}

// resolveURL resolves a rendered URL against base_url.
func (c *Connector) resolveURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", errors.New("the rendered URL does not parse")
	}
	return c.opts.BaseURL.ResolveReference(u).String(), nil
}

// target renders and resolves the step's URL.
func (a *gotoStep) target(x *exec) (string, error) {
	raw, err := x.render(a.URL)
	if err != nil {
		return "", err
	}
	u, err := x.r.s.c.resolveURL(raw)
	if err != nil {
		return "", x.fail(authpilot.ErrNeedsHuman, err.Error(), nil)
	}
	return u, nil
}

func (a *gotoStep) run(x *exec) error {
	u, err := a.target(x)
	if err != nil {
		return err
	}
	if err := x.pace(); err != nil {
		return err
	}
	if err := x.beforeAct(); err != nil {
		return err
	}
	if err := x.page.Navigate(u); err != nil {
		return x.navErr(err)
	}
	if err := x.page.WaitLoad(); err != nil {
		return x.navErr(err)
	}
	return x.checkHTTP()
}

func (a *gotoStep) fetch(x *exec) error {
	u, err := a.target(x)
	if err != nil {
		return err
	}
	return x.fetchDoc(u)
}
