package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/recordings"
)

func cmdNotifyTest(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	cfg, fs, _, err := withConfig("notify test", "notify test [--config FILE] SINK\n\nSends a test alert to one configured sink and reports the outcome.", args, 1, stderr)
	if err != nil {
		return err
	}
	a, err := agent.New(cfg, agent.Options{Logger: newLogger(cfg, stderr), NoAPI: true})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.SendTestAlert(ctx, fs.Arg(0)); err != nil {
		return &exitError{1, fmt.Sprintf("notify test %s: %v", fs.Arg(0), err)}
	}
	fmt.Fprintf(stdout, "test alert delivered to %s\n", fs.Arg(0))
	return nil
}

// cmdReplay serves a recording's pages (or API answers) on loopback so a
// flow or an API connector can be run against them offline.
func cmdReplay(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("replay", "replay [--config FILE] [--listen ADDR] [--dom] RECORDING-ID|DIR\n\nServes a recording's pages (or a fhirpas run's API answers) again. Point\na connector's base_url (and a fhirpas connector's token_url, at URL/token)\nat the printed URL (e.g. with `authpilot poll --now`) to test it offline.", stderr)
	path := fs.String("config", "", "config `file` whose data_dir holds the recordings (not needed with a DIR)")
	listen := fs.String("listen", "127.0.0.1:0", "listen `address`")
	dom := fs.Bool("dom", false, "also answer with DOM snapshots where no network exchange was recorded")
	if err := parseArgs(fs, args, 1); err != nil {
		return err
	}
	dir := ""
	if *path != "" {
		cfg, err := loadConfig(*path)
		if err != nil {
			return err
		}
		dir = filepath.Join(cfg.DataDir, "recordings")
	}
	m, err := recordings.Resolve(dir, fs.Arg(0))
	if err != nil {
		return &exitError{1, fmt.Sprintf("replay: %v", err)}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	rp, err := recordings.NewReplay(m, recordings.ReplayOptions{ServeDOM: *dom, Logger: log})
	if err != nil {
		return &exitError{1, fmt.Sprintf("replay: %v", err)}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "replaying recording %s (%s %s) on http://%s\nindex of recorded pages: http://%s%s\n",
		m.ID, m.Connector, m.Job, ln.Addr(), ln.Addr(), recordings.ReplayIndexPath)
	return serveUntilDone(ctx, srv, ln)
}

func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}
