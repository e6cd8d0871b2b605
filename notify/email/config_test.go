package email_test

import (
	"testing"

	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/notify/notifytest"
)

// TestDecode: an e-mail sink's keys are decoded strictly and validated,
// each error with its line.
func TestDecode(t *testing.T) {
	const base = "name: staff\ntype: email\n" // lines 1-2
	tests := []struct {
		name, src string
		want      string // "line: error" of the first error; empty: valid
		warn      string
	}{
		{name: "starttls with auth", src: "host: smtp.example.org\nusername: u\npassword_secret: smtp-pass\nfrom: a@example.org\nto: [b@example.org]"},
		{name: "implicit", src: "host: smtp.example.org\ntls: implicit\nport: 465\nfrom: a@example.org\nto: [b@example.org]"},
		{name: "no host", src: "from: a@example.org\nto: [b@example.org]", want: "1: host: required (the SMTP server)"},
		{name: "bad tls", src: "host: h\ntls: ssl\nfrom: a@example.org\nto: [b@example.org]", want: `4: tls: unknown mode "ssl" (one of starttls, implicit, none)`},
		{name: "password without user", src: "host: h\npassword_secret: p\nfrom: a@example.org\nto: [b@example.org]", want: "1: username: required with password_secret"},
		{name: "password in the clear", src: "host: smtp.example.org\ntls: none\nusername: u\npassword_secret: p\nfrom: a@example.org\nto: [b@example.org]",
			want: "4: tls: none would send the password in the clear"},
		{name: "bad recipient", src: "host: h\nfrom: a@example.org\nto: [b@example.org, not-an-address]", want: "5: to[1]: not an e-mail address"},
		{name: "no recipient", src: "host: h\nfrom: a@example.org", want: "1: to: at least one recipient is required"},
		{name: "password written in the config", src: "host: h\npassword: hunter2\nfrom: a@example.org\nto: [b@example.org]",
			want: "4: password: an SMTP password is a secret: store it with `authpilot secrets set` and name it in password_secret"},
		{name: "plain relay elsewhere", src: "host: relay.example.org\ntls: none\nfrom: a@example.org\nto: [b@example.org]",
			warn: "tls: none: messages cross the network unencrypted"},
		{name: "phi", src: "include_phi: true\nhost: h\nfrom: a@example.org\nto: [b@example.org]", warn: "include_phi: sends patient details by e-mail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := notifytest.DecodeSink(base + tt.src)
			notifytest.CheckDecode(t, err, tt.want, "hunter2")
			if tt.warn != "" {
				ws := s.Options.(notify.Warner).Warnings()
				if len(ws) == 0 || ws[0].Error() != tt.warn {
					t.Errorf("warnings = %v, want %q", ws, tt.warn)
				}
			}
		})
	}
}
