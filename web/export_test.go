package web

// SetSigninHeld makes each sign-in attempt call held while it holds its
// account's lock (nil: no call).
func SetSigninHeld(held func(name string)) {
	if held == nil {
		signinHeld.Store(nil)
		return
	}
	signinHeld.Store(&held)
}
