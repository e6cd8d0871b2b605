package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot/store"
)

// TestUserCommands: an admin adds people with a role and a password from
// stdin (never an argument), lists them, disables one, resets a locked
// one's password (which unlocks it) and creates an API token printed once
// and stored hashed.
func TestUserCommands(t *testing.T) {
	_, cfg := exampleSetup(t)
	const pw = "a long enough password\n"
	for _, tt := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{pw, []string{"user", "add", "--config", cfg, "--role", "coordinator", "casey"}, 0, "user casey added (coordinator); sign in at http://127.0.0.1:8600/signin"},
		{pw, []string{"user", "add", "--config", cfg, "--role", "viewer", "vera"}, 0, "user vera added (viewer)"},
		{pw, []string{"user", "add", "--config", cfg, "--role", "viewer", "casey"}, 1, `"casey" exists; nothing changed`},
		{pw, []string{"user", "add", "--config", cfg, "--role", "boss", "bo"}, 2, "--role: must be admin, coordinator or viewer"},
		{"short\n", []string{"user", "add", "--config", cfg, "--role", "viewer", "sid"}, 1, "password: must be at least 12 characters"},
		{pw, []string{"user", "add", "--config", cfg, "--role", "viewer", "no spaces"}, 2, "NAME: use 1-64 letters"},
		{"", []string{"user", "disable", "--config", cfg, "vera"}, 0, "user vera disabled"},
		{"", []string{"user", "list", "--config", cfg}, 0, "casey  coordinator  active"},
	} {
		code, out, errs := run(t, tt.stdin, tt.args...)
		if code != tt.code || !strings.Contains(out+errs, tt.want) {
			t.Errorf("%v: %d\n%s%s\nwant %d and %q", tt.args, code, out, errs, tt.code, tt.want)
		}
	}

	ctx := context.Background()
	st := openTestStore(t, cfg)
	if err := st.SetLogin(ctx, "casey", 7, time.Now().AddDate(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := run(t, "a new long password\n", "user", "reset-password", "--config", cfg, "casey"); code != 0 || !strings.Contains(out, "unlocked") {
		t.Fatalf("reset-password: %d %s %s", code, out, errs)
	}
	u, err := st.User(ctx, "casey")
	if err != nil || u.Failures != 0 || !u.LockedUntil.IsZero() || strings.Contains(u.PasswordHash, "new long") {
		t.Fatalf("after the reset: %+v %v", u, err)
	}
	code, out, errs := run(t, "", "token", "create", "--config", cfg, "--user", "casey", "--label", "EHR bridge")
	tok := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(tok, "apu_") || !strings.Contains(errs, "not shown again") {
		t.Fatalf("token create: %d %q %s", code, out, errs)
	}
	if u, err := st.TokenUser(ctx, store.HashToken(tok)); err != nil || u.Name != "casey" {
		t.Errorf("the token is not casey's: %+v %v", u, err)
	}

	t.Setenv("AUTHPILOT_KEYRING_PASSPHRASE", "pass-phrase-for-tests")
	code, out, errs = run(t, "", "user", "totp", "--config", cfg, "casey")
	if code != 0 || !strings.HasPrefix(out, "otpauth://totp/") {
		t.Fatalf("user totp: %d %q %s", code, out, errs)
	}
	if u, err := st.User(ctx, "casey"); err != nil || !u.TOTP {
		t.Errorf("after user totp: %+v %v", u, err)
	}
	code, out, _ = run(t, "", "secrets", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, store.TOTPSecretName("casey")) {
		t.Errorf("the seed is not in the keyring: %s", out)
	}
	if code, _, errs := run(t, "", "user", "totp", "--config", cfg, "--off", "casey"); code != 0 {
		t.Fatalf("user totp --off: %d %s", code, errs)
	}
	if u, _ := st.User(ctx, "casey"); u.TOTP {
		t.Error("totp still on after --off")
	}
}
