// Package demo runs authpilot's whole loop against the built-in
// simulators on a fast simulated clock: a spine practice's week of cases is
// taken in, submitted to a payer portal, an imaging RBM portal and a Da
// Vinci PAS API, polled until decided, letters downloaded, deadlines
// watched and alerts delivered to a Slack stand-in and a signed webhook.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/examples"
	"github.com/authpilot/authpilot/internal/loopback"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/payersim/pas"
	"github.com/authpilot/authpilot/schedules"
)

// Options control a demo run.
type Options struct {
	// Out receives the narration (and the summary table unless JSON).
	Out io.Writer
	// JSON prints only the summary, as JSON.
	JSON bool
	// Keep leaves the agent's API running until ctx ends.
	Keep bool
	// DataDir keeps the data (store, documents, recordings) there instead
	// of a temporary directory that is removed afterwards.
	DataDir string
	// Days is how many business days of polling to simulate (default 6).
	Days int
	// Log receives the agent's own log (default: discarded).
	Log *slog.Logger
}

// Summary is the demo's outcome, one row per case.
type Summary struct {
	Cases []CaseSummary `json:"cases"`
	// Alerts is how many alerts the webhook receiver verified and accepted.
	Alerts int `json:"alerts"`
	// SlackMessages is how many messages the Slack stand-in received.
	SlackMessages int    `json:"slack_messages"`
	DataDir       string `json:"data_dir,omitempty"`
}

// CaseSummary is one case's row of the summary.
type CaseSummary struct {
	ID         string           `json:"id"`
	Label      string           `json:"label"`
	Payer      string           `json:"payer"`
	Track      authpilot.Track  `json:"track"`
	Status     authpilot.Status `json:"status"`
	AuthNumber string           `json:"auth_number"`
	// Ordered and Approved are the service lines asked for and those the
	// payer authorized (units 0 for a line it did not).
	Ordered  []authpilot.ApprovedLine `json:"ordered"`
	Approved []authpilot.ApprovedLine `json:"approved,omitempty"`
	Letters  int                      `json:"letters"`
	// Life is the case's story after the payer's first answer, when staff
	// acted on it: what the payer showed and what staff did, in order.
	Life   []string `json:"life,omitempty"`
	Alerts int      `json:"alerts"`
}

const apiToken = "demo-api-token"

// Run runs the demo.
func Run(ctx context.Context, o Options) (*Summary, error) {
	if o.Days <= 0 {
		o.Days = 6
	}
	var outMu sync.Mutex
	say := func(format string, a ...any) {
		if o.JSON {
			return
		}
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(o.Out, format+"\n", a...)
	}
	loc, _ := time.LoadLocation("America/New_York")
	// 20× real time: fast enough for a week in seconds (days are jumped),
	// slow enough that a TOTP code (30 s) outlives the MFA form.
	clock := newFastClock(mondayMorning(time.Now(), loc), 20)

	dir := o.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "authpilot-demo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	sims, err := payersim.Start(payersim.SetOptions{Now: clock.Now})
	if err != nil {
		return nil, err
	}
	defer sims.Close()

	hook := &webhookReceiver{secret: "whsec_" + "ZGVtby13ZWJob29rLXNpZ25pbmcta2V5LTIwMjY=", now: clock.Now, seen: map[string]bool{}}
	slack := &slackReceiver{out: func(s string) { say("%s", s) }}
	hookURL, stopHook, err := loopback.Serve(hook, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer stopHook()
	slackURL, stopSlack, err := loopback.Serve(slack, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer stopSlack()

	cfgPath, err := writeConfig(dir, sims, hookURL)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("demo config: %w", err)
	}
	secrets := demoSecrets(slackURL, hook.secret)
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a, err := agent.New(cfg, agent.Options{Secrets: secrets, Logger: log, Clock: clock, NoAPI: !o.Keep})
	if err != nil {
		return nil, err
	}
	defer a.Close()

	cal := schedules.NewCalendar(loc, nil)
	week := practiceWeek(authpilot.Today(clock.Now(), loc), cal)
	if err := script(sims, week); err != nil {
		return nil, err
	}
	say("authpilot demo — %s, a simulated week (days jump; 1 s ≈ 20 simulated seconds in between)", cfg.Practice.Name)
	say("  payer portal  %s   (Summit Health Plan, Medicare Advantage: CSRF login + TOTP, 4-step wizard)", sims.PayerURL)
	say("  RBM portal    %s   (ClearView Imaging Benefits: long order form, tracking numbers)", sims.RBMURL)
	say("  PAS API       %s   (Keystone PPO: Da Vinci PAS Claim/$submit and $inquire, OAuth2)", sims.PASURL)
	say("  alerts go to a Slack stand-in (shown below) and a signed webhook at %s", hookURL)
	say("")

	// Monday 08:00: intake.
	ids := make([]string, len(week))
	labels := map[string]string{}
	say("%s  INTAKE  %d cases from the practice-management system", stamp(clock.Now(), loc), len(week))
	for i := range week {
		c, err := a.Intake().Create(ctx, &week[i].nc, "demo")
		if err != nil {
			return nil, fmt.Errorf("intake %s: %w", week[i].label, err)
		}
		ids[i] = c.ID
		labels[c.ID] = week[i].label
		what := "to submit"
		if c.Tracked {
			what = "tracked: filed by phone as " + c.PayerRef
		}
		say("  case %s  %-42s %-14s %s", c.ID, week[i].label, c.Payer, what)
	}

	tell := &narrator{a: a, ids: ids, labels: labels, say: say, seen: map[string]int{}, loc: loc, cal: cal}
	byRef := map[string]string{}
	for i := range week {
		byRef[week[i].nc.ExternalRef] = ids[i]
	}
	coord := &staff{a: a, sims: sims, clock: clock, loc: loc, say: say, tell: tell, ids: byRef}
	// Monday 08:15: the submit run.
	clock.JumpTo(clock.Now().Add(15 * time.Minute))
	say("\n%s  SUBMIT  one visit per portal", stamp(clock.Now(), loc))
	for _, r := range a.SubmitNow(ctx) {
		say("  %-14s %d submitted of %d in %s%s", r.Connector, r.Submitted, r.Cases, "one session", errSuffix(r.Err))
	}
	if err := tell.report(ctx); err != nil {
		return nil, err
	}
	flush(ctx, a, say)

	day := clock.Now()
	for i := 0; i < o.Days; i++ {
		day = nextBusinessMorning(day, cal)
		clock.JumpTo(day)
		say("\n%s  POLL    one login per portal, list pages first, details only for changed rows", stamp(clock.Now(), loc))
		var failed []string
		a.PollNow(ctx, func(r agent.RunResult) {
			say("  %-14s %d pending, %d changed%s", r.Connector, r.Cases, r.Changed, errSuffix(r.Err))
			if r.Err != nil {
				failed = append(failed, r.Connector)
			}
		})
		if len(failed) > 0 {
			// The daemon would catch up at its next scheduled poll; the
			// demo tries once more the same morning.
			say("  retrying %s", strings.Join(failed, ", "))
			a.PollNow(ctx, func(r agent.RunResult) {
				say("  %-14s %d pending, %d changed%s", r.Connector, r.Cases, r.Changed, errSuffix(r.Err))
			}, failed...)
		}
		if err := tell.report(ctx); err != nil {
			return nil, err
		}
		flush(ctx, a, say)
		if err := coord.day(ctx, i); err != nil {
			return nil, fmt.Errorf("staff: %w", err)
		}
		flush(ctx, a, say)
	}

	sum, err := summarize(ctx, a, ids, labels, hook, slack)
	if err != nil {
		return nil, err
	}
	if o.DataDir != "" {
		sum.DataDir = dir
	}
	if o.JSON {
		enc := json.NewEncoder(o.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return nil, err
		}
	} else {
		printSummary(o.Out, sum)
	}
	if o.Keep {
		if err := a.Listen(); err != nil {
			return sum, err
		}
		say("\nagent API on http://%s (bearer token %q); simulators stay up. Ctrl-C to stop.", a.Addr(), apiToken)
		say("  curl -H 'Authorization: Bearer %s' http://%s/v1/cases", apiToken, a.Addr())
		if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			return sum, err
		}
	}
	return sum, nil
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return "  (error: " + err.Error() + ")"
}

func stamp(t time.Time, loc *time.Location) string { return t.In(loc).Format("Mon Jan 2 15:04") }

// nextBusinessMorning is 09:00 on the business day after t's.
func nextBusinessMorning(t time.Time, cal *schedules.Calendar) time.Time {
	d := cal.AddBusinessDays(t, 1)
	y, m, day := d.Date()
	return time.Date(y, m, day, 9, 0, 0, 0, cal.Location())
}

// flush delivers the alerts raised so far (the daemon's dispatcher does
// this continuously; the demo does it between cycles to keep the story in
// order).
func flush(ctx context.Context, a *agent.Agent, say func(string, ...any)) {
	if _, err := a.CheckDeadlines(ctx); err != nil {
		say("  deadline check failed: %v", err)
	}
	// Slack takes one message a second per webhook: keep passing until the
	// outbox has nothing left that is due (simulated seconds are short).
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if err := a.FlushAlerts(ctx, 30*time.Second); err != nil {
			say("  alert delivery: %v", err)
			return
		}
		pending, err := a.Store().PendingDeliveries(ctx, 0)
		if err != nil || len(pending) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// narrator tells what happened to each case since it last looked.
type narrator struct {
	a      *agent.Agent
	ids    []string
	labels map[string]string
	say    func(string, ...any)
	seen   map[string]int // events already told, per case
	loc    *time.Location
	cal    *schedules.Calendar
}

// report narrates the events added since the last report.
func (n *narrator) report(ctx context.Context) error {
	a, labels, say := n.a, n.labels, n.say
	for _, id := range n.ids {
		evs, err := a.Store().Events(ctx, id)
		if err != nil {
			return err
		}
		c, err := a.Store().GetCase(ctx, id)
		if err != nil {
			return err
		}
		from := n.seen[id]
		n.seen[id] = len(evs)
		for _, e := range evs[from:] {
			switch e.Type {
			case authpilot.EventSubmitted:
				say("  ✓ %s  %-42s submitted → %s", id, labels[id], c.PayerRef)
			case authpilot.EventStatusChanged:
				line := fmt.Sprintf("  • %s  %-42s %s → %s", id, labels[id], e.From, e.To)
				switch {
				case e.RawText == "":
				case strings.HasPrefix(e.Actor, "agent:"):
					line += fmt.Sprintf("  (portal: %q)", e.RawText)
				default:
					line += fmt.Sprintf("  (%s)", e.RawText)
				}
				say("%s", line)
				if d := c.Determination; d != nil && e.To.Decided() {
					if d.AuthNumber != "" {
						say("      auth %s, valid %s to %s", d.AuthNumber, d.ValidFrom, d.ValidTo)
					}
					if e.To == authpilot.StatusPartiallyApproved || e.To == authpilot.StatusModified {
						say("      approved: %s (ordered: %s)", linesText(d.ApprovedLines), linesText(orderedLines(c)))
					}
					if d.DenialReason != "" {
						say("      reason: %s", d.DenialReason)
					}
				}
			case authpilot.EventDocumentStored:
				var det struct {
					SHA  string `json:"sha256"`
					Kind string `json:"kind"`
				}
				_ = json.Unmarshal(e.Detail, &det)
				what := "letter downloaded"
				switch {
				case det.Kind != authpilot.DocLetter:
					what = "document attached"
				case !strings.HasPrefix(e.Actor, "agent"):
					what = "letter filed by hand"
				}
				say("  ⤓ %s  %-42s %s, sha256 %s…", id, labels[id], what, short(det.SHA))
			case authpilot.EventInfoResponse, authpilot.EventPeerToPeer, authpilot.EventDeterminationRecorded:
				sayAction(say, n.loc, id, labels[id], e)
			case authpilot.EventSubmitFailed, authpilot.EventConnectorError, authpilot.EventNeedsHuman:
				say("  ! %s  %-42s %s: %s", id, labels[id], e.Type, c.LastError)
			}
		}
	}
	return nil
}

func orderedLines(c *authpilot.Case) []authpilot.ApprovedLine {
	out := make([]authpilot.ApprovedLine, len(c.ServiceLines))
	for i, l := range c.ServiceLines {
		out[i] = authpilot.ApprovedLine{Code: l.Code, Units: l.Units}
	}
	return out
}

// linesText is "63030 x1, 63035 x1".
func linesText(ls []authpilot.ApprovedLine) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("%s x%d", l.Code, l.Units)
	}
	return strings.Join(parts, ", ")
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

func summarize(ctx context.Context, a *agent.Agent, ids []string, labels map[string]string, hook *webhookReceiver, slack *slackReceiver) (*Summary, error) {
	per := hook.perCase()
	s := &Summary{}
	for _, id := range ids {
		c, err := a.Store().GetCase(ctx, id)
		if err != nil {
			return nil, err
		}
		row := CaseSummary{ID: c.ID, Label: labels[id], Payer: c.Payer, Track: c.Track, Status: c.Status, Alerts: per[id]}
		row.Ordered = orderedLines(c)
		evs, err := a.Store().Events(ctx, id)
		if err != nil {
			return nil, err
		}
		row.Life = lifeOf(c, evs)
		if d := c.Determination; d != nil {
			row.AuthNumber = d.AuthNumber
			row.Approved = d.ApprovedLines
			row.Letters = len(d.Letters)
		}
		s.Cases = append(s.Cases, row)
	}
	s.Alerts, _ = hook.total()
	slack.mu.Lock()
	s.SlackMessages = slack.msgs
	slack.mu.Unlock()
	return s, nil
}

func printSummary(w io.Writer, s *Summary) {
	fmt.Fprintln(w, "\nSUMMARY")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tWHAT\tPAYER\tTRACK\tSTATUS\tAUTH #\tLETTERS\tALERTS")
	byStatus := map[authpilot.Status]int{}
	for _, c := range s.Cases {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", c.ID, c.Label, c.Payer, c.Track, c.Status, c.AuthNumber, c.Letters, c.Alerts)
		byStatus[c.Status]++
	}
	tw.Flush()
	fmt.Fprintln(w, "\nA CASE'S LIFE (staff actions through agent.Actions, as POST /v1/cases/{id}/actions/{name} and the CLI do)")
	for _, c := range s.Cases {
		if len(c.Life) > 0 {
			fmt.Fprintf(w, "  %-32s %s\n", c.Label, strings.Join(c.Life, " → "))
		}
	}
	var parts []string
	for st, n := range byStatus {
		parts = append(parts, fmt.Sprintf("%d %s", n, st))
	}
	sort.Strings(parts)
	fmt.Fprintf(w, "\n%d cases: %s. %d alerts delivered to the signed webhook, %d Slack messages.\n",
		len(s.Cases), strings.Join(parts, ", "), s.Alerts, s.SlackMessages)
}

// script tells the simulators each case's fate, and files the tracked
// case "by phone" so authpilot finds it there.
func script(sims *payersim.Set, week []demoCase) error {
	var payerRules, rbmRules []payersim.Rule
	var pasRules []pas.Rule
	for i := range week {
		dc := &week[i]
		c := &dc.nc.Case
		switch {
		case dc.pas != nil:
			r := *dc.pas
			r.MemberID = c.Patient.MemberID
			pasRules = append(pasRules, r)
		case dc.portal != nil:
			r := payersim.Rule{Name: dc.label, MemberID: c.Patient.MemberID, CPT: dc.code, Outcome: *dc.portal}
			if c.Payer == rbmPayer {
				rbmRules = append(rbmRules, r)
			} else {
				payerRules = append(payerRules, r)
			}
		}
		if dc.tracked {
			var lines []payersim.ServiceLine
			for _, l := range c.ServiceLines {
				lines = append(lines, payersim.ServiceLine{Code: l.Code, Units: l.Units, Detail: l.Level})
			}
			out := *dc.portal
			ref, err := sims.Payer.AddRequest(payersim.Submission{MemberID: c.Patient.MemberID, DOB: c.Patient.DOB.String(),
				OrderingNPI: c.OrderingProvider.NPI, Lines: lines, Diagnoses: c.Diagnoses, ServiceDate: c.ServiceDate.String(), Outcome: &out})
			if err != nil {
				return fmt.Errorf("seed tracked request: %w", err)
			}
			c.Tracked, c.PayerRef = true, ref
		}
	}
	// Code-specific rules first: the implant shares its patient with the
	// fusion.
	sort.SliceStable(payerRules, func(i, j int) bool { return payerRules[i].CPT != "" && payerRules[j].CPT == "" })
	if err := sims.Payer.SetScenario(payersim.Scenario{Rules: payerRules}); err != nil {
		return err
	}
	if err := sims.RBM.SetScenario(payersim.Scenario{Rules: rbmRules}); err != nil {
		return err
	}
	return sims.PAS.SetScenario(pas.Scenario{Rules: pasRules})
}

// demoSecrets are the values of every secret the demo's config names.
func demoSecrets(slackURL, hookSecret string) authpilot.StaticSecrets {
	s := payersim.ExampleSecrets()
	s["api-token"] = apiToken
	s["slack-coordinators-url"] = slackURL
	s["practice-webhook-signing"] = hookSecret
	return s
}

// writeConfig writes the demo's authpilot.yaml and the example flows,
// pointed at the simulators.
func writeConfig(dir string, sims *payersim.Set, hookURL string) (string, error) {
	if err := examples.WriteFlows(dir, examples.Simulators{Payer: sims.PayerURL, RBM: sims.RBMURL}, nil); err != nil {
		return "", err
	}
	cfg := fmt.Sprintf(demoConfig, dir, sims.PASURL, sims.PASURL, hookURL)
	p := filepath.Join(dir, "authpilot.yaml")
	return p, os.WriteFile(p, []byte(cfg), 0o600)
}

const demoConfig = `# Written by authpilot demo.
practice:
  name: Lakeside Spine & Orthopedics
  timezone: America/New_York
data_dir: %s
recordings: {capture: on_failure, retention: 7d}
schedules: {deadlines: "", digest: ""}
deadlines:
  lead_times: [48h, 24h]
payers:
  - {id: summit-ma, name: Summit Health Plan, plan_type: medicare_advantage, connector: summit-portal,
     deadlines: {peer_to_peer_business_days: 5}}
  - {id: clearview-rbm, name: ClearView Imaging Benefits, plan_type: medicare_advantage, connector: clearview-rbm}
  - {id: keystone-ppo, name: Keystone PPO, plan_type: commercial, connector: keystone-pas}
connectors:
  - id: summit-portal
    kind: portal
    flow: connectors/summit-portal.yaml
    schedule: {submit: "", poll: ""}
    limits: {pages: 2, timeout: 5m, retries: 1}
  - id: clearview-rbm
    kind: portal
    flow: connectors/clearview-rbm.yaml
    schedule: {submit: "", poll: ""}
    limits: {pages: 2, timeout: 5m, retries: 1}
  - id: keystone-pas
    kind: fhirpas
    options:
      base_url: %s
      token_url: %s/token
      client_id: authpilot
      client_secret: keystone-client-secret
    schedule: {submit: "", poll: ""}
notify:
  sinks:
    - {name: coordinators, type: slack, url_secret: slack-coordinators-url}
    - {name: practice-ehr, type: webhook, url: %s, secret: practice-webhook-signing}
  routes:
    - match: {types: [determination_received, more_info_requested, deadline_approaching, deadline_missed, needs_human, portal_changed, connector_failing]}
      sinks: [coordinators]
      continue: true
    - match: {}
      sinks: [practice-ehr]
`
