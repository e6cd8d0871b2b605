// Package chaos is authpilot's fault script: it runs the daemon (`authpilot
// run`) as a child process against the simulators, feeds it cases through
// the API (the adversarial ones too), SIGKILLs it again and again during
// submissions, polls and API posts, lets a last clean run settle, and then
// checks the simulators' own records and the store: no duplicate request
// at any payer, every acknowledged case, event, letter and alert kept, no
// case holding another member's request. scripts/chaos runs it.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/config/secrets"
	"github.com/authpilot/authpilot/examples"
	"github.com/authpilot/authpilot/internal/loopback"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/payersim/pas"
)

// Options control a run.
type Options struct {
	// Kills is how many times the daemon is SIGKILLed (default 30).
	Kills int
	// Seed makes the run's choices repeatable (0: from the clock).
	Seed uint64
	// Bin is the authpilot binary run as the daemon (default: this one).
	Bin string
	// Dir keeps the run's files there instead of a temporary directory
	// removed afterwards (unless the run fails).
	Dir string
	// Settle bounds the last clean run (default 3 minutes).
	Settle time.Duration
	// Out receives progress and the figures.
	Out io.Writer
	// Verbose prints each kill.
	Verbose bool
}

// Figures are the run's numbers.
type Figures struct {
	Seed            uint64
	Kills           int
	SignaledKills   int
	KillPoints      map[string]int
	Starts          int
	Posts           int
	PostsByKind     map[string]int
	Acked           int
	Refused         map[int]int
	Retried         int
	Cases           int
	CasesByStatus   map[string]int
	Requests        map[string]int
	Letters         int
	AlertsStored    int
	AlertsDelivered int
	AlertsQueued    int
	WebhookAttempts int
	WebhookRefused  int
	// Waiting are cases whose last event asks a person (needs_human), by
	// status; NeedsHumanEvents counts those events in all.
	// SeenEvents counts the events read back through the API during the
	// run (each must still be stored), over SeenCases cases.
	SeenEvents, SeenCases int
	Waiting               map[string]int
	NeedsHumanEvents      int
	Settled               bool
	SettleTime            time.Duration
	LeftoverChromium      int
	Violations            []Violation
	Wall                  time.Duration
	Dir                   string
}

const (
	apiToken   = "chaos-api-token-5f1e"
	hookSecret = "whsec_Y2hhb3Mtd2ViaG9vay1zaWduaW5nLWtleS0yMDI2"
	hookSink   = "ehr"
)

// trapWait is how long a round waits for its kill point before it kills
// the daemon anyway.
const trapWait = 15 * time.Second

// phases are where kills aim, in turn.
var phases = []string{"submit", "poll", "api"}

// Run runs the fault script and returns its figures; err is set when the
// run itself could not be done. Violations are in Figures.
func Run(ctx context.Context, o Options) (*Figures, error) {
	start := time.Now()
	if o.Kills < 0 {
		return nil, errors.New("kills must not be negative")
	}
	if o.Settle <= 0 {
		o.Settle = 3 * time.Minute
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.Bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the authpilot binary: %w", err)
		}
		o.Bin = exe
	}
	rnd := rand.New(rand.NewPCG(o.Seed, 0x6368616f73))
	dir := o.Dir
	removeDir := false
	if dir == "" {
		tmp, err := os.MkdirTemp("", "authpilot-chaos-")
		if err != nil {
			return nil, err
		}
		dir, removeDir = tmp, true
	}
	fig := &Figures{Seed: o.Seed, KillPoints: map[string]int{}, Dir: dir}
	say := func(format string, a ...any) { fmt.Fprintf(o.Out, format+"\n", a...) }

	d := &daemon{bin: o.Bin, config: filepath.Join(dir, "authpilot.yaml"), logPath: filepath.Join(dir, "daemon.log"),
		tmp: filepath.Join(dir, "tmp")}
	if err := os.MkdirAll(d.tmp, 0o700); err != nil {
		return nil, err
	}
	defer d.kill()

	// The simulators, behind taps that spring the kill traps.
	tp := newTaps(func() { d.kill() })
	payer := payersim.NewPayer(payersim.PayerOptions{})
	rbm := payersim.NewRBM(payersim.RBMOptions{})
	pasSim := pas.New(pas.Options{})
	if err := scenario(payer, rbm, pasSim); err != nil {
		return nil, err
	}
	var stops []func()
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	urls := map[string]string{}
	for name, h := range map[string]http.Handler{"payer": payer, "rbm": rbm, "pas": pasSim} {
		u, stop, err := loopback.Serve(tp.wrap(name, h), 10*time.Second)
		if err != nil {
			return nil, err
		}
		urls[name], stops = u, append(stops, stop)
	}
	rc := &receiver{secret: hookSecret, rnd: rand.New(rand.NewPCG(o.Seed, 1)), failRate: 20, got: map[string]Received{}}
	hookURL, stopHook, err := loopback.Serve(rc, 10*time.Second)
	if err != nil {
		return nil, err
	}
	stops = append(stops, stopHook)

	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	d.apiURL = "http://" + apiAddr
	if err := writeConfig(dir, urls, hookURL, apiAddr); err != nil {
		return nil, err
	}
	if err := storeSecrets(d.config); err != nil {
		return nil, err
	}
	cl := &client{url: d.apiURL, token: apiToken, http: &http.Client{Timeout: 30 * time.Second},
		refused: map[int]int{}, byKind: map[string]int{}}
	gen := &caseGen{rnd: rand.New(rand.NewPCG(o.Seed, 2)), today: time.Now()}
	seen := &seenEvents{m: map[string]map[int64]bool{}}

	say("authpilot chaos: %d kills, seed %d, data in %s", o.Kills, o.Seed, dir)
	order := append([]string(nil), phases...)
	phaseRounds := map[string]int{}
	for i := 0; i < o.Kills; i++ {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if i%len(phases) == 0 {
			rnd.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		}
		phase := order[i%len(order)]
		if i == 0 && phase == "poll" {
			phase = "submit" // nothing to poll yet
		}
		if err := d.start(ctx); err != nil {
			return nil, err
		}
		cl.retries(ctx)
		// Whether a simulator has a request still to decide (a poll will
		// come); the PAS API's pended requests are not visible, so always.
		undecided := func(sim string) bool {
			p := map[string]*payersim.Portal{"payer": payer, "rbm": rbm}[sim]
			if p == nil {
				return false
			}
			for _, q := range p.Requests() {
				if q.Status == payersim.StatusInReview || q.Status == payersim.StatusPended {
					return true
				}
			}
			return false
		}
		point := round(ctx, rnd, phase, phaseRounds[phase], undecided, d, tp, cl, gen, seen)
		phaseRounds[phase]++
		fig.KillPoints[point]++
		if o.Verbose {
			say("  %5.1fs kill %2d/%d  %s", time.Since(start).Seconds(), i+1, o.Kills, point)
		}
	}

	// The last run: nothing is killed; retries are sent and everything
	// settles.
	say("settling (a clean run, at most %s)...", o.Settle)
	if err := d.start(ctx); err != nil {
		return nil, err
	}
	cl.retries(ctx)
	settleStart := time.Now()
	fig.Settled = settle(ctx, o.Settle, cl, rc, tp, payer, rbm, pasSim, seen)
	fig.SettleTime = time.Since(settleStart)
	if err := d.stop(40 * time.Second); err != nil {
		say("warning: %v", err)
	}
	// leakless ends Chromium after its parent dies; give it a moment.
	time.Sleep(2 * time.Second)
	fig.LeftoverChromium, _ = leftoverChromium(d.tmp)

	recs, err := collect(ctx, dir, payer, rbm, pasSim, cl, rc, tp, seen)
	if err != nil {
		return nil, err
	}
	fig.Violations = Check(recs)
	d.mu.Lock()
	fig.Kills, fig.SignaledKills, fig.Starts = d.kills, d.signaled, d.starts
	d.mu.Unlock()
	cl.mu.Lock()
	fig.Posts, fig.PostsByKind, fig.Refused = cl.posts, cl.byKind, cl.refused
	fig.Retried, fig.Acked = cl.byKind["retry"], len(cl.acked)
	cl.mu.Unlock()
	fig.Cases = len(recs.Cases)
	fig.CasesByStatus = map[string]int{}
	for _, c := range recs.Cases {
		fig.CasesByStatus[c.Status]++
	}
	fig.SeenCases = len(recs.SeenEvents)
	for _, evs := range recs.SeenEvents {
		fig.SeenEvents += len(evs)
	}
	fig.Waiting = map[string]int{}
	for _, c := range recs.Cases {
		last := int64(-1)
		for id, typ := range c.Events {
			if typ == "needs_human" {
				fig.NeedsHumanEvents++
			}
			if id > last {
				last = id
			}
		}
		if last >= 0 && c.Events[last] == "needs_human" {
			fig.Waiting[c.Status]++
		}
	}
	fig.Requests = map[string]int{}
	for _, q := range recs.Requests {
		fig.Requests[q.Sim]++
	}
	fig.Letters = len(recs.Letters)
	fig.AlertsStored = len(recs.Alerts)
	for _, a := range recs.Alerts {
		switch a.Deliveries[hookSink] {
		case "delivered":
			fig.AlertsDelivered++
		case "pending", "":
			fig.AlertsQueued++
		}
	}
	rc.mu.Lock()
	fig.WebhookAttempts, fig.WebhookRefused = rc.attempts, rc.refused
	rc.mu.Unlock()
	fig.Wall = time.Since(start)
	if removeDir && len(fig.Violations) == 0 && fig.LeftoverChromium == 0 && fig.Settled {
		_ = os.RemoveAll(dir)
		fig.Dir = ""
	}
	return fig, nil
}

// round feeds the daemon and kills it once, aiming at phase (its k-th
// round of that phase); it returns the kill point. Submit and poll rounds
// go round the simulators and alternate between a kill before and after
// the simulator has processed the request, so even a short run hits each
// simulator's final POST from both sides.
func round(ctx context.Context, rnd *rand.Rand, phase string, k int, undecided func(sim string) bool, d *daemon, tp *taps, cl *client, gen *caseGen, seen *seenEvents) string {
	// Read cases back through the API while the daemon works: whatever
	// it showed must survive the kill.
	rctx, stopReading := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		seen.readLoop(rctx, cl, rand.New(rand.NewPCG(rnd.Uint64(), 3)))
	}()
	defer func() {
		stopReading()
		wg.Wait()
	}()

	postBatch := func(n int) {
		var orders []order
		for range n {
			orders = append(orders, gen.next()...)
		}
		if rnd.IntN(2) == 0 {
			for _, o := range orders {
				cl.post(ctx, o)
			}
			return
		}
		var pw sync.WaitGroup
		for _, o := range orders {
			pw.Add(1)
			go func() { defer pw.Done(); cl.post(ctx, o) }()
		}
		pw.Wait()
	}

	switch phase {
	case "api":
		// Kill during a burst of posts.
		if rnd.IntN(2) == 0 {
			postBatch(1) // something for the daemon to do meanwhile
		}
		delay := time.Duration(rnd.IntN(40)) * time.Millisecond
		done := make(chan struct{})
		go func() {
			defer close(done)
			postBatch(2 + rnd.IntN(3))
		}()
		time.Sleep(delay)
		d.kill()
		<-done
		return "api: during a burst of posts"
	case "submit", "poll":
		sims := []string{"payer", "rbm", "pas"}
		tr := &trap{classes: map[string]bool{}, after: (k/len(sims))%2 == 0, fired: make(chan string, 1)}
		if phase == "submit" {
			// Aim at one simulator, and give it a case to submit.
			tr.sim = sims[k%len(sims)]
			tr.classes[classSubmitFinal] = true
			if k >= 2*len(sims) && rnd.IntN(3) == 0 {
				tr.classes[classSubmitStep] = true
				tr.skip = rnd.IntN(3)
			}
			for _, o := range gen.nextAt(tr.sim) {
				cl.post(ctx, o)
			}
		} else {
			if k < 2*len(sims) {
				tr.sim = sims[k%len(sims)]
				if !undecided(tr.sim) {
					// Nothing there to poll yet: give it a case.
					for _, o := range gen.nextAt(tr.sim) {
						cl.post(ctx, o)
					}
				}
			}
			if rnd.IntN(3) == 0 && tr.sim != "pas" { // the PAS API sends no letters
				tr.classes[classLetter] = true
			} else {
				tr.classes[classPoll] = true
				tr.classes[classLetter] = true
				tr.skip = rnd.IntN(4)
			}
			if rnd.IntN(2) == 0 {
				postBatch(1)
			}
		}
		tp.arm(tr)
		select {
		case p := <-tr.fired:
			return phase + ": " + p
		case <-time.After(trapWait):
		case <-ctx.Done():
		}
		if !tp.disarm(tr) {
			// Sprung just now.
			return phase + ": " + <-tr.fired
		}
		d.kill()
		return phase + ": timer (no " + phase + " request within " + trapWait.String() + ")"
	}
	d.kill()
	return "unknown phase"
}

// seenEvents are the event IDs read back through the API, per case.
type seenEvents struct {
	mu sync.Mutex
	m  map[string]map[int64]bool
}

func (s *seenEvents) readLoop(ctx context.Context, cl *client, rnd *rand.Rand) {
	for ctx.Err() == nil {
		ids := cl.ackedIDs()
		if len(ids) > 0 {
			s.read(ctx, cl, ids[rnd.IntN(len(ids))])
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *seenEvents) read(ctx context.Context, cl *client, id string) *caseView {
	v, err := cl.get(ctx, id)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[id] == nil {
		s.m[id] = map[int64]bool{}
	}
	for _, e := range v.Events {
		s.m[id][e.ID] = true
	}
	return v
}

func (s *seenEvents) all() map[string][]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]int64{}
	for id, evs := range s.m {
		for e := range evs {
			out[id] = append(out[id], e)
		}
		sort.Slice(out[id], func(i, j int) bool { return out[id][i] < out[id][j] })
	}
	return out
}

// settle waits until nothing changes for a while: every acknowledged
// case's status and version, the simulators' requests, the letters served
// and the alerts received. It reports whether that happened before limit.
func settle(ctx context.Context, limit time.Duration, cl *client, rc *receiver, tp *taps, payer, rbm *payersim.Portal, pasSim *pas.Server, seen *seenEvents) bool {
	const quiet = 10 * time.Second
	deadline := time.Now().Add(limit)
	last, since := "", time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var b strings.Builder
		pending := 0
		for _, id := range cl.ackedIDs() {
			v := seen.read(ctx, cl, id)
			if v == nil {
				fmt.Fprintf(&b, "%s:?;", id)
				continue
			}
			// Not the version: a case stopped for a person may gain an
			// event each cycle without changing.
			fmt.Fprintf(&b, "%s:%s;", id, v.Status)
			switch v.Status {
			case "submitted", "pended":
				pending++
			}
		}
		fmt.Fprintf(&b, "|%d|%d|%d|%d|%d", len(payer.Requests()), len(rbm.Requests()), len(pasSim.Requests()), len(rc.received()), len(tp.lettersServed()))
		if fp := b.String(); fp != last {
			last, since = fp, time.Now()
		} else if time.Since(since) >= quiet && pending == 0 {
			return true
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return false
}

// scenario scripts the simulators: most requests are approved at the
// second look, some denied, some pended first; all get letters.
func scenario(payer, rbm *payersim.Portal, pasSim *pas.Server) error {
	rules := []payersim.Rule{
		{Name: "denied injections", CPT: "62323", Outcome: payersim.Outcome{Fate: payersim.FateDeny, AfterChecks: 1, Reason: "Fewer than 4 weeks of conservative care."}},
		{Name: "pended two-level fusions", CPT: "22614", Outcome: payersim.Outcome{Fate: payersim.FatePend, InfoRequest: "Send the MRI report.",
			Then: &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 1}}},
	}
	if err := payer.SetScenario(payersim.Scenario{Rules: rules}); err != nil {
		return err
	}
	if err := rbm.SetScenario(payersim.Scenario{Rules: []payersim.Rule{
		{Name: "denied lumbar CTs", CPT: "72131", Outcome: payersim.Outcome{Fate: payersim.FateDeny, AfterChecks: 1}},
	}}); err != nil {
		return err
	}
	return pasSim.SetScenario(pas.Scenario{Rules: []pas.Rule{
		{Code: "63030", Fate: pas.Deny, Reason: "Not medically necessary."},
		// Decided at the second inquiry, so the PAS API is polled too.
		{Code: "22612", Fate: pas.Pend, Reason: "Send the MRI report.", AfterInquiries: 2, Then: pas.Approve},
	}})
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// writeConfig writes the daemon's authpilot.yaml (fast schedules, a file
// keyring, one webhook sink every alert routes to) and the example flows
// pointed at the simulators.
func writeConfig(dir string, urls map[string]string, hookURL, apiAddr string) error {
	err := examples.WriteFlows(dir, examples.Simulators{Payer: urls["payer"], RBM: urls["rbm"]}, func(_, flow string) string {
		return examples.StepTimeout(flow, "8s")
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "passphrase"), []byte("chaos-keyring-passphrase-0b7d\n"), 0o600); err != nil {
		return err
	}
	y := fmt.Sprintf(`# Written by authpilot chaos.
practice: {name: Chaos Spine, timezone: America/New_York}
data_dir: %[1]s/data
log: {level: info}
server: {listen: %[2]s, token_secret: api-token}
keyring: {backend: file, file_dir: %[1]s/keyring, passphrase_env: AUTHPILOT_CHAOS_NO_SUCH_VARIABLE, passphrase_file: %[1]s/passphrase}
recordings: {capture: on_failure, retention: 1d}
schedules: {deadlines: "@every 5s", digest: ""}
payers:
  - {id: summit-ma, plan_type: medicare_advantage, connector: summit-portal}
  - {id: clearview-rbm, plan_type: medicare_advantage, connector: clearview-rbm}
  - {id: keystone-ppo, plan_type: commercial, connector: keystone-pas}
# Every restart logs in afresh (a kept session dies with the process): the
# hourly login cap (default 6) would hold these simulators' logins after a
# few kills, so it is lifted here.
connectors:
  - {id: summit-portal, kind: portal, flow: connectors/summit-portal.yaml,
     schedule: {submit: "@every 2s", poll: "@every 3s", jitter: 0s}, limits: {pages: 2, timeout: 2m, retries: 1, logins_per_hour: 100000}}
  - {id: clearview-rbm, kind: portal, flow: connectors/clearview-rbm.yaml,
     schedule: {submit: "@every 2s", poll: "@every 3s", jitter: 0s}, limits: {pages: 2, timeout: 2m, retries: 1, logins_per_hour: 100000}}
  - id: keystone-pas
    kind: fhirpas
    options: {base_url: %[3]s, token_url: %[3]s/token, client_id: authpilot, client_secret: keystone-client-secret}
    schedule: {submit: "@every 2s", poll: "@every 3s", jitter: 0s}
    limits: {logins_per_hour: 100000}
notify:
  sinks:
    - {name: %[5]s, type: webhook, url: %[4]q, secret: hook-secret}
  routes:
    - {match: {}, sinks: [%[5]s]}
`, dir, apiAddr, urls["pas"], hookURL, hookSink)
	return os.WriteFile(filepath.Join(dir, "authpilot.yaml"), []byte(y), 0o600)
}

// chaosSecrets are the values of every secret the chaos config names.
var chaosSecrets = func() map[string]string {
	s := payersim.ExampleSecrets()
	s["api-token"] = apiToken
	s["hook-secret"] = hookSecret
	return s
}()

// storeSecrets puts the simulators' credentials, the API token and the
// webhook secret in the daemon's file keyring.
func storeSecrets(cfgPath string) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return fmt.Errorf("chaos config: %w", err)
	}
	kr, err := secrets.Open(cfg.Keyring.Options())
	if err != nil {
		return fmt.Errorf("open keyring: %w", err)
	}
	for name, v := range chaosSecrets {
		if err := kr.Set(name, v); err != nil {
			return fmt.Errorf("keyring: set %s: %w", name, err)
		}
	}
	return nil
}

// Print writes the figures and every violation, grouped by check.
func (f *Figures) Print(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("\nFIGURES (seed %d)", f.Seed)
	p("  kills (SIGKILL)        %d (%d seen to die by SIGKILL), daemon starts %d", f.Kills, f.SignaledKills, f.Starts)
	p("  kill points by phase:")
	byPhase := map[string]int{}
	for _, k := range sortedKeys(f.KillPoints) {
		phase, _, _ := strings.Cut(k, ":")
		byPhase[phase] += f.KillPoints[k]
	}
	for _, ph := range sortedKeys(byPhase) {
		p("    %-6s %3d", ph, byPhase[ph])
		for _, k := range sortedKeys(f.KillPoints) {
			if strings.HasPrefix(k, ph+":") {
				p("      %3d  %s", f.KillPoints[k], strings.TrimPrefix(k, ph+": "))
			}
		}
	}
	p("  API posts              %d (%s); acknowledged %d; refused %s", f.Posts, kv(f.PostsByKind), f.Acked, kvInt(f.Refused))
	p("  cases in the store     %d (%s)", f.Cases, kv(f.CasesByStatus))
	p("  read back via the API  %d events of %d cases while the daemon ran", f.SeenEvents, f.SeenCases)
	p("  waiting on a person    %s (last event needs_human); needs_human events in all %d", kv(f.Waiting), f.NeedsHumanEvents)
	p("  requests at simulators payer portal %d, RBM portal %d, PAS API %d", f.Requests["payer"], f.Requests["rbm"], f.Requests["pas"])
	p("  letters issued         %d requests", f.Letters)
	p("  alerts                 %d stored: %d delivered, %d still queued; webhook attempts %d (%d answered 503 on purpose)",
		f.AlertsStored, f.AlertsDelivered, f.AlertsQueued, f.WebhookAttempts, f.WebhookRefused)
	p("  settled                %v (in %s; nothing changed for 10s)", f.Settled, f.SettleTime.Round(time.Second))
	p("  leftover Chromium      %d processes", f.LeftoverChromium)
	p("  wall time              %s", f.Wall.Round(time.Second))
	counts := map[string]int{}
	for _, v := range f.Violations {
		counts[v.Check]++
	}
	p("  duplicates found       %d", counts[CheckDuplicate])
	p("  missing items          cases %d, events %d, letters %d, alerts %d",
		counts[CheckAckedCase], counts[CheckAckedEvent], counts[CheckLetter], counts[CheckAlertLost]+counts[CheckAlertGhost])
	p("  wrong attachments      another member's request %d, another request %d, unknown ref %d, shared ref %d, foreign auth %d, orphan requests %d",
		counts[CheckForeignRef], counts[CheckWrongReq], counts[CheckUnknownRef], counts[CheckSharedRef], counts[CheckForeignAuth], counts[CheckOrphan])
	if f.Dir != "" {
		p("  run files              %s (daemon.log, data/)", f.Dir)
	}
	if len(f.Violations) == 0 {
		p("\nOK: no violation")
		return
	}
	p("\nVIOLATIONS (%d)", len(f.Violations))
	for _, c := range sortedKeys(counts) {
		p("  %s: %d", c, counts[c])
		for _, v := range f.Violations {
			if v.Check == c {
				p("    - %s", v.Detail)
			}
		}
	}
}

func kv(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func kvInt(m map[int]int) string {
	s := map[string]int{}
	for k, v := range m {
		s[fmt.Sprintf("HTTP %d", k)] = v
	}
	return kv(s)
}
