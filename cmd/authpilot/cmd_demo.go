package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/authpilot/authpilot/agent/demo"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/payersim/pas"
)

func cmdDemo(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("demo", `demo [--json] [--keep] [--days N] [--data-dir DIR]

Runs the whole loop with no set-up: starts the simulated payer portal, RBM
portal and PAS API on loopback, an agent on embedded defaults in a
temporary data dir, a Slack stand-in and a signed-webhook receiver; takes in
a spine practice's week of cases, submits them, polls them on a fast
simulated clock until decided, downloads the letters, raises alerts, and
prints a summary. Needs Debian's chromium (scripts/demo installs it).`, stderr)
	asJSON := fs.Bool("json", false, `print only the summary as JSON: {"cases": [{"id", "payer", "track", "status", "auth_number", "letters", "alerts"}, ...]}`)
	keep := fs.Bool("keep", false, "leave the agent's API and the simulators running afterwards (Ctrl-C to stop)")
	days := fs.Int("days", 6, "business days of polling to simulate")
	dataDir := fs.String("data-dir", "", "keep the demo's data (store, letters, recordings) in this directory")
	verbose := fs.Bool("v", false, "also print the agent's log to stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	_, err := demo.Run(ctx, demo.Options{Out: stdout, JSON: *asJSON, Keep: *keep, Days: *days, DataDir: *dataDir, Log: log})
	return err
}

func cmdSim(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("sim", `sim [--payer ADDR] [--rbm ADDR] [--pas ADDR]

Serves the simulated payer portal, RBM portal and Da Vinci PAS API on
loopback until Ctrl-C, and prints their URLs and credentials. Each has an
admin API under /_sim/ (scenario, faults, stats); see payersim/README.md.`, stderr)
	payer := fs.String("payer", "127.0.0.1:8701", "payer portal listen `address`")
	rbm := fs.String("rbm", "127.0.0.1:8702", "RBM portal listen `address`")
	pasAddr := fs.String("pas", "127.0.0.1:8703", "PAS API listen `address`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sims, err := payersim.Start(payersim.SetOptions{PayerAddr: *payer, RBMAddr: *rbm, PASAddr: *pasAddr,
		Logger: slog.New(slog.NewTextHandler(stderr, nil))})
	if err != nil {
		return err
	}
	defer sims.Close()
	fmt.Fprintf(stdout, `simulators serving (Ctrl-C to stop):
  payer portal  %s   user %s, password %s, TOTP seed %s
  RBM portal    %s   email %s, password %s
  PAS API       %s   token %s/token, client %s, secret %s
  admin:        GET %s/_sim/stats, PUT %s/_sim/scenario, POST %s/_sim/faults
`, sims.PayerURL, payersim.DefaultPayerUsername, payersim.DefaultPayerPassword, payersim.DefaultTOTPSecret,
		sims.RBMURL, payersim.DefaultRBMEmail, payersim.DefaultRBMPassword,
		sims.PASURL, sims.PASURL, pas.DefaultClientID, pas.DefaultClientSecret,
		sims.PayerURL, sims.PayerURL, sims.PayerURL)
	<-ctx.Done()
	return nil
}
