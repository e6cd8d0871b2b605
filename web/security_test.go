package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/authpilot/authpilot/store"
	"github.com/authpilot/authpilot/web"
)

// TestSecurity is issue 12's acceptance 1 (second part), through plain
// HTTP: a viewer cannot act (403, the case unchanged); a cross-origin form
// post is refused even with a coordinator's session; an idle session is
// signed out on the injected clock; a locked account stays locked for its
// back-off, even with the right password.
func TestSecurity(t *testing.T) {
	w := newWorld(t)
	id := w.intake(t, "SHPSEC001", "Sekura")
	w.addUser(t, "vera", store.RoleViewer)
	w.addUser(t, "casey", store.RoleCoordinator)
	note := func(c *http.Client, header ...string) (int, string) {
		v := w.get(t, id).Version
		return w.post(t, c, "/cases/"+id+"/actions/note", url.Values{"version": {strconv.Itoa(v)}, "text": {"called the payer"}}, header...)
	}

	t.Run("viewer cannot act", func(t *testing.T) {
		c, code, _ := w.httpSignIn(t, "vera", password)
		if code != http.StatusSeeOther {
			t.Fatalf("viewer sign-in: %d", code)
		}
		before := w.get(t, id).Version
		if code, _ := w.getPage(t, c, "/cases/"+id); code != http.StatusOK {
			t.Fatalf("viewer reading the case: %d", code)
		}
		if code, body := note(c); code != http.StatusForbidden {
			t.Errorf("viewer's note: %d, want 403\n%s", code, body)
		}
		if after := w.get(t, id).Version; after != before {
			t.Errorf("the viewer's note changed the case: version %d → %d", before, after)
		}
	})

	t.Run("cross-origin post refused", func(t *testing.T) {
		c, _, _ := w.httpSignIn(t, "casey", password)
		before := w.get(t, id).Version
		for _, h := range [][]string{
			{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"},
			{"Sec-Fetch-Site", "", "Origin", "https://evil.example"},
		} {
			if code, _ := note(c, h...); code != http.StatusForbidden {
				t.Errorf("cross-origin note with %v: %d, want 403", h, code)
			}
		}
		if after := w.get(t, id).Version; after != before {
			t.Errorf("a cross-origin post changed the case: version %d → %d", before, after)
		}
		// The same post from the workspace's own page goes through.
		if code, body := note(c); code != http.StatusSeeOther {
			t.Errorf("same-origin note: %d\n%s", code, body)
		}
	})

	t.Run("idle session signed out", func(t *testing.T) {
		c, _, _ := w.httpSignIn(t, "casey", password)
		w.clock.Advance(14 * time.Minute)
		if code, _ := w.getPage(t, c, "/"); code != http.StatusOK {
			t.Fatalf("after 14 idle minutes: %d, want the worklist", code)
		}
		w.clock.Advance(15*time.Minute + time.Second)
		code, _ := w.getPage(t, c, "/")
		if code != http.StatusSeeOther {
			t.Fatalf("after 15 idle minutes: %d, want a redirect to sign in", code)
		}
		// The session is gone from the store, not only from the cookie.
		w.clock.Advance(-10 * time.Minute)
		if code, _ := w.getPage(t, c, "/"); code != http.StatusSeeOther {
			t.Errorf("the expired session came back: %d", code)
		}
	})

	t.Run("locked account stays locked for its back-off", func(t *testing.T) {
		w.addUser(t, "lou", store.RoleCoordinator)
		for i := 0; i < 3; i++ {
			if _, code, _ := w.httpSignIn(t, "lou", "wrong password "+strconv.Itoa(i)); code != http.StatusUnauthorized {
				t.Fatalf("wrong password %d: %d", i, code)
			}
		}
		_, code, body := w.httpSignIn(t, "lou", password)
		if code != http.StatusTooManyRequests || !strings.Contains(body, "locked") {
			t.Fatalf("right password while locked: %d, want 429 locked", code)
		}
		w.clock.Advance(59 * time.Second)
		if _, code, _ := w.httpSignIn(t, "lou", password); code != http.StatusTooManyRequests {
			t.Fatalf("right password 59 s into the 1-minute lock: %d, want 429", code)
		}
		w.clock.Advance(2 * time.Second)
		if _, code, _ := w.httpSignIn(t, "lou", wrongOnce); code != http.StatusUnauthorized {
			t.Fatalf("wrong password after the lock: %d", code)
		}
		// A fourth failure in a row locks for twice as long.
		u, err := w.st.User(context.Background(), "lou")
		if err != nil {
			t.Fatal(err)
		}
		if got := u.LockedUntil.Sub(w.clock.Now()); got != 2*time.Minute {
			t.Errorf("fourth failure locks for %v, want 2m", got)
		}
		w.clock.Advance(2*time.Minute + time.Second)
		if _, code, _ := w.httpSignIn(t, "lou", password); code != http.StatusSeeOther {
			t.Errorf("right password after the back-off: %d, want signed in", code)
		}
	})
}

const wrongOnce = "not the password at all"

// TestBrowserRefusals drives real Chromium: a page on another origin
// whose form posts a note to a case with the coordinator's session cookie
// is refused (403, the case unchanged) — the cookie is SameSite=Lax but
// both origins are on 127.0.0.1, the same site, so the cross-origin
// check is what stops it; a viewer sees no action forms and the access
// log is refused to everyone but an admin.
func TestBrowserRefusals(t *testing.T) {
	w := newWorld(t)
	id := w.intake(t, "SHPCSRF01", "Forger")
	w.addUser(t, "casey", store.RoleCoordinator)
	w.addUser(t, "vera", store.RoleViewer)
	w.addUser(t, "pat", store.RoleAdmin)
	before := w.get(t, id).Version
	evil := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(rw, `<form method="post" action="%s/cases/%s/actions/note"><input type="hidden" name="version" value="%d">
<input type="hidden" name="text" value="forged"><button type="submit" id="go">win a prize</button></form>`, w.base, id, before)
	}))
	defer evil.Close()

	p := w.signIn(t, "casey")
	p.MustNavigate(evil.URL).MustWaitLoad()
	submit(p, "#go")
	if txt := p.MustElement("main").MustText(); !strings.Contains(txt, "sent from another site and was refused") {
		t.Errorf("the forged post answered:\n%s", txt)
	}
	if after := w.get(t, id).Version; after != before {
		t.Errorf("the forged post changed the case: version %d → %d", before, after)
	}
	p.MustNavigate(w.base + "/admin/access").MustWaitLoad()
	if txt := p.MustElement("main").MustText(); !strings.Contains(txt, "cannot do this") {
		t.Errorf("a coordinator opened the access log:\n%s", txt)
	}

	v := w.signIn(t, "vera")
	v.MustNavigate(w.base + "/cases/" + id).MustWaitLoad()
	if has, _, _ := v.Has("#form-respond"); has {
		t.Errorf("a viewer is shown the action forms")
	}
	a := w.signIn(t, "pat")
	a.MustNavigate(w.base + "/admin/access").MustWaitLoad()
	if txt := a.MustElement("table.access").MustText(); !strings.Contains(txt, "user:vera") || !strings.Contains(txt, "case") {
		t.Errorf("the admin's access log does not show vera's read of the case:\n%s", txt)
	}
}

// tessWithTOTP is a world whose coordinator tess signs in with a second
// factor: her authenticator's code (tessCode).
func tessWithTOTP(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	w.addUser(t, "tess", store.RoleCoordinator)
	if err := w.st.SetTOTP(context.Background(), "tess", true); err != nil {
		t.Fatal(err)
	}
	return w
}

// tessCode is tess's authenticator's code at at.
func tessCode(t *testing.T, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(tessSeed, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signInTess signs tess in with her password and code through a fresh
// client and returns the status.
func (w *world) signInTess(t *testing.T, code string) int {
	t.Helper()
	got, _ := w.post(t, client(t), "/signin", url.Values{"name": {"tess"}, "password": {password}, "code": {code}})
	return got
}

// TestSecondFactor: an account with TOTP on signs in only with its
// authenticator's current code; a missing or wrong code is a failed
// sign-in like a wrong password.
func TestSecondFactor(t *testing.T) {
	w := tessWithTOTP(t)
	code := tessCode(t, w.clock.Now())
	for _, tt := range []struct {
		name, code string
		want       int
	}{
		{"no code", "", http.StatusUnauthorized},
		{"wrong code", "000000", http.StatusUnauthorized},
		{"current code", code, http.StatusSeeOther},
	} {
		if got := w.signInTess(t, tt.code); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	w.clock.Advance(5 * time.Minute)
	if got := w.signInTess(t, code); got != http.StatusUnauthorized {
		t.Errorf("a code from 5 minutes ago: %d, want 401", got)
	}
}

// TestTOTPReplay: a TOTP code signs in once. The same code again in its
// window — at once, or 30 seconds later while the one-step skew still
// accepts it — is a failed sign-in; the next step's code works, and an
// older step's code is refused after it. After a restart (a new
// workspace on the same store) the last used code is still refused.
func TestTOTPReplay(t *testing.T) {
	w := tessWithTOTP(t)
	start := w.clock.Now()
	first, second := tessCode(t, start), tessCode(t, start.Add(30*time.Second))
	for _, tt := range []struct {
		name    string
		advance time.Duration
		code    string
		want    int
	}{
		{"the current code", 0, first, http.StatusSeeOther},
		{"the same code again", 0, first, http.StatusUnauthorized},
		{"the same code in the next step (skew)", 30 * time.Second, first, http.StatusUnauthorized},
		{"the next step's code", 0, second, http.StatusSeeOther},
		{"the earlier step's code after it", 0, tessCode(t, start.Add(-30*time.Second)), http.StatusUnauthorized},
	} {
		w.clock.Advance(tt.advance)
		if got := w.signInTess(t, tt.code); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	// A restart: a new workspace on the same store (nothing kept in
	// memory) still refuses the code used last, and takes the next one.
	h, err := web.Workspace(web.Options{})(w.a)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	restarted := *w
	restarted.base = srv.URL
	for _, tt := range []struct {
		name string
		code string
		want int
	}{
		{"the last used code after a restart", second, http.StatusUnauthorized},
		{"the following step's code after a restart", tessCode(t, start.Add(60*time.Second)), http.StatusSeeOther},
	} {
		w.clock.Advance(30 * time.Second)
		if got := restarted.signInTess(t, tt.code); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestSigninPerAccountLock: a sign-in holding its account's lock does not
// hold up another account's; concurrent wrong passwords for one account
// are still counted one at a time, so exactly the lockout's three fail
// and the rest find it locked.
func TestSigninPerAccountLock(t *testing.T) {
	w := newWorld(t)
	w.addUser(t, "alice", store.RoleCoordinator)
	w.addUser(t, "bob", store.RoleCoordinator)
	w.addUser(t, "carol", store.RoleCoordinator)
	inside, release := make(chan struct{}), make(chan struct{})
	web.SetSigninHeld(func(name string) {
		if name == "alice" {
			inside <- struct{}{}
			<-release
		}
	})
	t.Cleanup(func() { web.SetSigninHeld(nil) })
	alice := make(chan int, 1)
	go func() {
		_, code, _ := w.httpSignIn(t, "alice", password)
		alice <- code
	}()
	<-inside
	bob := make(chan int, 1)
	go func() {
		_, code, _ := w.httpSignIn(t, "bob", password)
		bob <- code
	}()
	select {
	case code := <-bob:
		if code != http.StatusSeeOther {
			t.Errorf("bob's sign-in: %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("bob's sign-in waited for alice's")
	}
	close(release)
	if code := <-alice; code != http.StatusSeeOther {
		t.Errorf("alice's sign-in: %d", code)
	}
	web.SetSigninHeld(nil)

	const n = 8
	codes := make(chan int, n)
	for range n {
		go func() {
			_, code, _ := w.httpSignIn(t, "carol", "wrong password guess")
			codes <- code
		}()
	}
	got := map[int]int{}
	for range n {
		got[<-codes]++
	}
	if got[http.StatusUnauthorized] != 3 || got[http.StatusTooManyRequests] != n-3 {
		t.Errorf("concurrent wrong passwords: %v, want 3 refused and %d locked", got, n-3)
	}
	u, err := w.st.User(context.Background(), "carol")
	if err != nil || u.Failures != 3 {
		t.Errorf("carol's failures %d (%v), want 3", u.Failures, err)
	}
}
