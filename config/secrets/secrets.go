// Package secrets keeps authpilot's secrets (portal passwords, TOTP seeds,
// API client secrets, webhook and Slack URLs) in a keyring: the encrypted
// file keyring on servers and in containers, or an OS keyring. The keyring
// library stays behind this small interface; nothing here ever prompts on a
// terminal, and no secret value ever appears in an error.
package secrets

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/99designs/keyring"

	"github.com/authpilot/authpilot"
)

// Defaults of Options.
const (
	DefaultBackend       = "file"
	DefaultServiceName   = "authpilot"
	DefaultPassphraseEnv = "AUTHPILOT_KEYRING_PASSPHRASE"
)

// Backends lists the keyring backends Open accepts.
var Backends = []string{"file", "keychain", "secret-service", "kwallet", "pass", "keyctl", "wincred"}

var backendTypes = map[string]keyring.BackendType{
	"file":           keyring.FileBackend,
	"keychain":       keyring.KeychainBackend,
	"secret-service": keyring.SecretServiceBackend,
	"kwallet":        keyring.KWalletBackend,
	"pass":           keyring.PassBackend,
	"keyctl":         keyring.KeyCtlBackend,
	"wincred":        keyring.WinCredBackend,
}

var (
	// ErrWrongPassphrase is returned when the file keyring's passphrase
	// does not decrypt its items.
	ErrWrongPassphrase = errors.New("keyring passphrase is wrong")
	// ErrNoPassphrase is returned when the file keyring has no passphrase.
	ErrNoPassphrase = errors.New("keyring passphrase is not set")
	// ErrInvalidName is returned for a secret name that breaks NamePattern.
	ErrInvalidName = errors.New("invalid secret name")
)

// NamePattern is what a secret name looks like: lower case, digits, '.',
// '_' and '-', at most 64 characters, starting with a letter or digit.
var NamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidateName returns an error wrapping ErrInvalidName unless name is a
// valid secret name. The error says which rule is broken without echoing
// the name: a value pasted where a name belongs must not reach a log.
func ValidateName(name string) error {
	if NamePattern.MatchString(name) {
		return nil
	}
	const rule = "use 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(name) > 64:
		return fmt.Errorf("%w: longer than 64 characters", ErrInvalidName)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if i > 0 {
			ok = ok || r == '.' || r == '_' || r == '-'
		}
		if !ok {
			return fmt.Errorf("%w: character %d is %s (%s)", ErrInvalidName, i+1, describeRune(r), rule)
		}
	}
	return fmt.Errorf("%w (%s)", ErrInvalidName, rule)
}

// NameRule is the rule on a config key that names a keyring secret: set
// when required, and a valid name (ValidateName). It returns what is
// wrong, or "".
func NameRule(name string, required bool) string {
	switch {
	case name == "" && required:
		return "required (the name of a keyring secret)"
	case name == "":
		return ""
	}
	if err := ValidateName(name); err != nil {
		return err.Error()
	}
	return ""
}

// describeRune names a disallowed character without giving away much.
func describeRune(r rune) string {
	switch {
	case r >= 'A' && r <= 'Z':
		return "an upper-case letter"
	case r == ' ' || r == '\t':
		return "a space"
	case r == '.' || r == '_' || r == '-':
		return fmt.Sprintf("%q, which may not come first", r)
	case r < 0x80 && r > 0x20 && r != 0x7f:
		return fmt.Sprintf("%q", r)
	default:
		return "not allowed"
	}
}

// Options selects and configures the keyring.
type Options struct {
	// Backend is one of Backends; empty means "file".
	Backend string
	// FileDir is the file keyring's directory; it is created with mode 0700.
	FileDir string
	// PassphraseEnv names the environment variable holding the file
	// keyring's passphrase; empty means AUTHPILOT_KEYRING_PASSPHRASE.
	PassphraseEnv string
	// PassphraseFile holds the passphrase when the variable is empty; one
	// trailing newline is ignored.
	PassphraseFile string
	// ServiceName names authpilot's items in OS keyrings; empty means
	// "authpilot".
	ServiceName string
	// Logger receives the warning about a passphrase file that others can
	// read; nil discards it.
	Logger *slog.Logger
}

// Keyring reads and writes named secrets. It is safe for concurrent use.
type Keyring struct {
	mu      sync.Mutex
	ring    keyring.Keyring
	backend string
	// hint tells the admin where the passphrase comes from.
	hint string
	// verified is true once the passphrase decrypted an existing item (or
	// the backend has no passphrase).
	verified bool
}

var _ authpilot.Secrets = (*Keyring)(nil)

// Open opens the keyring. For the file backend it resolves the passphrase
// (environment variable, then file) and, when the keyring already holds
// items, checks that the passphrase decrypts them. The variable is removed
// from the process environment as soon as it is read, so that no child
// process (the browser, leakless) inherits it; a later Open in the same
// process uses the value read first.
func Open(o Options) (*Keyring, error) {
	if o.Backend == "" {
		o.Backend = DefaultBackend
	}
	if o.ServiceName == "" {
		o.ServiceName = DefaultServiceName
	}
	if o.PassphraseEnv == "" {
		o.PassphraseEnv = DefaultPassphraseEnv
	}
	bt, ok := backendTypes[o.Backend]
	if !ok {
		return nil, fmt.Errorf("open keyring: unknown backend %q (one of %s)", o.Backend, strings.Join(Backends, ", "))
	}
	cfg := keyring.Config{
		// Explicit: AvailableBackends' order differs between machines.
		AllowedBackends:         []keyring.BackendType{bt},
		ServiceName:             o.ServiceName,
		KeyCtlScope:             "user",
		KWalletAppID:            o.ServiceName,
		KWalletFolder:           o.ServiceName,
		LibSecretCollectionName: o.ServiceName,
		PassPrefix:              o.ServiceName,
		WinCredPrefix:           o.ServiceName,
	}
	k := &Keyring{backend: o.Backend, verified: bt != keyring.FileBackend}
	if bt == keyring.FileBackend {
		dir, err := fileDir(o.FileDir)
		if err != nil {
			return nil, fmt.Errorf("open keyring: %w", err)
		}
		pass, err := passphrase(o)
		if err != nil {
			return nil, fmt.Errorf("open keyring: %w", err)
		}
		cfg.FileDir = dir
		// Never the terminal prompt: a daemon has no TTY.
		cfg.FilePasswordFunc = keyring.FixedStringPrompt(pass)
		k.hint = fmt.Sprintf("it does not decrypt the items in %s; check %s or keyring.passphrase_file", dir, o.PassphraseEnv)
	}
	ring, err := keyring.Open(cfg)
	if err != nil {
		if errors.Is(err, keyring.ErrNoAvailImpl) {
			return nil, fmt.Errorf("open keyring: backend %q is not available on this system", o.Backend)
		}
		return nil, fmt.Errorf("open keyring: backend %q: %w", o.Backend, err)
	}
	k.ring = ring
	if err := k.verify(); err != nil {
		return nil, fmt.Errorf("open keyring: %w", err)
	}
	return k, nil
}

// fileDir makes the file keyring's directory absolute and creates it.
func fileDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("the file backend needs a directory (keyring.file_dir)")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve keyring directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", fmt.Errorf("create keyring directory: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("keyring directory: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("keyring directory %s is not a directory", abs)
	}
	return abs, nil
}

// consumed holds the passphrases read from (and removed from) the
// environment, by variable name, for a later Open in the same process.
var consumed = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

// fromEnv reads the passphrase variable once and removes it from the
// process environment. A variable that is present, even empty, replaces
// what an earlier Open read; an absent one leaves it.
func fromEnv(name string) string {
	consumed.Lock()
	defer consumed.Unlock()
	if p, ok := os.LookupEnv(name); ok {
		_ = os.Unsetenv(name)
		if p == "" {
			delete(consumed.m, name)
		} else {
			consumed.m[name] = p
		}
	}
	return consumed.m[name]
}

// passphrase returns the file keyring's passphrase from the environment
// variable or else the file. Its value never enters an error.
func passphrase(o Options) (string, error) {
	if p := fromEnv(o.PassphraseEnv); p != "" {
		return p, nil
	}
	if o.PassphraseFile != "" {
		warnReadable(o.PassphraseFile, o.Logger)
		p, err := readPassphraseFile(o.PassphraseFile)
		if err != nil {
			return "", err
		}
		if p != "" {
			return p, nil
		}
		return "", fmt.Errorf("%w: %s is empty and passphrase file %s is empty", ErrNoPassphrase, o.PassphraseEnv, o.PassphraseFile)
	}
	return "", fmt.Errorf("%w: set the environment variable %s or keyring.passphrase_file", ErrNoPassphrase, o.PassphraseEnv)
}

// warnReadable warns when the passphrase file can be read by its group or
// by everyone: it should be mode 0600 (or 0400), owned by the service user.
func warnReadable(path string, log *slog.Logger) {
	st, err := os.Stat(path)
	if err != nil || log == nil {
		return // the read that follows reports a missing file
	}
	if mode := st.Mode().Perm(); mode&0o044 != 0 {
		log.Warn("keyring passphrase file is readable by other users; chmod 600 it",
			"file", path, "mode", fmt.Sprintf("%04o", mode))
	}
}

func readPassphraseFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read keyring passphrase file: %w", err)
	}
	defer f.Close()
	const max = 4096
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return "", fmt.Errorf("read keyring passphrase file %s: %w", path, err)
	}
	if len(b) > max {
		return "", fmt.Errorf("keyring passphrase file %s is larger than %d bytes", path, max)
	}
	s := string(b)
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

// verify decrypts one existing item, if there is one, to catch a wrong
// passphrase before anything is written with it. Call with mu held or
// before k is shared.
func (k *Keyring) verify() error {
	if k.verified {
		return nil
	}
	keys, err := k.ring.Keys()
	if err != nil {
		return fmt.Errorf("list keyring: %w", err)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if !NamePattern.MatchString(key) {
			continue
		}
		if _, err := k.ring.Get(key); err != nil {
			if isIntegrityError(err) {
				return k.wrongPassphrase()
			}
			// Another failure (a damaged item) says nothing about the
			// passphrase; try the next item.
			continue
		}
		k.verified = true
		return nil
	}
	return nil
}

func (k *Keyring) wrongPassphrase() error {
	if k.hint == "" {
		return ErrWrongPassphrase
	}
	return fmt.Errorf("%w: %s", ErrWrongPassphrase, k.hint)
}

// isIntegrityError reports jose2go's AES key-unwrap failure, which is what a
// wrong passphrase looks like to the file backend.
func isIntegrityError(err error) bool {
	return strings.Contains(err.Error(), "integrity check failed")
}

// Backend returns the backend in use.
func (k *Keyring) Backend() string { return k.backend }

// Get returns the named secret. A missing secret gives an error wrapping
// authpilot.ErrSecretNotFound; a wrong file-keyring passphrase one wrapping
// ErrWrongPassphrase.
func (k *Keyring) Get(name string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", fmt.Errorf("get secret: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	item, err := k.ring.Get(name)
	switch {
	case err == nil:
		k.verified = true
		return string(item.Data), nil
	case errors.Is(err, keyring.ErrKeyNotFound) || errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("secret %q: %w", name, authpilot.ErrSecretNotFound)
	case isIntegrityError(err):
		return "", fmt.Errorf("get secret %q: %w", name, k.wrongPassphrase())
	default:
		return "", fmt.Errorf("get secret %q: %w", name, err)
	}
}

// Set stores value under name, replacing any previous value.
func (k *Keyring) Set(name, value string) error {
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("set secret: %w", err)
	}
	if value == "" {
		return fmt.Errorf("set secret %q: the value is empty", name)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	// Items added since Open may have been written with another
	// passphrase; never mix passphrases in one keyring.
	if err := k.verify(); err != nil {
		return fmt.Errorf("set secret %q: %w", name, err)
	}
	err := k.ring.Set(keyring.Item{
		Key:         name,
		Data:        []byte(value),
		Label:       name,
		Description: "authpilot secret",
	})
	if err != nil {
		if strings.Contains(err.Error(), value) {
			// Belt and braces: a backend's message must not carry the value.
			return fmt.Errorf("set secret %q: the keyring backend refused the write", name)
		}
		return fmt.Errorf("set secret %q: %w", name, err)
	}
	return nil
}

// Delete removes the named secret; a missing one gives an error wrapping
// authpilot.ErrSecretNotFound.
func (k *Keyring) Delete(name string) error {
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("delete secret: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	err := k.ring.Remove(name)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrKeyNotFound) || errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("secret %q: %w", name, authpilot.ErrSecretNotFound)
	default:
		return fmt.Errorf("delete secret %q: %w", name, err)
	}
}

// List returns the names of the stored secrets, sorted. Items whose names
// are not valid secret names (foreign files in the keyring directory) are
// left out.
func (k *Keyring) List() ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	keys, err := k.ring.Keys()
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	names := make([]string, 0, len(keys))
	for _, key := range keys {
		if NamePattern.MatchString(key) {
			names = append(names, key)
		}
	}
	sort.Strings(names)
	return names, nil
}
