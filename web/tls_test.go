package web_test

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authpilot/authpilot/internal/testhttp"
	"github.com/authpilot/authpilot/internal/testtls"
	"github.com/authpilot/authpilot/store"
)

// TestTLS: with server.tls the daemon serves the workspace and the API
// over HTTPS only, and the session cookie is Secure.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, pool := testtls.SelfSigned(t, "authpilot test")
	certFile, keyFile := testtls.WritePEM(t, dir, cert)
	w := newWorldWith(t, worldOptions{server: "server: {tls: {cert_file: " + certFile + ", key_file: " + keyFile + "}}\n"})
	if !strings.HasPrefix(w.base, "https://") {
		t.Fatalf("base URL %s", w.base)
	}
	w.addUser(t, "casey", store.RoleCoordinator)
	c := client(t)
	c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	resp, err := c.Do(testhttp.NewRequest(t, "POST", w.base+"/signin", strings.NewReader(url.Values{"name": {"casey"}, "password": {password}}.Encode()),
		"Content-Type", "application/x-www-form-urlencoded"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var secure bool
	for _, ck := range resp.Cookies() {
		if ck.Name == "authpilot_session" {
			secure = ck.Secure && ck.HttpOnly && ck.SameSite == http.SameSiteLaxMode
		}
	}
	if resp.StatusCode != http.StatusSeeOther || !secure {
		t.Errorf("sign-in over TLS: %d, cookies %v: want a Secure, HttpOnly, SameSite=Lax session cookie", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	if code, _ := w.getPage(t, c, "/"); code != http.StatusOK {
		t.Errorf("worklist over TLS: %d", code)
	}
	// Plain HTTP on the same port gets no page.
	plain := strings.Replace(w.base, "https://", "http://", 1)
	if resp, err := http.Get(plain + "/signin"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP served the sign-in page")
		}
	}
}
