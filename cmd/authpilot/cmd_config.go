package main

import (
	"context"
	"fmt"
	"io"
)

func cmdConfigCheck(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	cfg, _, path, err := withConfig("config check", "config check [--config FILE]", args, -1, stderr)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	fmt.Fprintf(stdout, "%s: ok (%d payers, %d connectors, %d sinks, %d routes)\n", path,
		len(cfg.Payers), len(cfg.Connectors), len(cfg.Notify.Sinks), len(cfg.Notify.Routes))
	return nil
}
