package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/authpilot/authpilot/schedules"
)

// FuzzParse: no input makes Parse panic or hang, a success is a usable
// Config and a failure is Errors with a file on every error.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	more, _ := filepath.Glob("testdata/*/connectors/*.yaml")
	for _, name := range append(append(files, more...), "default.yaml") {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"", "~", "[]", "{}", "practice: ~", "practice: {name: x}\n<<: {}",
		"practice: {name: ${X}}", "practice:\n  name: $${X}${", "a: &a [*a]",
		"practice: {name: x}\nconnectors: [{id: a, kind: testkind, options: *x}]",
		"practice: {name: x}\nschedules: {digest: \"TZ=\"}",
		"practice: {name: x}\nschedules: {digest: \"CRON_TZ=x\\t\"}",
	} {
		f.Add([]byte(s))
	}
	env := map[string]string{"X": "1", "HOME": "/root"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parse("testdata/good/fuzz.yaml", data, lookup)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T %v is not a non-empty Errors", err, err)
			}
			for _, e := range es {
				if e.File == "" {
					t.Fatalf("error without a file: %#v", e)
				}
			}
			_ = err.Error()
			return
		}
		if cfg == nil {
			t.Fatal("nil Config without an error")
		}
		if cfg.Location() == nil || cfg.Practice.Name == "" {
			t.Fatalf("invalid Config accepted: %+v", cfg)
		}
		seen := map[string]bool{}
		for _, c := range cfg.Connectors {
			if c.Options == nil {
				t.Fatalf("connector %q accepted without options", c.ID)
			}
			if seen[c.ID] {
				t.Fatalf("duplicate connector %q accepted", c.ID)
			}
			seen[c.ID] = true
			for _, spec := range []string{c.Schedule.Submit, c.Schedule.Poll} {
				if spec == "" {
					continue
				}
				if _, err := schedules.ParseSpec(spec); err != nil {
					t.Fatalf("accepted bad cron spec %q: %v", spec, err)
				}
			}
		}
		for _, p := range cfg.Payers {
			if _, ok := cfg.ConnectorForPayer(p.ID); !ok {
				t.Fatalf("payer %q accepted without its connector", p.ID)
			}
		}
	})
}

// FuzzDuration: no panic, and what parses prints back to itself.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{"7d", "1d12h", "90s", "-1d", "1.5d", "0", "106751d23h47m16s", "9223372036854775807ns", "1e9d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		back, err := ParseDuration(d.String())
		if err != nil {
			t.Fatalf("String() of %q is %q, which does not parse: %v", s, d.String(), err)
		}
		if time.Duration(back) != time.Duration(d) {
			t.Fatalf("%q → %v → %q → %v", s, time.Duration(d), d.String(), time.Duration(back))
		}
	})
}
