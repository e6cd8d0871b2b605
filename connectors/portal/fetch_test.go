package portal

import "testing"

func TestGoRegexToJS(t *testing.T) {
	tests := []struct{ in, pattern, flags string }{
		{`^Download letter$`, `^Download letter$`, ""},
		{`(?i)determination`, `determination`, "i"},
		{`\Aletter\z`, `^letter$`, ""},
		{`(?P<value>\d+) pages`, `(?<value>\d+) pages`, ""},
		{`a(?i)b`, `a(?i)b`, ""}, // only a leading flag group is translated
	}
	for _, tt := range tests {
		p, f := goRegexToJS(tt.in)
		if p != tt.pattern || f != tt.flags {
			t.Errorf("goRegexToJS(%q) = %q, %q; want %q, %q", tt.in, p, f, tt.pattern, tt.flags)
		}
	}
}
