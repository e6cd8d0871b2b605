package portal

import (
	"slices"
	"strings"
	"testing"
	"text/template"
)

// TestTemplateCheckBranches: in if, range and with, the pipeline and the
// else branch are checked against the template data; the body of an if is
// too, the body of a range or with (where dot is the element or the value)
// is not.
func TestTemplateCheckBranches(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"if body", `{{if .Case.ID}}{{.Case.Bogus}}{{end}}`, []string{"Bogus"}},
		{"if else", `{{if .Case.ID}}x{{else}}{{.Case.Bogus}}{{end}}`, []string{"Bogus"}},
		{"if pipe", `{{if .Case.Bogus}}x{{end}}`, []string{"Bogus"}},
		{"range body", `{{range .Case.ServiceLines}}{{.Anything}}{{end}}`, nil},
		{"range else", `{{range .Case.ServiceLines}}x{{else}}{{.Case.Bogus}}{{end}}`, []string{"Bogus"}},
		{"range pipe", `{{range .Case.Bogus}}x{{end}}`, []string{"Bogus"}},
		{"with body", `{{with .Case}}{{.Anything}}{{end}}`, nil},
		{"with else", `{{with .Case.ID}}x{{else}}{{.Case.Bogus}}{{end}}`, []string{"Bogus"}},
		{"with pipe", `{{with .Case.Bogus}}x{{end}}`, []string{"Bogus"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := template.New("v").Funcs(templateFuncs(nil)).Parse(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			c := &templateChecker{}
			errs := c.check(&tmpl{src: tt.src, t: tp})
			var got []string
			for _, field := range []string{"Bogus", "Anything"} {
				if slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, `"`+field+`"`) }) {
					got = append(got, field)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("check(%s) = %q, want errors about %v", tt.src, errs, tt.want)
			}
		})
	}
}
