package yamlx

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// ExpandEnv replaces ${VAR} and ${VAR:-default} in every scalar value (not
// in keys). "$${" stands for a literal "${". An unset variable without a
// default is an error naming the line.
func (d *Decoder) ExpandEnv(root *yaml.Node, lookup func(string) (string, bool)) {
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], Join(path, n.Content[i].Value))
			}
		case yaml.ScalarNode:
			if !strings.Contains(n.Value, "${") {
				return
			}
			out, err := expand(n.Value, lookup)
			if err != nil {
				d.Errorf(n, path, "%v", err)
				d.bad[n] = true
				return
			}
			if out == n.Value {
				return
			}
			d.written[n] = n.Value
			n.Value = out
			// A plain scalar gets its type from its new text, so that
			// "pages: ${PAGES}" is an integer; a quoted one stays a string.
			if n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
				n.Tag = ""
			}
		}
	}
	walk(root, "")
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand substitutes environment references in s.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			// "$${" is a literal "${".
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", errors.New(`unterminated "${" (write "$${" for a literal "${")`)
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !envName.MatchString(name) {
			return "", fmt.Errorf("bad environment reference %q", "${"+ref+"}")
		}
		v, ok := lookup(name)
		switch {
		case hasDef && v == "":
			b.WriteString(def)
		case ok:
			b.WriteString(v)
		default:
			return "", fmt.Errorf("environment variable %s is not set (write ${%s:-default} for a default)", name, name)
		}
	}
}

// IsEnvName reports whether s is a usable environment variable name.
func IsEnvName(s string) bool { return envName.MatchString(s) }
