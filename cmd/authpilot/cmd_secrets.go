package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"os"

	"golang.org/x/term"

	"github.com/authpilot/authpilot/config/secrets"
)

// secretsKeyring is the set-up of every secrets command: its flags
// (--config, and the secret's NAME when wantName), then the keyring the
// config names.
func secretsKeyring(name, synopsis string, args []string, stderr io.Writer, wantName bool) (kr *secrets.Keyring, secret string, err error) {
	n := -1
	if wantName {
		n = 1
	}
	cfg, fs, _, err := withConfig(name, synopsis, args, n, stderr)
	if err != nil {
		return nil, "", err
	}
	if kr, err = openKeyring(cfg); err != nil {
		return nil, "", err
	}
	return kr, fs.Arg(0), nil
}

// cmdSecretsSet reads the value from stdin — never from the arguments,
// where it would land in shell history and the process list.
func cmdSecretsSet(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	kr, name, err := secretsKeyring("secrets set", "secrets set [--config FILE] NAME   (value read from stdin)", args, stderr, true)
	if err != nil {
		return err
	}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(stderr, "value for %s (input hidden): ", name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return fmt.Errorf("read secret: %w", err)
		}
		return setSecret(kr.Set, name, string(b), stdout)
	}
	r := bufio.NewReader(io.LimitReader(stdin, 64<<10))
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read secret from stdin: %w", err)
	}
	return setSecret(kr.Set, name, strings.TrimRight(string(b), "\r\n"), stdout)
}

func setSecret(set func(string, string) error, name, value string, stdout io.Writer) error {
	if value == "" {
		return errors.New("empty secret: pipe the value on stdin, e.g. `printf %s \"$VALUE\" | authpilot secrets set NAME`")
	}
	if err := set(name, value); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "secret %s stored\n", name)
	return nil
}

func cmdSecretsList(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	kr, _, err := secretsKeyring("secrets list", "secrets list [--config FILE]", args, stderr, false)
	if err != nil {
		return err
	}
	names, err := kr.List()
	if err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintln(stdout, n)
	}
	return nil
}

func cmdSecretsDelete(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	kr, name, err := secretsKeyring("secrets delete", "secrets delete [--config FILE] NAME", args, stderr, true)
	if err != nil {
		return err
	}
	if err := kr.Delete(name); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "secret %s deleted\n", name)
	return nil
}
