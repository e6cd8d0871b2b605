package secrets

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/filetest"
)

// testEnv is the passphrase variable the tests use, so that a real
// AUTHPILOT_KEYRING_PASSPHRASE in the environment cannot interfere.
const testEnv = "AUTHPILOT_TEST_KEYRING_PASSPHRASE"

func openFile(t *testing.T, dir, pass string) (*Keyring, error) {
	t.Helper()
	t.Setenv(testEnv, pass)
	return Open(Options{Backend: "file", FileDir: dir, PassphraseEnv: testEnv})
}

func mustOpen(t *testing.T, dir, pass string) *Keyring {
	t.Helper()
	k, err := openFile(t, dir, pass)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return k
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keyring")
	k := mustOpen(t, dir, "correct horse")
	if got := k.Backend(); got != "file" {
		t.Errorf("Backend() = %q, want file", got)
	}
	if names, err := k.List(); err != nil || len(names) != 0 {
		t.Fatalf("List on empty keyring = %v, %v; want empty", names, err)
	}
	for name, value := range map[string]string{
		"summit.password": "pa55-w0rd",
		"api-token":       "tok_123",
		"carelon_totp":    "JBSWY3DPEHPK3PXP",
	} {
		if err := k.Set(name, value); err != nil {
			t.Fatalf("Set(%q): %v", name, err)
		}
	}
	if err := k.Set("api-token", "tok_456"); err != nil {
		t.Fatalf("Set overwrite: %v", err)
	}

	// A second Keyring on the same directory (another process) reads them.
	k2 := mustOpen(t, dir, "correct horse")
	for name, want := range map[string]string{
		"summit.password": "pa55-w0rd",
		"api-token":       "tok_456",
		"carelon_totp":    "JBSWY3DPEHPK3PXP",
	} {
		got, err := k2.Get(name)
		if err != nil {
			t.Fatalf("Get(%q): %v", name, err)
		}
		if got != want {
			t.Errorf("Get(%q) = %q, want %q", name, got, want)
		}
	}
	names, err := k2.List()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"api-token", "carelon_totp", "summit.password"}; !slices.Equal(names, want) {
		t.Errorf("List() = %v, want %v", names, want)
	}

	if err := k2.Delete("api-token"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := k.Get("api-token"); !errors.Is(err, authpilot.ErrSecretNotFound) {
		t.Errorf("Get after Delete: err = %v, want ErrSecretNotFound", err)
	}
	names, _ = k.List()
	if want := []string{"carelon_totp", "summit.password"}; !slices.Equal(names, want) {
		t.Errorf("List() after Delete = %v, want %v", names, want)
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "keyring")
	k := mustOpen(t, dir, "pw")
	if err := k.Set("webhook-ehr", "whsec_abc"); err != nil {
		t.Fatal(err)
	}
	filetest.Mode(t, dir, 0o700)
	filetest.Mode(t, filepath.Join(dir, "webhook-ehr"), 0o600)
	raw, err := os.ReadFile(filepath.Join(dir, "webhook-ehr"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "whsec_abc") {
		t.Error("item file holds the secret in clear text")
	}
}

func TestWrongPassphrase(t *testing.T) {
	dir := t.TempDir()
	k := mustOpen(t, dir, "right")
	if err := k.Set("portal.password", "s3cr3t-value"); err != nil {
		t.Fatal(err)
	}

	t.Run("open", func(t *testing.T) {
		_, err := openFile(t, dir, "wrong")
		if !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("Open with wrong passphrase: err = %v, want ErrWrongPassphrase", err)
		}
		want := "open keyring: keyring passphrase is wrong: it does not decrypt the items in " + dir +
			"; check " + testEnv + " or keyring.passphrase_file"
		if err.Error() != want {
			t.Errorf("error = %q\nwant    %q", err, want)
		}
	})

	t.Run("get after another writer", func(t *testing.T) {
		// Both open an empty keyring, so Open cannot check; the wrong one
		// then meets an item the right one wrote.
		empty := t.TempDir()
		wrong := mustOpen(t, empty, "wrong")
		right := mustOpen(t, empty, "right")
		if err := right.Set("x", "value-x"); err != nil {
			t.Fatal(err)
		}
		_, err := wrong.Get("x")
		if !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("Get: err = %v, want ErrWrongPassphrase", err)
		}
		if !strings.HasPrefix(err.Error(), `get secret "x": keyring passphrase is wrong`) {
			t.Errorf("error = %q", err)
		}
		// And it refuses to write with the wrong passphrase, which would
		// leave a keyring no single passphrase opens.
		if err := wrong.Set("y", "value-y"); !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("Set with wrong passphrase: err = %v, want ErrWrongPassphrase", err)
		}
		if _, err := os.Stat(filepath.Join(empty, "y")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("item y was written with the wrong passphrase (stat err %v)", err)
		}
	})
}

func TestPassphraseSources(t *testing.T) {
	tests := []struct {
		name     string
		env      string
		file     string // content; "-" means no file configured
		wantErr  string
		wantPass string // passphrase that must then open the keyring
	}{
		{name: "env", env: "from-env", file: "-", wantPass: "from-env"},
		{name: "file with newline", file: "from-file\n", wantPass: "from-file"},
		{name: "file with crlf", file: "from-file\r\n", wantPass: "from-file"},
		{name: "env wins over file", env: "from-env", file: "from-file\n", wantPass: "from-env"},
		{
			name:    "missing",
			file:    "-",
			wantErr: "open keyring: keyring passphrase is not set: set the environment variable " + testEnv + " or keyring.passphrase_file",
		},
		{
			name:    "empty file",
			file:    "\n",
			wantErr: "open keyring: keyring passphrase is not set: " + testEnv + " is empty and passphrase file PASSFILE is empty",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{FileDir: filepath.Join(dir, "ring"), PassphraseEnv: testEnv}
			if tt.file != "-" {
				o.PassphraseFile = filepath.Join(dir, "pass")
				if err := os.WriteFile(o.PassphraseFile, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv(testEnv, tt.env)
			k, err := Open(o)
			if tt.wantErr != "" {
				want := strings.ReplaceAll(tt.wantErr, "PASSFILE", o.PassphraseFile)
				if err == nil || err.Error() != want {
					t.Fatalf("Open: err = %v\nwant %s", err, want)
				}
				if !errors.Is(err, ErrNoPassphrase) {
					t.Errorf("err does not wrap ErrNoPassphrase")
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if err := k.Set("probe", "v"); err != nil {
				t.Fatal(err)
			}
			// Only the expected passphrase opens what was written.
			k2 := mustOpen(t, o.FileDir, tt.wantPass)
			if got, err := k2.Get("probe"); err != nil || got != "v" {
				t.Errorf("Get with %q = %q, %v", tt.wantPass, got, err)
			}
		})
	}
	t.Run("unreadable file", func(t *testing.T) {
		t.Setenv(testEnv, "")
		_, err := Open(Options{FileDir: t.TempDir(), PassphraseEnv: testEnv, PassphraseFile: filepath.Join(t.TempDir(), "nope")})
		if err == nil || !strings.Contains(err.Error(), "read keyring passphrase file") {
			t.Errorf("err = %v, want a read error", err)
		}
	})
}

func TestNotFound(t *testing.T) {
	k := mustOpen(t, t.TempDir(), "pw")
	_, err := k.Get("nothing-here")
	if !errors.Is(err, authpilot.ErrSecretNotFound) {
		t.Fatalf("Get: err = %v, want ErrSecretNotFound", err)
	}
	if got, want := err.Error(), `secret "nothing-here": secret not found`; got != want {
		t.Errorf("Get error = %q, want %q", got, want)
	}
	err = k.Delete("nothing-here")
	if !errors.Is(err, authpilot.ErrSecretNotFound) {
		t.Errorf("Delete: err = %v, want ErrSecretNotFound", err)
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		name  string
		valid bool
	}{
		{"api-token", true},
		{"summit.password", true},
		{"a", true},
		{"0abc_def-1.2", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"Api-Token", false},
		{"-leading", false},
		{".hidden", false},
		{"has space", false},
		{"slash/inside", false},
		{"../escape", false},
	}
	msgs := map[string]string{
		strings.Repeat("a", 65): "invalid secret name: longer than 64 characters",
		"":                      "invalid secret name: empty",
		"Api-Token":             "invalid secret name: character 1 is an upper-case letter (use 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit)",
		"-leading":              "invalid secret name: character 1 is '-', which may not come first (use 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit)",
		"has space":             "invalid secret name: character 4 is a space (use 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit)",
		"slash/inside":          "invalid secret name: character 6 is '/' (use 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit)",
	}
	k := mustOpen(t, t.TempDir(), "pw")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateName(tt.name)
			if (err == nil) != tt.valid {
				t.Fatalf("ValidateName(%q) = %v, want valid=%v", tt.name, err, tt.valid)
			}
			if tt.valid {
				return
			}
			if !errors.Is(err, ErrInvalidName) {
				t.Errorf("err does not wrap ErrInvalidName: %v", err)
			}
			if want, ok := msgs[tt.name]; ok && err.Error() != want {
				t.Errorf("ValidateName error = %q\nwant %q", err, want)
			}
			for op, err := range map[string]error{
				"Set":    k.Set(tt.name, "v"),
				"Delete": k.Delete(tt.name),
				"Get":    func() error { _, err := k.Get(tt.name); return err }(),
			} {
				if !errors.Is(err, ErrInvalidName) {
					t.Errorf("%s(%q): err = %v, want ErrInvalidName", op, tt.name, err)
				}
			}
		})
	}
}

func TestListIgnoresForeignFiles(t *testing.T) {
	dir := t.TempDir()
	k := mustOpen(t, dir, "pw")
	if err := k.Set("real", "v"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{".DS_Store", "README.TXT"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	names, err := k.List()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"real"}) {
		t.Errorf("List() = %v, want [real]", names)
	}
	// Open's passphrase check skips the foreign files too.
	if _, err := openFile(t, dir, "pw"); err != nil {
		t.Errorf("reopen: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{
			name: "unknown backend",
			o:    Options{Backend: "vault"},
			want: `open keyring: unknown backend "vault" (one of file, keychain, secret-service, kwallet, pass, keyctl, wincred)`,
		},
		{
			name: "no dir",
			o:    Options{Backend: "file"},
			want: "open keyring: the file backend needs a directory (keyring.file_dir)",
		},
		{
			name: "dir is a file",
			o:    Options{FileDir: file},
			want: "open keyring: create keyring directory: mkdir " + file + ": not a directory",
		},
	}
	t.Setenv(testEnv, "pw")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.PassphraseEnv = testEnv
			_, err := Open(tt.o)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Open: err = %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestNoSecretInErrors drives every failure path that has a secret value
// at hand and checks no error carries it.
func TestNoSecretInErrors(t *testing.T) {
	const value = "V4lue-That-Must-Not-Leak"
	dir := t.TempDir()
	k := mustOpen(t, dir, value) // the passphrase is a secret too
	if err := k.Set("stored", value); err != nil {
		t.Fatal(err)
	}
	var errs []error
	collect := func(err error) {
		if err == nil {
			t.Errorf("expected an error on a failure path")
			return
		}
		errs = append(errs, err)
	}
	_, err := openFile(t, dir, "not-"+value)
	collect(err)
	empty := t.TempDir()
	wrong := mustOpen(t, empty, "wrong")
	right := mustOpen(t, empty, value)
	if err := right.Set("x", value); err != nil {
		t.Fatal(err)
	}
	_, err = wrong.Get("x")
	collect(err)
	collect(wrong.Set("y", value))
	collect(k.Set("Bad Name", value))
	collect(k.Set(value, value)) // a value pasted where the name belongs
	collect(k.Set("", value))
	_, err = k.Get("missing")
	collect(err)
	t.Setenv(testEnv, "")
	passFile := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(passFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(Options{FileDir: t.TempDir(), PassphraseEnv: testEnv, PassphraseFile: passFile})
	collect(err)

	for _, err := range errs {
		for _, s := range []string{value, strings.ToLower(value)} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error leaks the secret value: %q", err)
			}
		}
	}
}

// TestPassphraseLeavesTheEnvironment: the variable is read once and removed,
// so that no child process (the browser, leakless) inherits it; a second
// Open in the same process still works.
func TestPassphraseLeavesTheEnvironment(t *testing.T) {
	const pass = "Env-Passphrase-Never-Inherited"
	dir := t.TempDir()
	k := mustOpen(t, dir, pass)
	if err := k.Set("probe", "v"); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, testEnv+"=") || strings.Contains(kv, pass) {
			t.Fatalf("the passphrase is still in the process environment after Open (%s=...)", testEnv)
		}
	}
	again, err := Open(Options{FileDir: dir, PassphraseEnv: testEnv})
	if err != nil {
		t.Fatalf("second Open after the variable was consumed: %v", err)
	}
	if got, err := again.Get("probe"); err != nil || got != "v" {
		t.Errorf("second Open: Get = %q, %v", got, err)
	}
}

// TestPassphraseFileModeWarning: a passphrase file others can read is
// warned about (without its contents); a 0600 file is not.
func TestPassphraseFileModeWarning(t *testing.T) {
	const pass = "File-Passphrase-Not-In-Logs"
	for _, tt := range []struct {
		mode os.FileMode
		warn bool
	}{{0o644, true}, {0o640, true}, {0o604, true}, {0o600, false}, {0o400, false}} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "pass")
			if err := os.WriteFile(file, []byte(pass+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(file, tt.mode); err != nil {
				t.Fatal(err)
			}
			var buf strings.Builder
			t.Setenv(testEnv, "")
			_, err := Open(Options{FileDir: filepath.Join(dir, "ring"), PassphraseEnv: testEnv, PassphraseFile: file,
				Logger: slog.New(slog.NewTextHandler(&buf, nil))})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			log := buf.String()
			if got := strings.Contains(log, "level=WARN") && strings.Contains(log, "readable by other users"); got != tt.warn {
				t.Errorf("mode %04o: warned %v, want %v; log:\n%s", tt.mode, got, tt.warn, log)
			}
			if strings.Contains(log, pass) {
				t.Errorf("the log carries the passphrase: %s", log)
			}
		})
	}
}
