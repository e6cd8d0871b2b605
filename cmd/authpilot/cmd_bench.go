package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/authpilot/authpilot/agent/bench"
)

func cmdBench(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("bench", `bench [-n CASES] [-p PORTALS] [-latency L] [-c SESSIONS] [-decided F] [--fetch] [--naive] [--json]

Measures one poll cycle of the agent over N pending cases on P simulated
payer portals (each page answered after L, at most C pages per portal),
in steady state (after a warm-up cycle), with the Summit example flow
(poll.fetch unless --fetch=false, numbered list pages): wall time, the lower bound (the
busiest portal's loads — pages and letters — × L ÷ C, plus its login),
their ratio, page loads, logins, peak RSS of the agent and of Chromium,
idle RSS and CPU after the cycle, and the same workload done the naive way
(a login and a detail page per case, one at a time, each page navigated in
a tab). Real payer portals answer a page in 0.5–3 s; the default 200 ms is
a fast one.`, stderr)
	n := fs.Int("n", 200, "pending cases")
	p := fs.Int("p", 1, "portals")
	lat := fs.Duration("latency", 200*time.Millisecond, "per-page latency")
	c := fs.Int("c", 4, "pages (sessions) per portal")
	decided := fs.Float64("decided", 0.1, "fraction of cases decided since the last look")
	naive := fs.Bool("naive", true, "also run the naive strategy")
	fetch := fs.Bool("fetch", true, "read pages with poll.fetch (false: navigate a tab to every page, on up to C tabs)")
	submit := fs.Bool("submit", true, "also time one submission through the wizard")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var progress io.Writer = stderr
	r, err := bench.Run(ctx, bench.Options{Cases: *n, Portals: *p, Latency: *lat, Sessions: *c, Decided: *decided,
		Naive: *naive, InTabs: !*fetch, SubmitOne: *submit, Progress: progress})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, r)
	}
	tw := newTable(stdout)
	fmt.Fprintf(tw, "workload\t%d cases, %d portal(s), %.0f ms/page, %d pages/portal, %d decided\n", r.Cases, r.Portals, r.LatencyMS, r.Sessions, r.Decided)
	fmt.Fprintf(tw, "agent wall\t%.2f s\n", r.Wall)
	fmt.Fprintf(tw, "lower bound\t%.2f s\n", r.LowerBound)
	fmt.Fprintf(tw, "ratio to bound\t%.2f\n", r.RatioToBound)
	fmt.Fprintf(tw, "page loads / letters / logins\t%d / %d / %d\n", r.PageLoads, r.Letters, r.Logins)
	fmt.Fprintf(tw, "peak RSS agent / chromium (PSS)\t%.0f MiB / %.0f MiB\n", r.AgentPeakRSS, r.ChromiumPeakRSS)
	fmt.Fprintf(tw, "idle agent RSS / CPU\t%.0f MiB / %.2f %%\n", r.AgentIdleRSS, r.AgentIdleCPU)
	if r.NaiveWall > 0 {
		fmt.Fprintf(tw, "naive wall\t%.2f s\n", r.NaiveWall)
		fmt.Fprintf(tw, "naive page loads / logins\t%d / %d\n", r.NaivePageLoads, r.NaiveLogins)
		fmt.Fprintf(tw, "naive speedup\t%.1fx wall, %.1fx page loads\n", r.NaiveSpeedup, r.PageLoadsFactor)
	}
	if r.SubmitOne > 0 {
		fmt.Fprintf(tw, "submit one case\t%.2f s\n", r.SubmitOne)
	}
	return tw.Flush()
}
