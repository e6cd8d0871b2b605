package portal

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// screenshotStep attaches a screenshot (and the DOM) to the recording.
type screenshotStep struct {
	Name     string
	FullPage bool
}

func decodeScreenshot(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &screenshotStep{}
	if r := d.node(n, path); r != nil && r.Kind == yaml.ScalarNode {
		a.Name, _ = d.scalar(n, path, "screenshot: ", "name")
		return a
	}
	d.mapping(n, path, "screenshot: ", []field{
		{"name", false, func(k, v *yaml.Node) { a.Name, _ = d.scalar(v, path, "screenshot: ", "name") }},
		{"full_page", false, func(k, v *yaml.Node) { a.FullPage = d.boolean(v, path, "screenshot: ", "full_page") }},
	})
	return a
}

func (a *screenshotStep) run(x *exec) error {
	png, err := maskedScreenshot(x.r.s.rec, x.page, a.FullPage)
	if err != nil {
		return x.actErr("take a screenshot", err)
	}
	name := a.Name
	if name == "" {
		name = strings.NewReplacer("[", "-", "]", "", ".", "-").Replace(x.st.Path)
	}
	x.r.s.rec.Attach("screenshot", name+".png", "image/png", png)
	if x.r.s.rec.Wants("dom", false) {
		attachDOM(x.r.s.rec, x.page, name)
	}
	return nil
}
