package payersim

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"math/big"
	"time"

	"github.com/pquerna/otp/totp"
)

// MFAMode is the payer portal's second login step.
type MFAMode string

const (
	// MFATOTP asks for the code of an authenticator app (the default).
	MFATOTP MFAMode = ""
	// MFASMS texts a fresh 6-digit code to the practice's phone at every
	// login and asks for it: a code the agent cannot compute, which a
	// person reads and types (a flow's ask step).
	MFASMS MFAMode = "sms"
)

// smsPhone is the masked number the SMS page names.
const smsPhone = "(***) ***-0142"

// SMS is a text the portal sent: the simulator's stand-in for the
// practice's phone (GET /_sim/sms).
type SMS struct {
	To     string    `json:"to"`
	Code   string    `json:"code"`
	SentAt time.Time `json:"sent_at"`
}

// textCodeLocked texts a new code for s's login. p.mu must be held.
func (p *Portal) textCodeLocked(s *session) {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000)) // crypto/rand never fails
	s.smsCode = fmt.Sprintf("%06d", n.Int64())
	p.texts = append(p.texts, SMS{To: smsPhone, Code: s.smsCode, SentAt: p.now()})
}

// Texts returns the SMS codes the portal sent, oldest first.
func (p *Portal) Texts() []SMS {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]SMS{}, p.texts...)
}

// mfaCodeOK checks a posted second-step code: the session's texted code
// under MFASMS, else the TOTP. p.mu must be held.
func (p *Portal) mfaCodeOK(s *session, code string) bool {
	if p.mfa == MFASMS {
		return s.smsCode != "" && subtle.ConstantTimeCompare([]byte(code), []byte(s.smsCode)) == 1
	}
	ok, err := totp.ValidateCustom(code, p.totpSecret, p.now(), totpOpts)
	return err == nil && ok
}
