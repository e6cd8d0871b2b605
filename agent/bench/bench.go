// Package bench measures one poll cycle of the agent against simulated
// payer portals, and the same workload done the way a scripted bot does it
// (log in and open a detail page for every case, one at a time).
package bench

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/examples"
	"github.com/authpilot/authpilot/internal/loopback"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/recordings"
)

// Options describe the workload: Cases pending cases spread over Portals
// simulated payer portals, each page answered after Latency, at most
// Sessions pages per portal, Decided of the cases decided since the last
// look (their detail page and letter are fetched).
type Options struct {
	Cases    int
	Portals  int
	Latency  time.Duration
	Sessions int
	Decided  float64
	// Naive also runs the scripted-bot strategy for comparison.
	Naive bool
	// InTabs makes the agent navigate a tab to every page (the example
	// flow without poll.fetch), on up to Sessions tabs a portal.
	InTabs bool
	// SubmitOne also times submitting one case through the wizard.
	SubmitOne bool
	// Idle is how long the idle RSS and CPU are watched after the cycle
	// (default 2s).
	Idle time.Duration
	Log  *slog.Logger
	// Progress receives a line per phase (nil: silent).
	Progress io.Writer
}

// Result is what one bench run measured. Times are seconds, memory MiB.
type Result struct {
	Cases     int     `json:"cases"`
	Portals   int     `json:"portals"`
	LatencyMS float64 `json:"latency_ms"`
	Sessions  int     `json:"sessions"`
	Decided   int     `json:"decided"`

	Wall         float64 `json:"wall_s"`
	LowerBound   float64 `json:"lower_bound_s"`
	RatioToBound float64 `json:"ratio_to_bound"`
	PageLoads    int     `json:"page_loads"`
	// Letters are the determination letters downloaded; each is a load
	// from the portal with its latency, so the lower bound counts them.
	Letters int `json:"letters"`
	Logins  int `json:"logins"`
	Changed int `json:"changed"`

	AgentPeakRSS float64 `json:"agent_peak_rss_mb"`
	// ChromiumPeakRSS is the peak of Chromium's processes' summed PSS
	// (shared pages divided among sharers, so the sum is not inflated).
	ChromiumPeakRSS float64 `json:"chromium_peak_rss_mb"`
	AgentIdleRSS    float64 `json:"agent_idle_rss_mb"`
	AgentIdleCPU    float64 `json:"agent_idle_cpu_percent"`

	NaiveWall       float64 `json:"naive_wall_s,omitempty"`
	NaivePageLoads  int     `json:"naive_page_loads,omitempty"`
	NaiveLogins     int     `json:"naive_logins,omitempty"`
	NaiveSpeedup    float64 `json:"naive_speedup,omitempty"`
	PageLoadsFactor float64 `json:"page_loads_factor,omitempty"`

	SubmitOne float64 `json:"submit_one_s,omitempty"`
}

var benchSecrets = func() authpilot.StaticSecrets {
	s := payersim.ExampleSecrets()
	s["api-token"] = "bench"
	return s
}()

// world is a set of seeded portals and an agent configured for them.
type world struct {
	dir     string
	portals []*payersim.Portal
	urls    []string
	stop    []func()
	cfg     *config.Config
	agent   *agent.Agent
	cases   []*authpilot.Case
}

func (w *world) close() {
	if w.agent != nil {
		w.agent.Close()
	}
	for _, s := range w.stop {
		s()
	}
	if os.Getenv("AUTHPILOT_BENCH_KEEP") == "" {
		os.RemoveAll(w.dir)
	}
}

func portalName(p int) string { return fmt.Sprintf("portal-%d", p) }

// writeConfig writes the bench's authpilot.yaml and one flow per portal
// (naive: no list, a detail lookup per case, no kept cookies) pointed at
// urls, and returns the config's path.
func writeConfig(dir string, urls []string, o Options, naive bool) (string, error) {
	var conns, payers strings.Builder
	for p, url := range urls {
		flow, err := flowFor(url, o.Sessions, naive, naive || o.InTabs)
		if err != nil {
			return "", err
		}
		name := portalName(p)
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), flow, 0o600); err != nil {
			return "", err
		}
		fmt.Fprintf(&conns, "  - {id: %s, kind: portal, flow: %s.yaml, schedule: {submit: \"\", poll: \"\"}, limits: {pages: %d, timeout: 30m, retries: 0}}\n", name, name, o.Sessions)
		fmt.Fprintf(&payers, "  - {id: payer-%d, plan_type: medicare_advantage, connector: %s}\n", p, name)
	}
	y := fmt.Sprintf("practice: {name: Bench, timezone: America/New_York}\ndata_dir: %s/data\nschedules: {deadlines: \"\", digest: \"\"}\nbrowser: {max_pages: %d}\npayers:\n%sconnectors:\n%s",
		dir, o.Sessions*len(urls), payers.String(), conns.String())
	cfgPath := filepath.Join(dir, "authpilot.yaml")
	return cfgPath, os.WriteFile(cfgPath, []byte(y), 0o600)
}

// build starts the portals, seeds the same requests in each world, writes
// the flows (naive: no list, a detail lookup per case, no kept cookies)
// and creates the tracked cases.
func build(ctx context.Context, o Options, naive bool) (*world, error) {
	dir, err := os.MkdirTemp("", "authpilot-bench-")
	if err != nil {
		return nil, err
	}
	w := &world{dir: dir}
	per := o.Cases / o.Portals
	decidedPer := int(float64(per) * o.Decided)
	for p := 0; p < o.Portals; p++ {
		portal := payersim.NewPayer(payersim.PayerOptions{Latency: o.Latency, PageSize: 50, SessionTTL: time.Hour})
		url, stop, err := loopback.Serve(portal, 5*time.Second)
		if err != nil {
			w.close()
			return nil, err
		}
		w.portals, w.urls, w.stop = append(w.portals, portal), append(w.urls, url), append(w.stop, stop)
		pending := &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 1 << 20}
		// The warm-up cycle looks twice (list row, then detail page, since
		// the agent has not seen the case before) and still sees them pending.
		decided := &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 2, ValidityDays: 90}
		if naive {
			// The bot has no warm-up: its one look (the detail page) sees
			// the same cases decided.
			decided.AfterChecks = 0
		}
		subs := payersim.SampleSubmissions(per, pending)
		for i := 0; i < decidedPer; i++ {
			subs[i].Outcome = decided
		}
		refs, err := payersim.Seed(portal, subs...)
		if err != nil {
			w.close()
			return nil, err
		}
		w.cases = append(w.cases, trackedCases(portalName(p), subs, refs)...)
	}
	cfgPath, err := writeConfig(dir, w.urls, o, naive)
	if err != nil {
		w.close()
		return nil, err
	}
	if w.cfg, err = config.Load(cfgPath); err != nil {
		w.close()
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if w.agent, err = agent.New(w.cfg, agent.Options{Secrets: benchSecrets, Logger: log, NoAPI: true}); err != nil {
		w.close()
		return nil, err
	}
	for i, c := range w.cases {
		got, err := w.agent.Intake().Create(ctx, &agent.NewCase{Case: *c}, "bench")
		if err != nil {
			w.close()
			return nil, fmt.Errorf("seed case %d: %w", i, err)
		}
		w.cases[i] = got
	}
	return w, nil
}

func trackedCases(connector string, subs []payersim.Submission, refs []string) []*authpilot.Case {
	var out []*authpilot.Case
	for i, s := range subs {
		dob, _ := authpilot.ParseDate(s.DOB)
		if dob.IsZero() {
			dob = authpilot.NewDate(1960, 1, 1)
		}
		var lines []authpilot.ServiceLine
		for _, l := range s.Lines {
			lines = append(lines, authpilot.ServiceLine{Code: l.Code, Units: l.Units})
		}
		out = append(out, &authpilot.Case{
			Patient: authpilot.Patient{FirstName: "Bench", LastName: fmt.Sprintf("Patient%d", i), DOB: dob, MemberID: s.MemberID},
			Payer:   "payer-" + strings.TrimPrefix(connector, "portal-"), Track: authpilot.TrackSurgery,
			OrderingProvider: authpilot.Provider{NPI: "1245319599"}, ServiceLines: lines, Diagnoses: s.Diagnoses,
			ServiceDate: authpilot.DateOf(time.Now().AddDate(0, 1, 0)), Tracked: true, PayerRef: refs[i],
		})
	}
	return out
}

// flowFor is the Summit example flow pointed at url; naive turns the list
// into a per-case lookup and drops kept cookies; inTabs drops fetch mode.
func flowFor(url string, pages int, naive, inTabs bool) ([]byte, error) {
	b, err := fs.ReadFile(examples.FS, "connectors/summit-portal.yaml")
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, err
	}
	doc := root.Content[0]
	set := func(m *yaml.Node, key string, v *yaml.Node) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				m.Content[i+1] = v
				return
			}
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
	}
	get := func(m *yaml.Node, key string) *yaml.Node {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i+1]
			}
		}
		return nil
	}
	set(doc, "base_url", &yaml.Node{Kind: yaml.ScalarNode, Value: url})
	if lim := get(doc, "limits"); lim != nil {
		set(lim, "pages", &yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(pages)})
	}
	if inTabs {
		poll := get(doc, "poll")
		for i := 0; i+1 < len(poll.Content); i += 2 {
			if poll.Content[i].Value == "fetch" {
				poll.Content = append(poll.Content[:i], poll.Content[i+2:]...)
				break
			}
		}
	}
	if naive {
		if s := get(doc, "session"); s != nil {
			set(s, "keep_cookies", &yaml.Node{Kind: yaml.ScalarNode, Value: "false"})
		}
		poll := get(doc, "poll")
		var kept []*yaml.Node
		for i := 0; i+1 < len(poll.Content); i += 2 {
			switch poll.Content[i].Value {
			case "list":
			case "detail":
				kept = append(kept, &yaml.Node{Kind: yaml.ScalarNode, Value: "lookup"}, poll.Content[i+1])
			default:
				kept = append(kept, poll.Content[i], poll.Content[i+1])
			}
		}
		poll.Content = kept
	}
	return yaml.Marshal(&root)
}

// Run measures the workload.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Cases <= 0 || o.Portals <= 0 || o.Sessions <= 0 {
		return nil, fmt.Errorf("bench: cases, portals and sessions must be positive")
	}
	say := func(format string, a ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", a...)
		}
	}
	res := &Result{Cases: o.Cases, Portals: o.Portals, LatencyMS: float64(o.Latency) / float64(time.Millisecond),
		Sessions: o.Sessions, Decided: int(float64(o.Cases/o.Portals)*o.Decided) * o.Portals}

	say("seeding %d pending cases on %d portals…", o.Cases, o.Portals)
	w, err := build(ctx, o, false)
	if err != nil {
		return nil, err
	}
	defer w.close()
	// A warm-up cycle first: the daemon has seen every case before (its
	// last status text is known) and its browser is already running, as
	// in steady state.
	say("agent: warm-up cycle…")
	for _, r := range w.agent.PollNow(ctx, nil) {
		if r.Err != nil {
			return nil, fmt.Errorf("warm-up poll %s: %w", r.Connector, r.Err)
		}
	}
	for _, p := range w.portals {
		p.ResetStats()
	}
	say("agent: one poll cycle…")
	rss := sampleChildren(50 * time.Millisecond)
	start := time.Now()
	runs := w.agent.PollNow(ctx, nil)
	res.Wall = time.Since(start).Seconds()
	res.ChromiumPeakRSS = rss.Stop()
	res.AgentPeakRSS = procStatusMB(os.Getpid(), "VmHWM")
	for _, r := range runs {
		if r.Err != nil {
			return nil, fmt.Errorf("agent poll %s: %w", r.Connector, r.Err)
		}
		res.Changed += r.Changed
	}
	busiest := 0.0
	for _, p := range w.portals {
		st := p.Stats()
		res.PageLoads += st.PageLoads
		res.Letters += st.LettersDownloaded
		res.Logins += st.Logins
		login := 0
		for route, n := range st.PageLoadsByRoute {
			if strings.Contains(route, "login") || strings.Contains(route, "mfa") || strings.Contains(route, "dashboard") {
				login += n
			}
		}
		// The bound: every load but the login's spread over the pages,
		// the login's one after another.
		loads := st.PageLoads + st.LettersDownloaded
		lb := (float64(loads-login)/float64(o.Sessions) + float64(login)) * o.Latency.Seconds()
		if lb > busiest {
			busiest = lb
		}
	}
	res.LowerBound = busiest
	if busiest > 0 {
		res.RatioToBound = res.Wall / busiest
	}

	// Idle: the cycle is over; the daemon hands back freed memory, as after
	// every scheduled run, and waits for its next schedule.
	idle := o.Idle
	if idle <= 0 {
		idle = 2 * time.Second
	}
	w.agent.Idle()
	res.AgentIdleRSS = procStatusMB(os.Getpid(), "VmRSS")
	cpu0, t0 := cpuSeconds(os.Getpid()), time.Now()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(idle):
	}
	res.AgentIdleCPU = 100 * (cpuSeconds(os.Getpid()) - cpu0) / time.Since(t0).Seconds()

	if o.SubmitOne {
		say("agent: submitting one case through the wizard…")
		d, err := submitOne(ctx, w)
		if err != nil {
			return nil, err
		}
		res.SubmitOne = d.Seconds()
	}

	if o.Naive {
		say("naive: log in and open a detail page per case, one at a time…")
		nw, err := build(ctx, o, true)
		if err != nil {
			return nil, err
		}
		defer nw.close()
		for _, p := range nw.portals {
			p.ResetStats()
		}
		start := time.Now()
		if err := naivePoll(ctx, nw); err != nil {
			return nil, err
		}
		res.NaiveWall = time.Since(start).Seconds()
		for _, p := range nw.portals {
			st := p.Stats()
			res.NaivePageLoads += st.PageLoads
			res.NaiveLogins += st.Logins
		}
		if res.Wall > 0 {
			res.NaiveSpeedup = res.NaiveWall / res.Wall
		}
		if res.PageLoads > 0 {
			res.PageLoadsFactor = float64(res.NaivePageLoads) / float64(res.PageLoads)
		}
	}
	return res, nil
}

// naivePoll is the scripted bot: for every case, a fresh login and the
// case's detail page, one at a time.
func naivePoll(ctx context.Context, w *world) error {
	recs, err := recordings.Open(filepath.Join(w.dir, "naive-recordings"), recordings.Options{Capture: recordings.CaptureOnFailure})
	if err != nil {
		return err
	}
	// One browser for every naive connector, as the agent's: what each
	// kind provides from its section of the config.
	resources := map[string]io.Closer{}
	defer func() {
		for _, r := range resources {
			r.Close()
		}
	}()
	for _, cc := range w.cfg.Connectors {
		var res io.Closer
		if k, ok := connectors.Lookup(cc.Kind); ok && k.Section != nil {
			if res = resources[cc.Kind]; res == nil {
				if res, err = w.cfg.Sections[k.Section.Name].Provide(slog.New(slog.DiscardHandler)); err != nil {
					return err
				}
				resources[cc.Kind] = res
			}
		}
		conn, err := cc.Options.New(connectors.Env{ID: cc.ID, Logger: slog.New(slog.DiscardHandler), Secrets: benchSecrets,
			Now: time.Now, DataDir: w.dir, Resource: res})
		if err != nil {
			return err
		}
		for _, c := range w.cases {
			if c.ConnectorID != cc.ID {
				continue
			}
			rec := recs.Start(cc.ID, "naive")
			sess, err := conn.Open(ctx, rec)
			if err != nil {
				return fmt.Errorf("naive login: %w", err)
			}
			if _, err := sess.Poll(ctx, []*authpilot.Case{c}); err != nil {
				return fmt.Errorf("naive poll: %w", err)
			}
			sess.Close()
			_ = rec.Finish(nil)
		}
		conn.Close()
	}
	return nil
}

// submitOne times one submission through the payer wizard (login, four
// steps, an upload, the final click).
func submitOne(ctx context.Context, w *world) (time.Duration, error) {
	nc := &agent.NewCase{Case: authpilot.Case{
		Patient: authpilot.Patient{FirstName: "Bench", LastName: "Submit", DOB: authpilot.NewDate(1961, 4, 2), MemberID: "SHPBENCH0001"},
		Payer:   "payer-0", Track: authpilot.TrackSurgery, OrderingProvider: authpilot.Provider{NPI: "1245319599"},
		ServiceLines: []authpilot.ServiceLine{{Code: "22612", Units: 1, Level: "L4-L5"}, {Code: "22614", Units: 1, Level: "L5-S1"}},
		Diagnoses:    []string{"M48.062"}, ServiceDate: authpilot.DateOf(time.Now().AddDate(0, 1, 0)),
		ClinicalNotes: "Failed 12 weeks of PT.",
	}, Files: []agent.NewFile{{Name: "pt-notes.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4\n% bench\n")}}}
	if _, err := w.agent.Intake().Create(ctx, nc, "bench"); err != nil {
		return 0, err
	}
	start := time.Now()
	res := w.agent.SubmitNow(ctx, "portal-0")
	d := time.Since(start)
	if res[0].Err != nil || res[0].Submitted != 1 {
		return 0, fmt.Errorf("submit one: %d submitted: %v", res[0].Submitted, res[0].Err)
	}
	return d, nil
}
