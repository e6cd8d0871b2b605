package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/store"
)

// cookieName is the session cookie's name.
const cookieName = "authpilot_session"

// Lockout is the sign-in back-off: after After failures in a row an
// account is locked for Base, doubling with each further failure up to
// Max. A locked account refuses even the right password until then.
type Lockout struct {
	After int
	Base  time.Duration
	Max   time.Duration
}

// DefaultLockout locks after 5 failures for 1 minute, then 2, 4, … up to
// an hour.
var DefaultLockout = Lockout{After: 5, Base: time.Minute, Max: time.Hour}

// until is when an account with failures in a row may try again (zero:
// at once).
func (l Lockout) until(now time.Time, failures int) time.Time {
	if failures < l.After {
		return time.Time{}
	}
	d := l.Base
	for i := l.After; i < failures && d < l.Max; i++ {
		d *= 2
	}
	return now.Add(min(d, l.Max))
}

// PasswordCost is the bcrypt cost of new password hashes.
var PasswordCost = bcrypt.DefaultCost

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 12

// HashPassword returns the bcrypt hash of a password of at least
// MinPasswordLen characters (and at most bcrypt's 72 bytes).
func HashPassword(pw string) (string, error) {
	if len(pw) < MinPasswordLen {
		return "", errors.New("password: must be at least 12 characters")
	}
	if len(pw) > 72 {
		return "", errors.New("password: must be at most 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), PasswordCost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// dummyHash is compared against when the account does not exist, so a
// wrong name takes as long as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not-a-real-password"), bcrypt.DefaultCost)

// NewToken returns a random 256-bit token, URL-safe.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

type ctxKey int

const (
	userKey ctxKey = iota
	sessionKey
)

// UserOf returns the signed-in person of r.
func UserOf(r *http.Request) (store.User, bool) {
	u, ok := r.Context().Value(userKey).(store.User)
	return u, ok
}

// Actor is how a person is named in events and the access log.
func Actor(u store.User) string { return "user:" + u.Name }

// clientAddr is where a request came from (its peer's address).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// sessions puts the signed-in person (if any) into the request: a session
// idle longer than the idle timeout, or of a disabled account, is ended.
func (s *Site) sessions(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieName)
		if err != nil || c.Value == "" || strings.HasPrefix(r.URL.Path, "/static/") {
			h.ServeHTTP(w, r)
			return
		}
		id := store.HashToken(c.Value)
		sess, err := s.people.Session(r.Context(), id)
		if err != nil {
			if !errors.Is(err, authpilot.ErrNotFound) {
				s.log.Error("read session failed", "err", err)
			}
			s.clearCookie(w)
			h.ServeHTTP(w, r)
			return
		}
		now := s.now()
		if now.Sub(sess.LastSeen) > s.idle {
			_ = s.people.DeleteSession(r.Context(), id)
			s.clearCookie(w)
			r = r.WithContext(context.WithValue(r.Context(), sessionKey, "expired"))
			h.ServeHTTP(w, r)
			return
		}
		u, err := s.people.User(r.Context(), sess.User)
		if err != nil || u.Disabled {
			_ = s.people.DeleteSession(r.Context(), id)
			s.clearCookie(w)
			h.ServeHTTP(w, r)
			return
		}
		// Touch at most every few seconds: a page's assets do not each
		// write.
		if now.Sub(sess.LastSeen) > 5*time.Second {
			if err := s.people.TouchSession(r.Context(), id, now); err != nil {
				s.log.Warn("touch session failed", "err", err)
			}
		}
		ctx := context.WithValue(r.Context(), userKey, u)
		ctx = context.WithValue(ctx, sessionKey, id)
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// need lets signed-in people with at least role through; others are sent
// to sign in (a page) or refused with 403.
func (s *Site) need(role store.Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := UserOf(r)
		if !ok {
			if r.Method != http.MethodGet {
				s.Fail(w, r, http.StatusUnauthorized, "Sign in first.")
				return
			}
			q := url.Values{"next": {r.URL.RequestURI()}}
			if r.Context().Value(sessionKey) == "expired" {
				q.Set("expired", "1")
			}
			http.Redirect(w, r, "/signin?"+q.Encode(), http.StatusSeeOther)
			return
		}
		if !u.Role.AtLeast(role) {
			s.Fail(w, r, http.StatusForbidden, "Your role ("+string(u.Role)+") cannot do this; ask an admin.")
			return
		}
		h(w, r)
	})
}

func (s *Site) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: cookieName, Value: value, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge}
}

func (s *Site) clearCookie(w http.ResponseWriter) { http.SetCookie(w, s.cookie("", -1)) }

type signinData struct {
	Name, Next, Message string
	Expired             bool
}

func (s *Site) signinPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.Render(w, r, http.StatusOK, s.page("signin"), signinData{Next: localPath(q.Get("next")), Expired: q.Get("expired") != ""})
}

// localPath is p if it is a path on this site, else "/".
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}

// accountLocks is a lock per account name, held by one sign-in attempt
// at a time; an entry lives while someone holds or waits for it.
type accountLocks struct {
	mu sync.Mutex
	m  map[string]*accountLock
}

type accountLock struct {
	sync.Mutex
	users int
}

// lock locks name's entry and returns its unlock.
func (l *accountLocks) lock(name string) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*accountLock{}
	}
	e := l.m[name]
	if e == nil {
		e = &accountLock{}
		l.m[name] = e
	}
	e.users++
	l.mu.Unlock()
	e.Lock()
	return func() {
		e.Unlock()
		l.mu.Lock()
		if e.users--; e.users == 0 {
			delete(l.m, name)
		}
		l.mu.Unlock()
	}
}

// signinHeld, when set (tests), is called by a sign-in attempt holding
// its account's lock.
var signinHeld atomic.Pointer[func(name string)]

// errSignin is the one answer to a wrong name or a wrong password.
const errSignin = "Wrong name or password."

func (s *Site) signin(w http.ResponseWriter, r *http.Request) {
	name, pw := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("password")
	data := signinData{Name: name, Next: localPath(r.PostFormValue("next"))}
	fail := func(code int, msg string) {
		data.Message = msg
		s.Render(w, r, code, s.page("signin"), data)
	}
	defer s.signins.lock(name)()
	if held := signinHeld.Load(); held != nil {
		(*held)(name)
	}
	now := s.now()
	u, err := s.people.User(r.Context(), name)
	if err != nil {
		if !errors.Is(err, authpilot.ErrNotFound) {
			s.log.Error("read user failed", "err", err)
			fail(http.StatusInternalServerError, "Could not sign in; try again.")
			return
		}
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(pw))
		s.log.Info("sign-in refused", "reason", "unknown name", "from", clientAddr(r))
		fail(http.StatusUnauthorized, errSignin)
		return
	}
	if now.Before(u.LockedUntil) {
		s.log.Info("sign-in refused", "user", u.Name, "reason", "locked", "from", clientAddr(r))
		fail(http.StatusTooManyRequests, "Too many failed sign-ins: this account is locked until "+
			u.LockedUntil.In(s.cfg.Location()).Format("15:04 MST")+". An admin can reset the password.")
		return
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(pw)) != nil || u.Disabled || !s.secondFactor(r.Context(), u, r.PostFormValue("code"), now) {
		failures := u.Failures + 1
		until := s.lockout.until(now, failures)
		if err := s.people.SetLogin(r.Context(), u.Name, failures, until); err != nil {
			s.log.Error("record sign-in failure failed", "err", err)
		}
		s.log.Info("sign-in refused", "user", u.Name, "reason", "wrong password or disabled", "failures", failures, "from", clientAddr(r))
		fail(http.StatusUnauthorized, errSignin)
		return
	}
	if u.Failures != 0 || !u.LockedUntil.IsZero() {
		if err := s.people.SetLogin(r.Context(), u.Name, 0, time.Time{}); err != nil {
			s.log.Error("record sign-in failed", "err", err)
		}
	}
	tok := NewToken()
	if err := s.people.CreateSession(r.Context(), store.HashToken(tok), store.Session{User: u.Name, CreatedAt: now, LastSeen: now, Remote: clientAddr(r)}); err != nil {
		s.log.Error("create session failed", "err", err)
		fail(http.StatusInternalServerError, "Could not sign in; try again.")
		return
	}
	s.log.Info("signed in", "user", u.Name, "from", clientAddr(r))
	http.SetCookie(w, s.cookie(tok, 0))
	http.Redirect(w, r, data.Next, http.StatusSeeOther)
}

// totpOpts are the authenticator apps' settings: 6 digits every 30
// seconds, SHA-1.
var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// secondFactor reports whether code is the person's current TOTP code
// (one step either side, for a slow clock) and was not used before, or
// they use none. A code is good once: the step it belongs to, and any
// earlier one, is refused after a sign-in with it (a code seen over a
// shoulder or in a proxy log cannot be replayed in its window); the
// step is kept in the store, so a restart does not forget it. A missing
// seed refuses (and is logged).
func (s *Site) secondFactor(ctx context.Context, u store.User, code string, now time.Time) bool {
	if !u.TOTP {
		return true
	}
	seed, err := s.secrets.Get(store.TOTPSecretName(u.Name))
	if err != nil {
		s.log.Error("the TOTP seed of a person is missing; set it again with `authpilot user totp`", "user", u.Name, "err", err)
		return false
	}
	code = strings.TrimSpace(code)
	step := now.Unix() / int64(totpOpts.Period)
	for d := -int64(totpOpts.Skew); d <= int64(totpOpts.Skew); d++ {
		t := time.Unix((step+d)*int64(totpOpts.Period), 0)
		ok, err := totp.ValidateCustom(code, seed, t, totp.ValidateOpts{Period: totpOpts.Period, Digits: totpOpts.Digits, Algorithm: totpOpts.Algorithm})
		if err != nil || !ok {
			continue
		}
		fresh, err := s.people.UseTOTPStep(ctx, u.Name, step+d)
		if err != nil {
			s.log.Error("sign-in refused: the used TOTP step cannot be recorded", "user", u.Name, "err", err)
			return false
		}
		if !fresh {
			s.log.Info("sign-in refused", "user", u.Name, "reason", "TOTP code already used")
		}
		return fresh
	}
	return false
}

func (s *Site) signout(w http.ResponseWriter, r *http.Request) {
	if id, ok := r.Context().Value(sessionKey).(string); ok {
		if err := s.people.DeleteSession(r.Context(), id); err != nil {
			s.log.Error("delete session failed", "err", err)
		}
	}
	s.clearCookie(w)
	http.Redirect(w, r, "/signin?flash=Signed+out.", http.StatusSeeOther)
}
