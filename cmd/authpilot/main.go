// Command authpilot is the prior-authorization coordinator daemon and its
// command-line tools. main only wires; the work is in the packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	_ "github.com/authpilot/authpilot/connectors/fhirpas"
	_ "github.com/authpilot/authpilot/connectors/portal"
	_ "github.com/authpilot/authpilot/notify/sinks"
	_ "github.com/authpilot/authpilot/web/handoffs"
)

const usage = `authpilot — the portal work of a prior-authorization coordinator.

Usage:
  authpilot <command> [flags]

Commands:
  demo                 run the whole loop against built-in simulators (no set-up)
  run                  run the daemon (API, workspace, schedules, connectors, alerts)
  config check         validate a config file
  case add FILE        create a case from a JSON or YAML file
  case list            list or search cases (--status, --payer, --episode, --due-before, -q TEXT, ...)
  case show CASE       show a case (by ID, ID prefix, external or payer ref) with its history
  case import FILE.csv import cases from a CSV export
  case note|attach|respond|decide|update|withdraw|requeue|p2p|appeal|extension|deadline CASE
                       a staff action on a case (see 'authpilot case <action> -h')
  access-log           who searched, looked up or read cases, when, from where, and which cases
  user add NAME        create a workspace account (--role admin|coordinator|viewer; password on stdin)
  user list            list the accounts: role, active, locked or disabled
  user disable|enable NAME
                       disable an account (signs it out) or enable it again
  user reset-password NAME
                       set a new password (stdin), unlock the account, sign it out
  user totp [--off] NAME
                       ask for an authenticator code at sign-in (prints the otpauth:// URL)
  token create --user NAME
                       create a person's API token (printed once, stored hashed)
  secrets set NAME     store a secret read from stdin (never from arguments)
  secrets list         list secret names
  secrets delete NAME  delete a secret
  connector list       show each connector's logins: active, paused (until when, why)
  connector resume ID  let a paused connector log in again at its next run
  poll --now           run one poll sweep of every connector now
  submit --now         submit every ready case now
  notify test SINK     send a test alert to a notify sink
  notify status        list the sinks: ok, failing or disabled, and their queues
  notify enable SINK   re-enable a sink disabled after a 410 (its queue is delivered)
  sim                  serve the simulated payer portal, RBM portal and PAS API
  replay RECORDING     serve a recording's pages again for offline flow tests
  bench                measure a poll cycle against the simulators (vs. a naive bot)
  version              print the version

Run 'authpilot <command> -h' for a command's flags.
Most commands take --config FILE (default $AUTHPILOT_CONFIG or ./authpilot.yaml).
`

var version = "dev"

// exitError carries an exit code; main prints its message (if any).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runMain(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, ee.msg)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "authpilot:", err)
		os.Exit(1)
	}
}

type command func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error

func commands() map[string]command {
	return withConnectorCommands(map[string]command{
		"demo":       cmdDemo,
		"run":        cmdRun,
		"config":     sub(map[string]command{"check": cmdConfigCheck}),
		"case":       sub(caseCommands()),
		"secrets":    sub(map[string]command{"set": cmdSecretsSet, "list": cmdSecretsList, "delete": cmdSecretsDelete}),
		"poll":       cmdPoll,
		"access-log": cmdAccessLog,
		"user":       sub(userCommands()),
		"token":      sub(map[string]command{"create": cmdTokenCreate}),
		"submit":     cmdSubmit,
		"notify":     sub(map[string]command{"test": cmdNotifyTest, "enable": cmdNotifyEnable, "status": cmdNotifyStatus}),
		"sim":        cmdSim,
		"replay":     cmdReplay,
		"bench":      cmdBench,
		"chaos":      cmdChaos,
		"version": func(_ context.Context, _ []string, _ io.Reader, stdout, _ io.Writer) error {
			fmt.Fprintln(stdout, "authpilot", version)
			return nil
		},
	})
}

func runMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		return &exitError{2, fmt.Sprintf("authpilot: unknown command %q\n\n%s", args[0], usage)}
	}
	return cmd(ctx, args[1:], stdin, stdout, stderr)
}

func sub(cmds map[string]command) command {
	return func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
		names := make([]string, 0, len(cmds))
		for n := range cmds {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
			fmt.Fprintf(stdout, "subcommands: %s\n", strings.Join(names, ", "))
			return nil
		}
		c, ok := cmds[args[0]]
		if !ok {
			return &exitError{2, fmt.Sprintf("authpilot: unknown subcommand %q (one of %s)", args[0], strings.Join(names, ", "))}
		}
		return c(ctx, args[1:], stdin, stdout, stderr)
	}
}
