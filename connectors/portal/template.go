package portal

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/didyoumean"
)

// tmplData is what step templates see.
type tmplData struct {
	// Case is the case being submitted or polled (nil in the login flow).
	Case *authpilot.Case
	// Vars are the values extracted so far in this flow run.
	Vars map[string]any
	// Line is the current service line inside each over service_lines.
	Line *authpilot.ServiceLine
	// Item is the current element inside each (a service line, an
	// attachment or a diagnosis code).
	Item any
	// Index counts from 0 inside each; Number from 1.
	Index, Number int
	// Page is the list page being read by poll.list.page_url (from 2).
	Page int
	// Response is what a respond flow sends (nil in other flows).
	Response *ResponseData
	// Reason is why a withdraw flow withdraws the request.
	Reason string
}

// ResponseData is what a respond flow's templates see of the response:
// the note, and each file written under its own name in the visit's
// private directory (removed when the visit ends).
type ResponseData struct {
	Note  string
	Files []ResponseFile
}

// ResponseFile is one file of a response: its name, media type and the
// path of its copy ({{(index .Response.Files 0).Path}} in an upload step).
type ResponseFile struct {
	Name, ContentType, Path string
}

// errNoSecrets is returned by the secret function where secrets are not
// available (a template checked at decode time).
var errNoSecrets = errors.New("secrets are not available here")

// templateFuncs returns the template functions; secret is bound to a
// runner's secret lookup (nil at parse time).
func templateFuncs(secret func(role string) (string, error)) template.FuncMap {
	if secret == nil {
		secret = func(string) (string, error) { return "", errNoSecrets }
	}
	return template.FuncMap{
		"secret": secret,
		"date":   formatDate,
		"upper":  strings.ToUpper,
		"lower":  strings.ToLower,
		"trim":   strings.TrimSpace,
		"join":   func(sep string, list []string) string { return strings.Join(list, sep) },
		"add":    func(a, b int) int { return a + b },
		"default": func(def string, v any) string {
			s := fmt.Sprint(v)
			if v == nil || s == "" || s == "<nil>" {
				return def
			}
			return s
		},
	}
}

// formatDate formats a date (authpilot.Date, time.Time or YYYY-MM-DD text)
// with a Go layout such as "01/02/2006".
func formatDate(layout string, v any) (string, error) {
	switch x := v.(type) {
	case authpilot.Date:
		if x.IsZero() {
			return "", nil
		}
		return x.In(time.UTC).Format(layout), nil
	case *authpilot.Date:
		if x == nil || x.IsZero() {
			return "", nil
		}
		return x.In(time.UTC).Format(layout), nil
	case time.Time:
		return x.Format(layout), nil
	case *time.Time:
		if x == nil {
			return "", nil
		}
		return x.Format(layout), nil
	case string:
		if x == "" {
			return "", nil
		}
		d, err := authpilot.ParseDate(x)
		if err != nil {
			return "", errors.New("date: the value is not a YYYY-MM-DD date")
		}
		return d.In(time.UTC).Format(layout), nil
	}
	return "", fmt.Errorf("date: cannot format a %T", v)
}

// render executes t over data with the given secret function. Errors name
// the template position, never the data.
func render(t *tmpl, data *tmplData, secret func(string) (string, error)) (string, error) {
	c, err := t.t.Clone()
	if err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	c.Funcs(templateFuncs(secret))
	var b strings.Builder
	if err := c.Execute(&b, data); err != nil {
		return "", errors.New(templateExecMsg(err))
	}
	return b.String(), nil
}

// templateExecMsg keeps text/template's position and reason. Execution
// errors name fields and functions, not values, except for errors returned
// by our own functions, which carry none either.
func templateExecMsg(err error) string {
	var ee template.ExecError
	s := err.Error()
	if errors.As(err, &ee) {
		s = ee.Err.Error()
	}
	s = strings.TrimPrefix(s, "template: ")
	return "template " + s
}

// truthy reads an if: template's output.
func truthy(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "", "false", "0", "no", "off", "<no value>", "<nil>":
		return false
	}
	return true
}

// templateChecker statically checks a template's field references against
// the data types and its secret calls against the configured roles.
type templateChecker struct {
	secrets map[string]string
	vars    map[string]bool
	inEach  bool
	errs    []string
}

var dataType = reflect.TypeOf(tmplData{})

func (c *templateChecker) check(t *tmpl) []string {
	c.errs = nil
	if t == nil || t.t.Tree == nil {
		return nil
	}
	c.walk(t.t.Tree.Root, true)
	return c.errs
}

// branch checks an if, range or with: its pipeline and else branch where
// dot is as outside, its body with dot known or not.
func (c *templateChecker) branch(b *parse.BranchNode, bodyDotKnown, dotKnown bool) {
	c.pipe(b.Pipe, dotKnown)
	c.walk(b.List, bodyDotKnown)
	c.walk(b.ElseList, dotKnown)
}

func (c *templateChecker) walk(n parse.Node, dotKnown bool) {
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return
		}
		for _, m := range x.Nodes {
			c.walk(m, dotKnown)
		}
	case *parse.ActionNode:
		c.pipe(x.Pipe, dotKnown)
	case *parse.IfNode:
		c.branch(&x.BranchNode, dotKnown, dotKnown)
	case *parse.RangeNode:
		// Inside range and with, dot is the element or the value: no
		// longer the template data.
		c.branch(&x.BranchNode, false, dotKnown)
	case *parse.WithNode:
		c.branch(&x.BranchNode, false, dotKnown)
	case *parse.TemplateNode:
		c.pipe(x.Pipe, dotKnown)
	}
}

func (c *templateChecker) pipe(p *parse.PipeNode, dotKnown bool) {
	if p == nil {
		return
	}
	for _, cmd := range p.Cmds {
		for i, arg := range cmd.Args {
			switch a := arg.(type) {
			case *parse.FieldNode:
				if dotKnown {
					c.fields(a.Ident)
				}
			case *parse.VariableNode:
				if len(a.Ident) > 1 && a.Ident[0] == "$" {
					c.fields(a.Ident[1:])
				}
			case *parse.PipeNode:
				c.pipe(a, dotKnown)
			case *parse.IdentifierNode:
				if a.Ident == "secret" {
					if i+1 < len(cmd.Args) {
						if s, ok := cmd.Args[i+1].(*parse.StringNode); ok {
							if _, known := c.secrets[s.Text]; !known {
								c.errs = append(c.errs, fmt.Sprintf("secret %q is not in the secrets section%s", s.Text, didyoumean.Suggest(s.Text, keys(c.secrets))))
							}
							continue
						}
					}
					c.errs = append(c.errs, "secret takes one quoted role name, such as {{secret \"password\"}}")
				}
			}
		}
	}
}

// fields checks a chain such as Case.Patient.MemberID from the data root.
func (c *templateChecker) fields(idents []string) {
	t := dataType
	path := ""
	for i, name := range idents {
		if i == 0 && (name == "Line" || name == "Item") && !c.inEach {
			c.errs = append(c.errs, fmt.Sprintf(".%s is only set inside an each step", name))
			return
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			if f, ok := t.FieldByName(name); ok && f.IsExported() {
				t = f.Type
			} else if m, ok := reflect.PointerTo(t).MethodByName(name); ok {
				if m.Type.NumOut() == 0 {
					return
				}
				t = m.Type.Out(0)
			} else {
				c.errs = append(c.errs, fmt.Sprintf("unknown field %q in %s%s", name, orDot(path), didyoumean.Suggest(name, fieldNames(t))))
				return
			}
		case reflect.Map:
			if path == ".Vars" && c.vars != nil && !c.vars[name] {
				c.errs = append(c.errs, fmt.Sprintf(".Vars.%s is never extracted (no extract step or list field has into: %s)%s", name, name, didyoumean.Suggest(name, keys(c.vars))))
				return
			}
			t = t.Elem()
		default:
			return // an interface or a basic type: nothing more to check
		}
		path += "." + name
	}
}

func orDot(p string) string {
	if p == "" {
		return "."
	}
	return p
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).IsExported() {
			names = append(names, t.Field(i).Name)
		}
	}
	pt := reflect.PointerTo(t)
	for i := 0; i < pt.NumMethod(); i++ {
		names = append(names, pt.Method(i).Name)
	}
	return names
}

// keys returns a map's keys, sorted.
func keys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// atoiLoose reads a whole number from text such as "2 units".
func atoiLoose(s string) (int, bool) {
	s = strings.TrimSpace(s)
	start := strings.IndexAny(s, "0123456789")
	if start < 0 {
		return 0, false
	}
	end := start
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	v, err := strconv.Atoi(s[start:end])
	return v, err == nil
}
