package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pquerna/otp/totp"
	"golang.org/x/term"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/store"
	"github.com/authpilot/authpilot/web"
)

func userCommands() map[string]command {
	return map[string]command{"add": cmdUserAdd, "list": cmdUserList, "disable": cmdUserDisable, "enable": cmdUserEnable,
		"reset-password": cmdUserResetPassword, "totp": cmdUserTOTP}
}

// readPassword reads a new password: twice from a terminal (hidden), or
// one line from stdin.
func readPassword(stdin io.Reader, stderr io.Writer, who string) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(stderr, "password for %s (input hidden): ", who)
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(stderr, "again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ; nothing changed")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// newPassword reads a new password for name and returns its hash.
func newPassword(stdin io.Reader, stderr io.Writer, name string) (string, error) {
	pw, err := readPassword(stdin, stderr, name)
	if err != nil {
		return "", err
	}
	return web.HashPassword(pw)
}

// withStore runs fn on the store of cfg and closes it.
func withStore(ctx context.Context, cfg *config.Config, fn func(*store.Store) error) error {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st)
}

func cmdUserAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("user add", "user add [--config FILE] --role admin|coordinator|viewer NAME   (password read from stdin)\n\nCreates a workspace account. The person signs in at the workspace's address with NAME and\nthis password; an admin resets a forgotten one with `authpilot user reset-password NAME`.", stderr)
	path := configFlag(fs)
	role := fs.String("role", "", "the account's `role`: admin, coordinator or viewer")
	cfg, err := parseConfig(fs, path, args, 1)
	if err != nil {
		return err
	}
	r := store.Role(*role)
	if !r.Valid() {
		return &exitError{2, fmt.Sprintf("user add: --role: must be admin, coordinator or viewer, not %q", *role)}
	}
	name := fs.Arg(0)
	if !validUserName(name) {
		return &exitError{2, "user add: NAME: use 1-64 letters, digits, '.', '_', '-' or '@'"}
	}
	hash, err := newPassword(stdin, stderr, name)
	if err != nil {
		return err
	}
	err = withStore(ctx, cfg, func(st *store.Store) error {
		return st.AddUser(ctx, store.User{Name: name, Role: r, PasswordHash: hash})
	})
	if errors.Is(err, authpilot.ErrConflict) {
		return &exitError{1, fmt.Sprintf("user add: %q exists; nothing changed", name)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s added (%s); sign in at %s/signin\n", name, r, cfg.Server.BaseURL())
	return nil
}

func validUserName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-@", c)) {
			return false
		}
	}
	return true
}

func cmdUserList(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("user list", "user list [--config FILE] [--json]", stderr)
	path := configFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	cfg, err := parseConfig(fs, path, args, 0)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	us, err := st.Users(ctx)
	if err != nil {
		return err
	}
	type row struct {
		Name        string `json:"name"`
		Role        string `json:"role"`
		Disabled    bool   `json:"disabled"`
		LockedUntil string `json:"locked_until,omitempty"`
	}
	rows := make([]row, len(us))
	for i, u := range us {
		rows[i] = row{Name: u.Name, Role: string(u.Role), Disabled: u.Disabled}
		if !u.LockedUntil.IsZero() {
			rows[i].LockedUntil = u.LockedUntil.Format("2006-01-02 15:04 MST")
		}
	}
	return writeList(stdout, *asJSON, "users", rows, "NAME\tROLE\tSTATE", func(r row) string {
		state := "active"
		switch {
		case r.Disabled:
			state = "disabled"
		case r.LockedUntil != "":
			state = "locked until " + r.LockedUntil
		}
		return r.Name + "\t" + r.Role + "\t" + state
	})
}

func cmdUserDisable(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return setDisabled(ctx, "disable", true, args, stdout, stderr)
}

func cmdUserEnable(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return setDisabled(ctx, "enable", false, args, stdout, stderr)
}

func setDisabled(ctx context.Context, verb string, disabled bool, args []string, stdout, stderr io.Writer) error {
	cfg, fs, _, err := withConfig("user "+verb, "user "+verb+" [--config FILE] NAME", args, 1, stderr)
	if err != nil {
		return err
	}
	if err := withStore(ctx, cfg, func(st *store.Store) error { return st.SetUserDisabled(ctx, fs.Arg(0), disabled) }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s %sd\n", fs.Arg(0), verb)
	return nil
}

func cmdUserResetPassword(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, fs, _, err := withConfig("user reset-password", "user reset-password [--config FILE] NAME   (new password read from stdin)\n\nSets a new password, unlocks the account and signs it out everywhere.", args, 1, stderr)
	if err != nil {
		return err
	}
	hash, err := newPassword(stdin, stderr, fs.Arg(0))
	if err != nil {
		return err
	}
	if err := withStore(ctx, cfg, func(st *store.Store) error { return st.SetPassword(ctx, fs.Arg(0), hash) }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "password of %s reset; the account is unlocked and signed out\n", fs.Arg(0))
	return nil
}

func cmdTokenCreate(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("token create", "token create [--config FILE] --user NAME [--label TEXT]\n\nCreates an API token for a person: the API attributes what is done with it to them.\nThe token is printed once; only its hash is stored.", stderr)
	path := configFlag(fs)
	user := fs.String("user", "", "the person's account `NAME`")
	label := fs.String("label", "", "what the token is for")
	cfg, err := parseConfig(fs, path, args, 0)
	if err != nil {
		return err
	}
	if *user == "" {
		return &exitError{2, "token create: --user: required"}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.User(ctx, *user)
	if err != nil {
		return err
	}
	tok := "apu_" + web.NewToken()
	if err := st.AddToken(ctx, store.HashToken(tok), u.Name, *label); err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	fmt.Fprintf(stderr, "token for %s created: send it as `Authorization: Bearer <token>`; it is not shown again\n", u.Name)
	return nil
}

func cmdUserTOTP(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("user totp", "user totp [--config FILE] [--off] NAME\n\nMakes the person's sign-in ask for a code from an authenticator app: prints the\notpauth:// URL (and its secret) to add to the app once; the seed goes to the keyring\n(user-totp-NAME). --off stops asking.", stderr)
	path := configFlag(fs)
	off := fs.Bool("off", false, "stop asking for a code")
	cfg, err := parseConfig(fs, path, args, 1)
	if err != nil {
		return err
	}
	name := fs.Arg(0)
	kr, err := openKeyring(cfg)
	if err != nil {
		return err
	}
	if *off {
		if err := withStore(ctx, cfg, func(st *store.Store) error { return st.SetTOTP(ctx, name, false) }); err != nil {
			return err
		}
		if err := kr.Delete(store.TOTPSecretName(name)); err != nil {
			fmt.Fprintf(stderr, "warning: could not delete the seed from the keyring: %v\n", err)
		}
		fmt.Fprintf(stdout, "%s signs in without a code\n", name)
		return nil
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "authpilot " + cfg.Practice.Name, AccountName: name})
	if err != nil {
		return fmt.Errorf("make a totp seed: %w", err)
	}
	err = withStore(ctx, cfg, func(st *store.Store) error {
		if _, err := st.User(ctx, name); err != nil {
			return err
		}
		if err := kr.Set(store.TOTPSecretName(name), key.Secret()); err != nil {
			return err
		}
		return st.SetTOTP(ctx, name, true)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nsecret: %s\n", key.URL(), key.Secret())
	fmt.Fprintf(stderr, "add this to %s's authenticator app now; sign-in asks for its code from now on\n", name)
	return nil
}
