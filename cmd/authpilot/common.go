package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"

	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/config/secrets"
	"github.com/authpilot/authpilot/internal/didyoumean"
	"github.com/authpilot/authpilot/store"
)

// newFlags returns a flag set that prints its usage to stderr and returns
// errors instead of exiting.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: authpilot %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, flags before or after the positional arguments
// (`secrets set NAME --config FILE` works too); -h is a clean exit.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(flagsFirst(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &exitError{0, ""}
		}
		return &exitError{2, ""}
	}
	return nil
}

// parseArgs is parseFlags for a command that takes exactly n arguments:
// another count prints the usage and exits 2.
func parseArgs(fs *flag.FlagSet, args []string, n int) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != n {
		fs.Usage()
		return &exitError{2, ""}
	}
	return nil
}

// withConfig is the set-up of a command that reads the config and takes
// no flag but --config: its flags, args parsed as parseConfig does, and
// the config loaded. It returns the flag set, for the arguments, and the
// config's path.
func withConfig(name, synopsis string, args []string, n int, stderr io.Writer) (*config.Config, *flag.FlagSet, string, error) {
	fs := newFlags(name, synopsis, stderr)
	path := configFlag(fs)
	cfg, err := parseConfig(fs, path, args, n)
	return cfg, fs, *path, err
}

// parseConfig parses args as parseArgs does (any number of arguments when
// n < 0, as parseFlags) and loads the config that path, the --config
// flag, names.
func parseConfig(fs *flag.FlagSet, path *string, args []string, n int) (*config.Config, error) {
	var err error
	if n < 0 {
		err = parseFlags(fs, args)
	} else {
		err = parseArgs(fs, args, n)
	}
	if err != nil {
		return nil, err
	}
	return loadConfig(*path)
}

func configFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("AUTHPILOT_CONFIG")
	if def == "" {
		def = "authpilot.yaml"
	}
	return fs.String("config", def, "config `file` (default $AUTHPILOT_CONFIG or ./authpilot.yaml)")
}

// loadConfig loads and validates the config, printing every error.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			msg := ""
			for _, e := range errs {
				msg += e.Error() + "\n"
			}
			return nil, &exitError{1, msg + fmt.Sprintf("%s: %d error(s)", path, len(errs))}
		}
		return nil, err
	}
	return cfg, nil
}

// knownConnector returns nil when the config has a connector id, else
// the usage error of the command that names it (what: the command and
// flag), with a suggestion and the configured IDs.
func knownConnector(cfg *config.Config, what, id string) error {
	if _, ok := cfg.Connector(id); ok {
		return nil
	}
	var known []string
	for _, cc := range cfg.Connectors {
		known = append(known, cc.ID)
	}
	return &exitError{2, fmt.Sprintf("%s: unknown connector %q%s (configured: %s)", what, id,
		didyoumean.Suggest(id, known), strings.Join(known, ", "))}
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.SlogLevel()}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func openKeyring(cfg *config.Config) (*secrets.Keyring, error) {
	ko := cfg.Keyring.Options()
	ko.Logger = newLogger(cfg, os.Stderr)
	kr, err := secrets.Open(ko)
	if err != nil {
		return nil, fmt.Errorf("open keyring: %w", err)
	}
	return kr, nil
}

func openStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("open store in %s: %w", cfg.DataDir, err)
	}
	return st, nil
}

// openConfigStore loads the config at path and opens its store; the
// caller closes the store.
func openConfigStore(ctx context.Context, path string) (*config.Config, *store.Store, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// writeJSON prints v as indented JSON, for --json.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeList prints what a list command found: as JSON under key with
// --json, else a table of header and one row per item.
func writeList[T any](w io.Writer, asJSON bool, key string, items []T, header string, row func(T) string) error {
	if asJSON {
		return writeJSON(w, map[string]any{key: items})
	}
	tw := newTable(w)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		fmt.Fprintln(tw, row(it))
	}
	return tw.Flush()
}

// newTable returns the column writer of every table a command prints.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 2, 4, 2, ' ', 0) }

// flagsFirst moves the flags in args (with their values) before the
// positional arguments, which follow a "--".
func flagsFirst(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(append(flags, "--"), pos...)
}

// cliActor names the person at the terminal in events and the access
// log: "cli:<login name>" ("cli" when the system does not say).
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}

// flagSet returns the flags given on the command line.
func flagSet(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}
