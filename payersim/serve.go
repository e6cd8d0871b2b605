package payersim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/authpilot/authpilot/payersim/pas"
)

// SetOptions configure the simulators started together.
type SetOptions struct {
	// Addrs are the listen addresses of the payer portal, RBM portal and
	// PAS API; empty means a free loopback port.
	PayerAddr, RBMAddr, PASAddr string
	Now                         func() time.Time
	Latency                     time.Duration
	PageSize                    int
	Logger                      *slog.Logger
	// PayerMFA is the payer portal's second login step (PayerOptions.MFA).
	PayerMFA MFAMode
}

// ExampleSecrets are the simulators' default credentials under the
// keyring names the example configs (examples/) give them: what the demo,
// the chaos run, the benchmark and the tests put in the keyring beside
// their own secrets. A new map each call.
func ExampleSecrets() map[string]string {
	return map[string]string{
		"summit-username":        DefaultPayerUsername,
		"summit-password":        DefaultPayerPassword,
		"summit-totp":            DefaultTOTPSecret,
		"clearview-email":        DefaultRBMEmail,
		"clearview-password":     DefaultRBMPassword,
		"keystone-client-secret": pas.DefaultClientSecret,
	}
}

// Set is the payer portal, the RBM portal and the PAS API served together
// on loopback (authpilot sim, the demo, the tests and the benchmark).
type Set struct {
	Payer *Portal
	RBM   *Portal
	PAS   *pas.Server
	// PayerURL, RBMURL and PASURL are the servers' base URLs.
	PayerURL, RBMURL, PASURL string

	servers []*http.Server
}

// Start serves the three simulators until Close.
func Start(opts SetOptions) (*Set, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Set{
		Payer: NewPayer(PayerOptions{Now: opts.Now, Latency: opts.Latency, PageSize: opts.PageSize, Logger: opts.Logger.With("sim", "payer"),
			MFA: opts.PayerMFA}),
		RBM: NewRBM(RBMOptions{Now: opts.Now, Latency: opts.Latency, PageSize: opts.PageSize, Logger: opts.Logger.With("sim", "rbm")}),
		PAS: pas.New(pas.Options{Now: opts.Now, Logger: opts.Logger.With("sim", "pas")}),
	}
	var err error
	if s.PayerURL, err = s.serve(opts.PayerAddr, s.Payer); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if s.RBMURL, err = s.serve(opts.RBMAddr, s.RBM); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if s.PASURL, err = s.serve(opts.PASAddr, s.PAS); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

func (s *Set) serve(addr string, h http.Handler) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("simulator: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the servers.
func (s *Set) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
