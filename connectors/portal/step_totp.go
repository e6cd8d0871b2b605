package portal

import (
	"errors"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"gopkg.in/yaml.v3"
)

// totpStep types an RFC 6238 code computed from a keyring seed.
type totpStep struct {
	Selector sel
	Secret   string // a role of the secrets section
}

func decodeTOTP(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &totpStep{}
	d.mapping(n, path, "totp: ", []field{
		{"selector", true, func(k, v *yaml.Node) { a.Selector = d.sel(v, path, "totp: ", "selector", inEach) }},
		{"secret", true, func(k, v *yaml.Node) {
			a.Secret = d.str(v, path, "totp: ", "secret")
			d.totps = append(d.totps, &totpRef{role: a.Secret, path: path, line: d.node(v, path).Line})
		}},
	})
	return a
}

func (a *totpStep) run(x *exec) error {
	el, err := x.element(a.Selector, visible)
	if err != nil {
		return err
	}
	seed, err := x.r.s.secret(a.Secret)
	if err != nil {
		var ce *authpilot.Error
		if errors.As(err, &ce) {
			ce.Step = x.st.Path + " " + x.st.Kind
			ce.Msg = "MFA prompt: " + ce.Msg
		}
		return err
	}
	code, err := totpCode(seed, x.r.s.c.now())
	if err != nil {
		return x.fail(authpilot.ErrNeedsHuman, "MFA prompt: "+err.Error(), nil)
	}
	// The code is posted in a form field the portal names as it likes
	// ("code"): redact it by value before the exchange is recorded.
	x.r.s.rec.Redact(code)
	return x.fillElement(el, code)
}

// totpCode computes the RFC 6238 code of a base32 seed or an otpauth:// URL.
func totpCode(seed string, now time.Time) (string, error) {
	opts := totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	secret := seed
	if strings.HasPrefix(seed, "otpauth://") {
		k, err := otp.NewKeyFromURL(seed)
		if err != nil {
			return "", errors.New("the totp secret is not a valid otpauth:// URL")
		}
		secret = k.Secret()
		if p := k.Period(); p > 0 {
			opts.Period = uint(p)
		}
		opts.Digits = k.Digits()
		opts.Algorithm = k.Algorithm()
	}
	secret = strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(secret)))
	code, err := totp.GenerateCodeCustom(secret, now, opts)
	if err != nil {
		return "", errors.New("the totp secret is not a valid base32 seed")
	}
	return code, nil
}
