package email_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/testtls"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/notify/email"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

// server is a real SMTP server on loopback (emersion/go-smtp): it offers
// STARTTLS or speaks implicit TLS with a certificate made for the test,
// takes AUTH PLAIN for one user, and answers RCPT with the code the test
// sets.
type server struct {
	addr string
	port int
	mu   sync.Mutex
	msgs []received
	// rcpt, when set, is the answer to every RCPT TO.
	rcpt *smtp.SMTPError
	// auths counts AUTH attempts.
	auths int
}

type received struct {
	from string
	to   []string
	data string
	auth string // the user who authenticated
}

const (
	user     = "alerts@lakeside.example"
	password = "s3cret-SMTP-PASSWORD"
)

func newServer(t *testing.T, mode string, cert tls.Certificate) *server {
	t.Helper()
	s := &server{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "mail.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case email.TLSImplicit:
		l = tls.NewListener(l, tlsCfg)
	case email.TLSStartTLS:
		srv.TLSConfig = tlsCfg
	case email.TLSNone:
		srv.AllowInsecureAuth = true
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.addr = l.Addr().String()
	s.port = l.Addr().(*net.TCPAddr).Port
	return s
}

func (s *server) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

type session struct {
	s    *server
	cur  received
	user string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, pass string) error {
		ss.s.mu.Lock()
		ss.s.auths++
		ss.s.mu.Unlock()
		if username != user || pass != password {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.cur = received{from: from, auth: ss.user}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	answer := ss.s.rcpt
	ss.s.mu.Unlock()
	if answer != nil {
		return answer
	}
	ss.cur.to = append(ss.cur.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.cur.data = decode(string(b))
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, ss.cur)
	ss.s.mu.Unlock()
	return nil
}

// decode returns a message's headers and its body, quoted-printable
// decoded, as the recipient reads them.
func decode(raw string) string {
	m, err := netmail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		return raw
	}
	var body io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(m.Body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return raw
	}
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	return head + "\n\n" + string(b)
}

func (ss *session) Reset()        { ss.cur = received{} }
func (ss *session) Logout() error { return nil }

// testCert makes a self-signed certificate for 127.0.0.1 and the pool
// that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	return testtls.SelfSigned(t, "mail.test")
}

var (
	start   = time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	eastern = func() *time.Location { l, _ := time.LoadLocation("America/New_York"); return l }()
	seeded  = notifytest.Case()
	phi     = notifytest.CasePHI()
)

func alert() authpilot.Alert { return notifytest.Alert(authpilot.SeverityWarning, start) }

func sinkYAML(mode string, port int, extra string) string {
	return "name: staff\ntype: email\nhost: 127.0.0.1\nport: " + itoa(port) + "\ntls: " + mode +
		"\nfrom: authpilot@lakeside.example\nto: [coordinators@lakeside.example, lead@lakeside.example]\n" + extra
}

func itoa(i int) string { return big.NewInt(int64(i)).String() }

func newNotifier(t *testing.T, src string, pool *x509.CertPool, secrets notifytest.Secrets) notify.Notifier {
	t.Helper()
	s := notifytest.Sink(t, src)
	n, err := email.New(s, *s.Options.(*email.Config), secrets, email.Options{
		Clock: clocktest.New(start), Location: eastern, TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDeliver sends one alert over STARTTLS and implicit TLS, with and
// without authentication, to a real SMTP server, and reads what arrived.
func TestDeliver(t *testing.T) {
	cert, pool := testCert(t)
	secrets := notifytest.Secrets{"smtp-password": password}
	auth := "username: " + user + "\npassword_secret: smtp-password\n"
	tests := []struct {
		name, mode, extra string
		wantUser          string
	}{
		{name: "starttls with auth", mode: email.TLSStartTLS, extra: auth, wantUser: user},
		{name: "implicit tls with auth", mode: email.TLSImplicit, extra: auth, wantUser: user},
		{name: "starttls without auth", mode: email.TLSStartTLS},
		{name: "plain to a loopback relay", mode: email.TLSNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.mode, cert)
			n := newNotifier(t, sinkYAML(tt.mode, srv.port, tt.extra), pool, secrets)
			// The case is handed over, but the sink has no include_phi:
			// nothing of the patient may be sent.
			retry, _, err := n.Notify(t.Context(), notify.Delivery{Delivery: authpilot.Delivery{Sink: "staff", Alert: alert()}, Case: seeded})
			if err != nil || retry {
				t.Fatalf("Notify = %v, %v", retry, err)
			}
			got := srv.received()
			if len(got) != 1 {
				t.Fatalf("received %d messages", len(got))
			}
			m := got[0]
			if m.from != "authpilot@lakeside.example" || strings.Join(m.to, ",") != "coordinators@lakeside.example,lead@lakeside.example" || m.auth != tt.wantUser {
				t.Errorf("envelope = %q %q (auth %q)", m.from, m.to, m.auth)
			}
			for _, want := range []string{
				"Subject: [authpilot warning] Request denied",
				"Message-ID: <01JALERT000000000000000001.staff@authpilot>",
				"Case:      01JCASE0000000000000000001", "Payer:     acme-health", "Status:    pended → denied",
				"peer-to-peer window closes Tue Nov 24, 12:00 PM EST (in 26h)",
				"What to do: Schedule the peer-to-peer",
			} {
				if !strings.Contains(m.data, want) {
					t.Errorf("message lacks %q:\n%s", want, m.data)
				}
			}
			for _, v := range append(phi, password) {
				if strings.Contains(m.data, v) {
					t.Errorf("message carries %q", v)
				}
			}
		})
	}
}

// TestIncludePHI: a sink with include_phi gets the patient section.
func TestIncludePHI(t *testing.T) {
	cert, pool := testCert(t)
	srv := newServer(t, email.TLSStartTLS, cert)
	n := newNotifier(t, sinkYAML(email.TLSStartTLS, srv.port, "include_phi: true\n"), pool, nil)
	if _, _, err := n.Notify(t.Context(), notify.Delivery{Delivery: authpilot.Delivery{Sink: "staff", Alert: alert()}, Case: seeded}); err != nil {
		t.Fatal(err)
	}
	data := srv.received()[0].data
	for _, want := range []string{"Patient:   Quillfeather, Marguerite", "DOB:       1961-07-14", "Member ID: ZQX998877", "Codes:     22630"} {
		if !strings.Contains(data, want) {
			t.Errorf("message lacks %q:\n%s", want, data)
		}
	}
}

// TestFailures: temporary SMTP answers and network failures are retried,
// permanent ones are not; no error carries the password.
func TestFailures(t *testing.T) {
	cert, pool := testCert(t)
	secrets := notifytest.Secrets{"smtp-password": password, "wrong-password": "not-" + password}
	tests := []struct {
		name      string
		rcpt      *smtp.SMTPError
		extra     string
		mode      string
		noServer  bool
		wantRetry bool
		want      string
	}{
		{name: "greylisted (451)", rcpt: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted, try again later"},
			wantRetry: true, want: "451"},
		{name: "mailbox full (452)", rcpt: &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"},
			wantRetry: true, want: "452"},
		{name: "unknown recipient (550)", rcpt: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
			wantRetry: false, want: "550"},
		{name: "wrong password (535)", extra: "username: " + user + "\npassword_secret: wrong-password\n", wantRetry: false, want: "535"},
		{name: "server down", noServer: true, wantRetry: true, want: "dial"},
		{name: "implicit tls against a starttls server", mode: email.TLSImplicit, wantRetry: true, want: "dial"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, email.TLSStartTLS, cert)
			srv.rcpt = tt.rcpt
			port := srv.port
			if tt.noServer {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				port = l.Addr().(*net.TCPAddr).Port
				l.Close()
			}
			mode := cmpOr(tt.mode, email.TLSStartTLS)
			n := newNotifier(t, sinkYAML(mode, port, tt.extra+"timeout: 5s\n"), pool, secrets)
			retry, _, err := n.Notify(t.Context(), notify.Delivery{Delivery: authpilot.Delivery{Sink: "staff", Alert: alert()}})
			if err == nil {
				t.Fatal("Notify succeeded")
			}
			if retry != tt.wantRetry || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Notify = retry %v, %v; want retry %v, an error with %q", retry, err, tt.wantRetry, tt.want)
			}
			notifytest.AssertNoSecrets(t, "", []error{err}, nil, password)
			if len(srv.received()) != 0 {
				t.Error("a message was accepted")
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestThroughDispatcher: the dispatcher redacts the PHI in an alert's text
// before it reaches an e-mail sink without include_phi, retries a
// greylisted (451) delivery and delivers it once the server takes it.
func TestThroughDispatcher(t *testing.T) {
	cert, pool := testCert(t)
	srv := newServer(t, email.TLSStartTLS, cert)
	srv.rcpt = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted"}
	clock := clocktest.New(start)
	s := notifytest.Sink(t, sinkYAML(email.TLSStartTLS, srv.port, ""))
	n, err := email.New(s, *s.Options.(*email.Config), nil, email.Options{
		Clock: clock, TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		t.Fatal(err)
	}
	d, outbox, logs := notifytest.Dispatcher(t, "staff", n, clock, notifytest.Denial(authpilot.SeverityWarning, start))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := d.DeliverOnce(ctx); err != nil {
		t.Fatal(err)
	}
	all := outbox.All()
	if len(all) != 1 || all[0].DeliveredAt != nil || !strings.Contains(all[0].LastError, "451") {
		t.Fatalf("after a 451: %+v", all)
	}
	srv.mu.Lock()
	srv.rcpt = nil
	srv.mu.Unlock()
	clock.Advance(time.Minute)
	if _, err := d.DeliverOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got := srv.received()
	if len(got) != 1 {
		t.Fatalf("received %d messages; logs:\n%s", len(got), logs)
	}
	if !strings.Contains(got[0].data, "Reason:    Denied for [REDACTED] [REDACTED] (DOB [REDACTED]), member [REDACTED], order [REDACTED]") {
		t.Errorf("reason not redacted as expected:\n%s", got[0].data)
	}
	for _, v := range phi {
		if strings.Contains(got[0].data, v) {
			t.Errorf("message carries %q", v)
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("timed out")
	}
}
