package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	err := runMain(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	var ee *exitError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &ee):
		code = ee.code
		errb.WriteString(ee.msg)
	default:
		code = 1
		errb.WriteString(err.Error())
	}
	return code, out.String(), errb.String()
}

func TestConfigCheck(t *testing.T) {
	good, err := os.ReadFile("../../examples/authpilot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "connectors"), os.DirFS("../../examples/connectors")); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, text string
		code       int
		want       []string
	}{
		{"example", string(good), 0, []string{"ok (3 payers, 3 connectors"}},
		{"misspelled timezone", strings.Replace(string(good), "  timezone:", "  timezon:", 1), 1,
			[]string{"misspelled-timezone.yaml:8:", `unknown key "timezon"`, `did you mean "timezone"?`}},
		{"missing sink", strings.Replace(string(good), "    notify: [coordinators]", "    notify: [front-desk]", 1), 1,
			[]string{`connectors[0] "summit-portal": notify[0]: unknown sink "front-desk"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(strings.ReplaceAll(tt.name, " ", "-")+".yaml", tt.text)
			code, out, errs := run(t, "", "config", "check", "--config", p)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(out+errs, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errs)
				}
			}
		})
	}
}

// keyringSetup writes the smallest config in a fresh directory and sets
// the passphrase of its default keyring (a file in the data directory);
// it returns the config's path.
func keyringSetup(t *testing.T) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "authpilot.yaml")
	if err := os.WriteFile(cfg, []byte("practice: {name: T, timezone: UTC}\ndata_dir: data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTHPILOT_KEYRING_PASSPHRASE", "pass-phrase-for-tests")
	return cfg
}

func TestSecretsRoundTripNeverPrintsValues(t *testing.T) {
	cfg := keyringSetup(t)
	const value = "s3cr3t-portal-password"
	if code, out, errs := run(t, value+"\n", "secrets", "set", "--config", cfg, "summit-password"); code != 0 {
		t.Fatalf("set: %d %s %s", code, out, errs)
	}
	code, out, errs := run(t, "", "secrets", "list", "--config", cfg)
	if code != 0 || strings.TrimSpace(out) != "summit-password" {
		t.Fatalf("list: %d %q %s", code, out, errs)
	}
	if code, _, _ := run(t, "", "secrets", "set", "--config", cfg, "empty-one"); code == 0 {
		t.Fatal("an empty secret was accepted")
	}
	t.Setenv("AUTHPILOT_KEYRING_PASSPHRASE", "wrong")
	code, out, errs = run(t, "", "secrets", "list", "--config", cfg)
	if code == 0 || !strings.Contains(errs, "passphrase") {
		t.Fatalf("wrong passphrase: %d %q %q", code, out, errs)
	}
	t.Setenv("AUTHPILOT_KEYRING_PASSPHRASE", "pass-phrase-for-tests")
	if code, _, errs := run(t, "", "secrets", "delete", "--config", cfg, "summit-password"); code != 0 {
		t.Fatalf("delete: %s", errs)
	}
	for _, a := range [][]string{{"--help"}, {"secrets", "set", "-h"}} {
		_, out, errs := run(t, "", a...)
		if strings.Contains(out+errs, value) {
			t.Fatal("a secret value appeared in help output")
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, _, errs := run(t, "", "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

func TestFlagsAfterArguments(t *testing.T) {
	cfg := keyringSetup(t)
	if code, _, errs := run(t, "v", "secrets", "set", "api-token", "--config", cfg); code != 0 {
		t.Fatalf("flags after the name: %s", errs)
	}
	if code, out, errs := run(t, "", "secrets", "list", "--config="+cfg); code != 0 || !strings.Contains(out, "api-token") {
		t.Fatalf("list: %q %s", out, errs)
	}
}

func TestCaseAddYAMLAndShow(t *testing.T) {
	dir, cfg := exampleSetup(t)
	writeFile(t, filepath.Join(dir, "pt.pdf"), "%PDF-1.4\n% notes\n")
	text := caseYAML("MRN-2002-ORD-3", "") + "attachments: [{name: pt-notes.pdf, path: pt.pdf}]\n"
	caseFile := writeFile(t, filepath.Join(dir, "case.yaml"), text)
	code, out, errs := run(t, "", "case", "add", caseFile, "--config", cfg)
	if code != 0 {
		t.Fatalf("case add: %d %s %s", code, out, errs)
	}
	id := strings.Fields(out)[1]
	code, out, errs = run(t, "", "case", "show", "--config", cfg, id)
	if code != 0 || !strings.Contains(out, "pt-notes.pdf") || !strings.Contains(out, "case_created") || !strings.Contains(out, "64483 x1 L5-S1 right") {
		t.Fatalf("case show: %d %s %s", code, out, errs)
	}
	writeFile(t, caseFile, strings.Replace(text, `npi: "1234567893"`, `npi: "1234567890"`, 1))
	code, _, errs = run(t, "", "case", "add", "--config", cfg, caseFile)
	if code != 1 || !strings.Contains(errs, "ordering_provider.npi") {
		t.Fatalf("bad NPI: %d %s", code, errs)
	}
}
