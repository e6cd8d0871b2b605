package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/authpilot/authpilot"
)

// Role is what a person may do in the workspace and through the API.
type Role string

// The roles, from most to least able: an admin manages people and reads
// the access log; a coordinator acts on cases; a viewer only reads.
const (
	RoleAdmin       Role = "admin"
	RoleCoordinator Role = "coordinator"
	RoleViewer      Role = "viewer"
)

// Roles lists the roles, most able first.
var Roles = []Role{RoleAdmin, RoleCoordinator, RoleViewer}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleCoordinator || r == RoleViewer }

// AtLeast reports whether r may do what least may.
func (r Role) AtLeast(least Role) bool { return rank(r) >= rank(least) }

func rank(r Role) int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleCoordinator:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// User is a person's account. PasswordHash is a bcrypt hash.
type User struct {
	Name         string
	Role         Role
	PasswordHash string
	Disabled     bool
	// Failures counts sign-in failures since the last success;
	// LockedUntil is when the account may try again (zero: now).
	Failures    int
	LockedUntil time.Time
	CreatedAt   time.Time
	// TOTP: sign-in also asks for a code from the person's authenticator
	// (its seed is the keyring secret TOTPSecretName(Name)).
	TOTP bool
}

// TOTPSecretName is the keyring secret holding a person's TOTP seed.
func TOTPSecretName(user string) string { return "user-totp-" + user }

// Session is a signed-in person's server-side session, named by the
// SHA-256 of its cookie value.
type Session struct {
	User      string
	CreatedAt time.Time
	LastSeen  time.Time
	Remote    string
}

// HashToken is how session IDs and API tokens are stored: hex SHA-256.
// They are long random values, so a fast hash is enough.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// AddUser stores a new account; a taken name is authpilot.ErrConflict.
func (s *Store) AddUser(ctx context.Context, u User) error {
	if !u.Role.Valid() || u.Name == "" || u.PasswordHash == "" {
		return errors.New("add user: name, role and password hash are required")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE name = ?`, u.Name).Scan(&one)
		if err == nil {
			return fmt.Errorf("user %q exists: %w", u.Name, authpilot.ErrConflict)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)`,
			u.Name, string(u.Role), u.PasswordHash, fmtTime(s.clock()))
		return err
	})
	if err != nil {
		return fmt.Errorf("add user: %w", err)
	}
	return nil
}

var userColumns = userColumnsOf("users")

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var (
		u              User
		role, lu, crAt string
	)
	if err := sc.Scan(&u.Name, &role, &u.PasswordHash, &u.Disabled, &u.Failures, &lu, &crAt, &u.TOTP); err != nil {
		return User{}, err
	}
	u.Role = Role(role)
	var err error
	if lu != "" {
		if u.LockedUntil, err = parseTime(lu); err != nil {
			return User{}, err
		}
	}
	u.CreatedAt, err = parseTime(crAt)
	return u, err
}

// User returns the account name; authpilot.ErrNotFound when there is none.
func (s *Store) User(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %q: %w", name, authpilot.ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("read user: %w", err)
	}
	return u, nil
}

// Users lists the accounts by name.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	us, err := queryAll(ctx, s.r, func(r *sql.Rows) (User, error) { return scanUser(r) },
		`SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// updateUser runs one statement on the account name and fails with
// authpilot.ErrNotFound when there is no such account.
func (s *Store) updateUser(ctx context.Context, what, name string, fn func(tx *sql.Tx) (sql.Result, error)) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := fn(tx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("user %q: %w", name, authpilot.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// SetUserDisabled disables (or enables) an account; disabling ends its
// sessions and revokes nothing else (its API tokens stop working while
// it is disabled).
func (s *Store) SetUserDisabled(ctx context.Context, name string, disabled bool) error {
	return s.updateUser(ctx, "disable user", name, func(tx *sql.Tx) (sql.Result, error) {
		res, err := tx.ExecContext(ctx, `UPDATE users SET disabled = ? WHERE name = ?`, disabled, name)
		if err == nil && disabled {
			_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_name = ?`, name)
		}
		return res, err
	})
}

// SetTOTP turns the second factor on or off for an account.
func (s *Store) SetTOTP(ctx context.Context, name string, on bool) error {
	return s.updateUser(ctx, "set totp", name, func(tx *sql.Tx) (sql.Result, error) {
		return tx.ExecContext(ctx, `UPDATE users SET totp = ? WHERE name = ?`, on, name)
	})
}

// UseTOTPStep records that name signed in with the TOTP code of step (a
// time step of the authenticator's period since the epoch): it reports
// false, and records nothing, when that step or a later one was used
// before, so a code is good once even across restarts.
func (s *Store) UseTOTPStep(ctx context.Context, name string, step int64) (bool, error) {
	var fresh bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET totp_step = ? WHERE name = ? AND totp_step < ?`, step, name, step)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		fresh = n == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("use totp step: %w", err)
	}
	return fresh, nil
}

// SetPassword replaces an account's password hash, clears its lockout
// and ends its sessions.
func (s *Store) SetPassword(ctx context.Context, name, hash string) error {
	return s.updateUser(ctx, "set password", name, func(tx *sql.Tx) (sql.Result, error) {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, failures = 0, locked_until = '' WHERE name = ?`, hash, name)
		if err == nil {
			_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_name = ?`, name)
		}
		return res, err
	})
}

// SetLogin records the outcome of a sign-in: the failures since the last
// success and when the account may try again (zero: at once).
func (s *Store) SetLogin(ctx context.Context, name string, failures int, lockedUntil time.Time) error {
	lu := ""
	if !lockedUntil.IsZero() {
		lu = fmtTime(lockedUntil)
	}
	return s.updateUser(ctx, "record sign-in", name, func(tx *sql.Tx) (sql.Result, error) {
		return tx.ExecContext(ctx, `UPDATE users SET failures = ?, locked_until = ? WHERE name = ?`, failures, lu, name)
	})
}

// CreateSession stores a session for user, named by the hash of its ID.
func (s *Store) CreateSession(ctx context.Context, idHash string, sess Session) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_name, created_at, last_seen, remote) VALUES (?, ?, ?, ?, ?)`,
			idHash, sess.User, fmtTime(sess.CreatedAt), fmtTime(sess.LastSeen), sess.Remote)
		return err
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session returns the session named by idHash; authpilot.ErrNotFound
// when there is none.
func (s *Store) Session(ctx context.Context, idHash string) (Session, error) {
	var (
		sess     Session
		cr, seen string
	)
	err := s.r.QueryRowContext(ctx, `SELECT user_name, created_at, last_seen, remote FROM sessions WHERE id_hash = ?`, idHash).
		Scan(&sess.User, &cr, &seen, &sess.Remote)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("session: %w", authpilot.ErrNotFound)
	}
	if err != nil {
		return Session{}, fmt.Errorf("read session: %w", err)
	}
	if sess.CreatedAt, err = parseTime(cr); err == nil {
		sess.LastSeen, err = parseTime(seen)
	}
	return sess, err
}

// TouchSession records activity on a session at t.
func (s *Store) TouchSession(ctx context.Context, idHash string, t time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE id_hash = ?`, fmtTime(t), idHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession ends a session (sign-out, idle time-out).
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// AddToken stores an API token of user under the hash of the token.
func (s *Store) AddToken(ctx context.Context, tokenHash, user, label string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (token_hash, user_name, label, created_at) VALUES (?, ?, ?, ?)`,
			tokenHash, user, label, fmtTime(s.clock()))
		return err
	})
	if err != nil {
		return fmt.Errorf("add token: %w", err)
	}
	return nil
}

// TokenUser returns the enabled account whose API token hashes to
// tokenHash; authpilot.ErrNotFound when there is none.
func (s *Store) TokenUser(ctx context.Context, tokenHash string) (User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumnsOf("u")+` FROM api_tokens t JOIN users u ON u.name = t.user_name
		WHERE t.token_hash = ? AND u.disabled = 0`, tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("token: %w", authpilot.ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("read token: %w", err)
	}
	return u, nil
}

func userColumnsOf(alias string) string {
	return alias + ".name, " + alias + ".role, " + alias + ".password_hash, " + alias + ".disabled, " + alias + ".failures, " +
		alias + ".locked_until, " + alias + ".created_at, " + alias + ".totp"
}

// Assign assigns a case to user (by is who did it), or unassigns it when
// user is empty. An unknown case is authpilot.ErrNotFound.
func (s *Store) Assign(ctx context.Context, caseID, user, by string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := caseMustExist(ctx, tx, caseID); err != nil {
			return err
		}
		if user == "" {
			_, err := tx.ExecContext(ctx, `DELETE FROM assignments WHERE case_id = ?`, caseID)
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO assignments (case_id, user_name, by_name, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (case_id) DO UPDATE SET user_name = excluded.user_name, by_name = excluded.by_name, at = excluded.at`,
			caseID, user, by, fmtTime(s.clock()))
		return err
	})
	if err != nil {
		return fmt.Errorf("assign case %s: %w", caseID, err)
	}
	return nil
}

// Assignee is the person a case is assigned to ("" for no one).
func (s *Store) Assignee(ctx context.Context, caseID string) (string, error) {
	var u string
	err := s.r.QueryRowContext(ctx, `SELECT user_name FROM assignments WHERE case_id = ?`, caseID).Scan(&u)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read assignee: %w", err)
	}
	return u, nil
}
