package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/store"
)

// exampleSetup writes the example config and connectors into a new folder
// and returns the folder and the config path.
func exampleSetup(t *testing.T) (dir, cfg string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "connectors"), os.DirFS("../../examples/connectors")); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile("../../examples/authpilot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg = filepath.Join(dir, "authpilot.yaml")
	if err := os.WriteFile(cfg, good, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, cfg
}

// addCase runs `case add` on a case file and returns the new case's ID.
func addCase(t *testing.T, cfg, caseFile string) string {
	t.Helper()
	code, out, errs := run(t, "", "case", "add", "--config", cfg, caseFile)
	if code != 0 {
		t.Fatalf("case add: %d %s %s", code, out, errs)
	}
	return strings.Fields(out)[1]
}

func writeFile(t *testing.T, p, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func caseYAML(ref, attachment string) string {
	s := fmt.Sprintf(`external_ref: %s
patient: {first_name: Sam, last_name: Lee, dob: 1970-02-03, member_id: SHP998877}
payer: summit-ma
track: injection
ordering_provider: {npi: "1234567893"}
service_lines: [{code: "64483", units: 1, level: L5-S1 right}]
diagnoses: [M54.17]
service_date: %s
`, ref, time.Now().AddDate(0, 0, 20).Format(time.DateOnly))
	if attachment != "" {
		s += "attachments: [{path: " + attachment + "}]\n"
	}
	return s
}

// openTestStore opens the store of the config at cfg until the test ends.
func openTestStore(t *testing.T, cfg string) *store.Store {
	t.Helper()
	c, err := loadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), c.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func listCases(t *testing.T, cfg string) []*authpilot.Case {
	t.Helper()
	cs, err := openTestStore(t, cfg).ListCases(context.Background(), authpilot.CaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestCaseAddAndImportTwice: adding a case file again, or importing a CSV
// again, reports what is already present and creates nothing (the report:
// re-importing a CSV doubled every row).
func TestCaseAddAndImportTwice(t *testing.T) {
	dir, cfg := exampleSetup(t)
	caseFile := writeFile(t, filepath.Join(dir, "case.yaml"), caseYAML("MRN-1-ORD-1", ""))
	id := addCase(t, cfg, caseFile)
	code, out, errs := run(t, "", "case", "add", "--config", cfg, caseFile)
	if code != 0 || !strings.Contains(out, "case "+id+" already present") || !strings.Contains(out, "nothing created") {
		t.Fatalf("case add again: %d %q %s", code, out, errs)
	}

	date := time.Now().AddDate(0, 0, 20).Format(time.DateOnly)
	csv := writeFile(t, filepath.Join(dir, "export.csv"), strings.Join([]string{
		"external_ref,patient_first_name,patient_last_name,patient_dob,member_id,payer,track,ordering_npi,service_date,procedures,diagnoses",
		"ORD-10,Ana,Ruiz,1960-01-02,SHP100001,summit-ma,surgery,1245319599," + date + ",22612@L4-L5,M48.062",
		",Bo,Chen,1970-03-04,SHP100002,summit-ma,injection,1245319599," + date + ",64483,M54.17",
		// The same request as the row above, in the same file.
		",Bo,Chen,1970-03-04,shp100002,summit-ma,injection,1245319599," + date + ",64483,M54.17",
	}, "\n")+"\n")
	code, out, errs = run(t, "", "case", "import", "--config", cfg, csv)
	if code != 0 || !strings.Contains(out, "2 cases imported, 1 already present (skipped), 0 rows rejected") || !strings.Contains(out, "export.csv:4: already present") {
		t.Fatalf("first import: %d %q %s", code, out, errs)
	}
	code, out, errs = run(t, "", "case", "import", "--config", cfg, csv)
	if code != 0 || !strings.Contains(out, "0 cases imported, 3 already present (skipped), 0 rows rejected") ||
		!strings.Contains(out, "export.csv:2: already present as case") {
		t.Fatalf("second import: %d %q %s", code, out, errs)
	}
	if n := len(listCases(t, cfg)); n != 3 {
		t.Fatalf("%d cases stored, want 3", n)
	}
}

// TestCaseAddAttachmentsConfined: an attachment path outside the case
// file's folder, through a symlink out of it, or into the data or keyring
// directory is refused with a clear error and nothing is stored.
func TestCaseAddAttachmentsConfined(t *testing.T) {
	dir, cfg := exampleSetup(t)
	outside := writeFile(t, filepath.Join(t.TempDir(), "secret.txt"), "not a clinical document")
	cases := filepath.Join(dir, "cases")
	writeFile(t, filepath.Join(cases, "notes", "pt.pdf"), "%PDF-1.4\n")
	if err := os.Symlink(outside, filepath.Join(cases, "link.pdf")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(cases, "notes"), filepath.Join(cases, "inside-link")); err != nil {
		t.Fatal(err)
	}
	keyringFile := writeFile(t, filepath.Join(dir, "authpilot-data", "keyring", "summit-password"), "eyJhbGciOi...")
	tests := []struct {
		name, path, root string
		want             string
	}{
		{"traversal", "../../../../../../../../etc/passwd", "", "is outside"},
		{"absolute", "/etc/passwd", "", "is outside"},
		{"symlink out", "link.pdf", "", "is outside"},
		{"keyring", keyringFile, dir, "data or keyring directory"},
		{"missing", "nope.pdf", "", "no such file"},
		{"a directory", "notes", "", "not a regular file"},
		{"inside", "notes/pt.pdf", "", ""},
		{"symlink inside", "inside-link/pt.pdf", "", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caseFile := writeFile(t, filepath.Join(cases, fmt.Sprintf("case-%d.yaml", i)), caseYAML(fmt.Sprintf("ORD-%d", i), tt.path))
			args := []string{"case", "add", "--config", cfg, caseFile}
			if tt.root != "" {
				args = append(args, "--attachments-root", tt.root)
			}
			before := len(listCases(t, cfg))
			code, out, errs := run(t, "", args...)
			if tt.want == "" {
				if code != 0 {
					t.Fatalf("case add: %d %s %s", code, out, errs)
				}
				return
			}
			if code != 1 || !strings.Contains(errs, "attachments[0].path") || !strings.Contains(errs, tt.want) {
				t.Fatalf("case add: %d %q %q, want an error on attachments[0].path saying %q", code, out, errs, tt.want)
			}
			if after := len(listCases(t, cfg)); after != before {
				t.Fatalf("a case was stored")
			}
		})
	}
	cs := listCases(t, cfg)
	if len(cs) != 2 || cs[0].Attachments[0].Name != "pt.pdf" || cs[0].Attachments[0].ContentType != "application/pdf" {
		t.Fatalf("stored attachments: %+v", cs[0].Attachments)
	}
}

// TestCaseShowEscapesControlCharacters: text that came from outside (a
// payer's words) never reaches the terminal with raw control characters.
func TestCaseShowEscapesControlCharacters(t *testing.T) {
	dir, cfg := exampleSetup(t)
	caseFile := writeFile(t, filepath.Join(dir, "case.yaml"), caseYAML("MRN-1-ORD-1", ""))
	id := addCase(t, cfg, caseFile)
	c, _ := loadConfig(cfg)
	st, err := store.Open(context.Background(), c.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.UpdateCase(context.Background(), id, func(c *authpilot.Case) (authpilot.Changes, error) {
		c.StatusText = "In review\x1b[2J\x1b]0;pwned\x07"
		c.LastError = "line one\r\nINFO forged line\x00"
		c.Patient.FirstName = "Sam\u202eeL"
		return authpilot.Changes{}, nil
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "", "case", "show", "--config", cfg, id)
	if code != 0 {
		t.Fatalf("case show: %d %s", code, errs)
	}
	for _, raw := range []string{"\x1b", "\x07", "\r", "\x00", "\u202e"} {
		if strings.Contains(out, raw) {
			t.Errorf("case show prints %q raw:\n%s", raw, out)
		}
	}
	for _, esc := range []string{`In review\x1b[2J\x1b]0;pwned\x07`, `line one\x0d\x0aINFO forged line\x00`, `Sam\u202eeL`} {
		if !strings.Contains(out, esc) {
			t.Errorf("case show lacks %q:\n%s", esc, out)
		}
	}
	code, out, _ = run(t, "", "case", "list", "--config", cfg)
	if code != 0 || strings.Contains(out, "\x1b") {
		t.Fatalf("case list: %d %q", code, out)
	}
}

// TestRunNowUnknownConnector: a mistyped --connector is an error with a
// suggestion, not a run that did nothing and exited 0.
func TestRunNowUnknownConnector(t *testing.T) {
	_, cfg := exampleSetup(t)
	for _, job := range []string{"poll", "submit"} {
		code, out, errs := run(t, "", job, "--now", "--config", cfg, "--connector", "summit-portl")
		if code != 2 || !strings.Contains(errs, `unknown connector "summit-portl"`) || !strings.Contains(errs, `did you mean "summit-portal"?`) {
			t.Fatalf("%s --connector summit-portl: %d %q %q", job, code, out, errs)
		}
	}
}
