package portal

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/recordings"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

// The example configs, as an admin wrote them, against the simulators.
// Only base_url changes (and, for fault tests, the step timeout).

func exampleConfig(t *testing.T, file, stepTimeout string) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/connectors/" + file)
	if err != nil {
		t.Fatal(err)
	}
	cfg := regexp.MustCompile(`(?m)^base_url: .*$`).ReplaceAllString(string(b), "base_url: BASE")
	if stepTimeout != "" {
		cfg = strings.Replace(cfg, "step_timeout: 20s", "step_timeout: "+stepTimeout, 1)
	}
	return cfg
}

var summitSecrets = notifytest.Secrets{
	"summit-username": payersim.DefaultPayerUsername,
	"summit-password": payersim.DefaultPayerPassword,
	"summit-totp":     payersim.DefaultTOTPSecret,
}

var clearviewSecrets = notifytest.Secrets{
	"clearview-email":    payersim.DefaultRBMEmail,
	"clearview-password": payersim.DefaultRBMPassword,
}

type summit struct {
	*harness
	sim   *payersim.Portal
	clock *clocktest.Fake
}

// newSimHarness serves a payer simulator on loopback and builds a
// connector from cfg against it, on clock.
func newSimHarness(t *testing.T, sim http.Handler, clock *clocktest.Fake, cfg string, secrets notifytest.Secrets) *harness {
	t.Helper()
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return newHarness(t, srv, cfg, harnessOpts{secrets: secrets, now: clock.Now})
}

func newSummit(t *testing.T, stepTimeout string) *summit {
	return newSummitWith(t, exampleConfig(t, "summit-portal.yaml", stepTimeout))
}

func newSummitWith(t *testing.T, cfg string) *summit {
	t.Helper()
	needBrowser(t)
	clock := newClock()
	sim := payersim.NewPayer(payersim.PayerOptions{Now: clock.Now})
	h := newSimHarness(t, sim, clock, cfg, summitSecrets)
	return &summit{harness: h, sim: sim, clock: clock}
}

// seedInReview files n requests with the given fate and returns cases
// tracking them, as the agent last saw them ("In Review").
func (p *summit) seedInReview(t *testing.T, n int, fate *payersim.Outcome) []*authpilot.Case {
	t.Helper()
	refs, err := payersim.Seed(p.sim, payersim.SampleSubmissions(n, fate)...)
	if err != nil {
		t.Fatal(err)
	}
	var cases []*authpilot.Case
	for _, ref := range refs {
		cases = append(cases, &authpilot.Case{ID: ref, PayerRef: ref, Status: authpilot.StatusSubmitted, StatusText: "In Review"})
	}
	return cases
}

// inTabs is the Summit example without fetch mode and numbered list pages:
// every page is navigated in a tab and the list follows its next link.
func inTabs(t *testing.T, cfg string) string {
	t.Helper()
	return without(t, nextLink(t, cfg), `(?m)^  fetch: true\n`)
}

// nextLink is the Summit example without numbered list pages: the list
// follows its next link.
func nextLink(t *testing.T, cfg string) string {
	t.Helper()
	return without(t, without(t, cfg, `(?m)^    page_count: .*\n`), `(?m)^    page_url: .*\n`)
}

func without(t *testing.T, cfg, re string) string {
	t.Helper()
	out := regexp.MustCompile(re).ReplaceAllString(cfg, "")
	if out == cfg {
		t.Fatalf("the Summit example no longer has a line matching %s", re)
	}
	return out
}

// lumbarFusion is a two-level lumbar fusion (22612 + 22614) with its
// conservative-care file.
func lumbarFusion(t *testing.T) *authpilot.Case {
	c := testCase(t)
	c.PayerRef = ""
	c.Status = authpilot.StatusSubmitting
	c.OrderingProvider = authpilot.Provider{NPI: "1234567893", Name: "Dr. Spine"}
	c.Urgency = authpilot.UrgencyStandard
	return c
}

func TestSummitSubmitLumbarFusion(t *testing.T) {
	t.Parallel()
	p := newSummit(t, "")
	s := p.mustOpen()
	if st := p.sim.Stats(); st.Logins != 1 || st.MFAAttempts != 1 {
		t.Fatalf("after open: logins %d, mfa attempts %d; want 1 and 1", st.Logins, st.MFAAttempts)
	}
	c := lumbarFusion(t)
	commits := 0
	intent := p.clock.Now()
	sub, err := s.Submit(testCtx(t), c, func(context.Context) error {
		commits++
		if n := p.sim.Stats().Submissions; n != 0 {
			t.Errorf("commit ran after the request was filed (%d submissions)", n)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if commits != 1 {
		t.Errorf("commit called %d times, want 1", commits)
	}
	if !regexp.MustCompile(`^SHP-2026-\d{6}$`).MatchString(sub.PayerRef) || sub.Status != authpilot.StatusSubmitted || sub.StatusText != "In Review" {
		t.Errorf("submission %+v", sub)
	}
	reqs := p.sim.Requests()
	if len(reqs) != 1 || p.sim.Stats().Submissions != 1 {
		t.Fatalf("%d requests filed, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Reference != sub.PayerRef || r.MemberID != "W123456789" || r.DOB != "1961-07-04" || r.ServiceDate != "2026-04-20" ||
		r.Urgency != "standard" || r.OrderingNPI != "1234567893" || r.Notes != c.ClinicalNotes {
		t.Errorf("filed request %+v", r.Submission)
	}
	if len(r.Lines) != 2 || r.Lines[0].Code != "22612" || r.Lines[0].Units != 1 || r.Lines[0].Detail != "L4-L5" ||
		r.Lines[1].Code != "22614" || r.Lines[1].Units != 2 {
		t.Errorf("filed lines %+v", r.Lines)
	}
	if strings.Join(r.Diagnoses, ",") != "M43.16,M48.061" {
		t.Errorf("filed diagnoses %v", r.Diagnoses)
	}
	if len(r.Documents) != 2 {
		t.Errorf("filed documents %+v, want both attachments", r.Documents)
	}
	if p.sim.Stats().Logins != 1 {
		t.Errorf("the submit logged in again")
	}

	// A failing commit stops the submit before the final click.
	c2 := lumbarFusion(t)
	_, err = s.Submit(testCtx(t), c2, func(context.Context) error { return errors.New("disk full") })
	if err == nil || !strings.Contains(err.Error(), "record submit intent: disk full") {
		t.Fatalf("submit with failing commit: %v", err)
	}
	if n := p.sim.Stats().Submissions; n != 1 {
		t.Errorf("%d submissions after a failed commit, want still 1", n)
	}

	// Find reconciles: the request filed above is found by member and code.
	found, err := s.Find(testCtx(t), c, intent)
	if err != nil || found.PayerRef != sub.PayerRef || found.Status != authpilot.StatusSubmitted {
		t.Errorf("find = %+v, %v", found, err)
	}
	other := lumbarFusion(t)
	other.Patient.MemberID = "NOSUCH999"
	if _, err := s.Find(testCtx(t), other, intent); !errors.Is(err, authpilot.ErrRequestNotFound) {
		t.Errorf("find of an unknown member: %v, want ErrRequestNotFound", err)
	}
}

func TestSummitPollListOneLoginDetailsOnlyForChangedRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		tabs, next bool
		// listViews: 55 rows, 20 a page; guessPages is what the connector
		// remembers of the list from an earlier poll.
		guessPages, listViews int
		// detailLoads: the 4 changed rows and the unlisted case; fetched,
		// the unlisted case's "not found" page is read again in a tab.
		detailLoads int
	}{
		{name: "fetched", listViews: 3, detailLoads: 6},
		{name: "fetched, two pages asked for ahead that do not exist", guessPages: 5, listViews: 5, detailLoads: 6},
		{name: "fetched, following the next link", next: true, listViews: 3, detailLoads: 6},
		{name: "in tabs", tabs: true, listViews: 3, detailLoads: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := exampleConfig(t, "summit-portal.yaml", "")
			switch {
			case tt.tabs:
				cfg = inTabs(t, cfg)
			case tt.next:
				cfg = nextLink(t, cfg)
			}
			p := newSummitWith(t, cfg)
			testPollListDetailsOnlyForChangedRows(t, p, tt.guessPages, tt.listViews, tt.detailLoads)
			fetched, missed := 0, 0
			for _, n := range p.rec.StepNames() {
				if strings.HasSuffix(n, "(fetched)") {
					fetched++
				}
				if strings.Contains(n, "read again in a tab") {
					missed++
				}
			}
			// Fetched: every list page and detail read without a tab but the
			// unlisted case's, whose "not found" is confirmed in a tab.
			if tt.tabs && (fetched != 0 || missed != 0) {
				t.Errorf("in tabs: %d fetched steps, %d misses, want none", fetched, missed)
			}
			if !tt.tabs && (fetched < tt.listViews+4 || missed != 1) {
				t.Errorf("fetched: %d fetched steps, %d misses; want at least %d and 1", fetched, missed, tt.listViews+4)
			}
		})
	}
}

func testPollListDetailsOnlyForChangedRows(t *testing.T, p *summit, guessPages, listViews, detailLoads int) {
	// 50 requests still in review, 3 approved and 1 denied since the last
	// poll (decided at the first view).
	pending, err := payersim.Seed(p.sim, payersim.SampleSubmissions(50, &payersim.Outcome{Fate: payersim.FatePend, AfterChecks: 1000})...)
	if err != nil {
		t.Fatal(err)
	}
	decided := payersim.SampleSubmissions(4, &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 0, ValidityDays: 90})
	decided[3].Outcome = &payersim.Outcome{Fate: payersim.FateDeny, AfterChecks: 0, Reason: "Not medically necessary."}
	for i := range decided {
		decided[i].MemberID = "DEC00000" + string(rune('1'+i))
	}
	decidedRefs, err := payersim.Seed(p.sim, decided...)
	if err != nil {
		t.Fatal(err)
	}
	var cases []*authpilot.Case
	for i, ref := range append(pending, decidedRefs...) {
		cases = append(cases, &authpilot.Case{
			ID: "case-" + ref, PayerRef: ref, Status: authpilot.StatusSubmitted, StatusText: "In Review",
			ServiceLines: []authpilot.ServiceLine{{Code: "22630", Units: 1}}, Patient: authpilot.Patient{MemberID: "M" + string(rune('A'+i%26))},
		})
	}
	// One case the portal does not list.
	cases = append(cases, &authpilot.Case{ID: "case-missing", PayerRef: "SHP-2026-999999", Status: authpilot.StatusSubmitted, StatusText: "In Review"})

	s := p.mustOpen()
	s.c.setListPages(guessPages)
	p.sim.ResetStats()
	obs, err := s.Poll(testCtx(t), cases)
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	st := p.sim.Stats()
	if st.Logins != 0 || st.LoginAttempts != 0 {
		t.Errorf("the poll logged in again: %d logins", st.Logins)
	}
	s.mu.Lock()
	opened := len(s.all)
	s.mu.Unlock()
	if opened != 2 {
		t.Errorf("the visit opened %d pages, want limits.pages = 2", opened)
	}
	if st.ListViews != listViews {
		t.Errorf("list views %d, want %d", st.ListViews, listViews)
	}
	if got := st.PageLoadsByRoute["GET /auth/{ref}"]; got != detailLoads {
		t.Errorf("detail pages opened %d, want %d", got, detailLoads)
	}
	if st.LettersDownloaded != 4 {
		t.Errorf("letters downloaded %d, want 4", st.LettersDownloaded)
	}
	byID := map[string]authpilot.Observation{}
	for _, o := range obs {
		byID[o.CaseID] = o
	}
	if len(byID) != len(cases) {
		t.Fatalf("%d observations for %d cases", len(byID), len(cases))
	}
	for _, ref := range pending {
		o := byID["case-"+ref]
		if !o.Unchanged || o.Status != authpilot.StatusSubmitted || o.StatusText != "In Review" || o.Err != nil || o.Determination != nil {
			t.Errorf("pending %s: %+v", ref, o)
		}
	}
	for i, ref := range decidedRefs {
		o := byID["case-"+ref]
		req, _ := p.sim.Request(ref)
		if o.Err != nil || o.Unchanged || o.Determination == nil || len(o.Files) != 1 {
			t.Errorf("decided %s: %+v", ref, o)
			continue
		}
		d := o.Determination
		f := o.Files[0]
		if f.Kind != authpilot.DocLetter || !strings.HasPrefix(string(f.Data), "%PDF-") || f.Name != "Determination_"+ref+".pdf" {
			t.Errorf("%s letter %q %q %q", ref, f.Kind, f.Name, f.Data[:min(8, len(f.Data))])
		}
		if i < 3 {
			if o.Status != authpilot.StatusApproved || d.AuthNumber != req.AuthNumber || d.AuthNumber == "" ||
				d.ValidFrom != authpilot.DateOf(req.ValidFrom) || d.ValidTo != authpilot.DateOf(req.ValidTo) ||
				d.DecidedAt == nil || len(d.ApprovedLines) == 0 {
				t.Errorf("approved %s: %+v / %+v", ref, o, d)
			}
		} else if o.Status != authpilot.StatusDenied || d.DenialReason != "Not medically necessary." || d.AuthNumber != "" {
			t.Errorf("denied %s: %+v / %+v", ref, o, d)
		}
	}
	if o := byID["case-missing"]; !errors.Is(o.Err, authpilot.ErrRequestNotFound) || o.Status != "" {
		t.Errorf("unlisted case: %+v", o)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Apply what was observed; the next visit reuses the kept session and
	// opens no detail page at all.
	for _, c := range cases {
		o := byID[c.ID]
		if o.Status != "" {
			c.Status, c.StatusText = o.Status, o.StatusText
		}
		if o.Determination != nil {
			d := *o.Determination
			d.Letters = []string{"sha-of-letter"}
			c.Determination = &d
		}
	}
	p.sim.ResetStats()
	s2 := p.mustOpen()
	obs, err = s2.Poll(testCtx(t), cases[:len(cases)-1])
	if err != nil {
		t.Fatalf("second poll: %v", err)
	}
	st = p.sim.Stats()
	if st.Logins != 0 || st.LoginAttempts != 0 || st.DetailViews != 0 || st.LettersDownloaded != 0 {
		t.Errorf("second visit: logins %d, attempts %d, details %d, letters %d; want all 0", st.Logins, st.LoginAttempts, st.DetailViews, st.LettersDownloaded)
	}
	for _, o := range obs {
		if !o.Unchanged || o.Err != nil {
			t.Errorf("second poll %s: %+v", o.CaseID, o)
		}
	}
}

func TestSummitSessionExpiryRecoveredByOneRelogin(t *testing.T) {
	t.Parallel()
	p := newSummit(t, "")
	cases := p.seedInReview(t, 45, &payersim.Outcome{Fate: payersim.FatePend, AfterChecks: 1000})
	s := p.mustOpen()
	// Two more pages load (list page 1, then one of pages 2 and 3, fetched
	// side by side), then the session ends: the other lands on the login
	// page, is read again in a tab and logs in again.
	if err := p.sim.SetFaults(payersim.Faults{ExpireSessionsAfter: 2}); err != nil {
		t.Fatal(err)
	}
	obs, err := s.Poll(testCtx(t), cases)
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	if st := p.sim.Stats(); st.Logins != 2 {
		t.Errorf("logins %d, want 2 (the visit's and one re-login)", st.Logins)
	}
	for _, o := range obs {
		if o.Err != nil || !o.Unchanged {
			t.Errorf("%s: %+v", o.CaseID, o)
		}
	}
	var relogged bool
	for _, n := range p.rec.StepNames() {
		relogged = relogged || strings.HasPrefix(n, "login.steps[0] goto")
	}
	if !relogged {
		t.Errorf("no login steps recorded")
	}
}

func TestSummitFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		faults    payersim.Faults
		wantClass string
		wantStep  string
		// retryAfter is the maintenance page's Retry-After, read from the
		// document response's headers.
		retryAfter time.Duration
	}{
		{"layout variant", payersim.Faults{LayoutVariant: true}, "portal_changed", `login.steps[4] click: portal changed: "#login-button" did not appear within 2s`, 0},
		{"captcha", payersim.Faults{Captcha: true}, "needs_human", `login.steps[5].expect.mfa.then[2] expect: needs a human: interrupt "captcha": the portal asks for a CAPTCHA`, 0},
		{"maintenance", payersim.Faults{Maintenance: true}, "retryable", `login.steps[0] goto: temporary failure: the portal answered HTTP 503`, 10 * time.Minute},
		{"maintenance 30s", payersim.Faults{Maintenance: true, RetryAfter: 30 * time.Second}, "retryable", `login.steps[0] goto: temporary failure: the portal answered HTTP 503`, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newSummit(t, "2s")
			if err := p.sim.SetFaults(tt.faults); err != nil {
				t.Fatal(err)
			}
			_, err := p.open(testCtx(t))
			if authpilot.ErrorClass(err) != tt.wantClass || !strings.HasPrefix(err.Error(), tt.wantStep) {
				t.Fatalf("open: %v (%s)\nwant %s... (%s)", err, authpilot.ErrorClass(err), tt.wantStep, tt.wantClass)
			}
			var ce *authpilot.Error
			if !errors.As(err, &ce) || !strings.HasPrefix(string(ce.Screenshot), "\x89PNG") {
				t.Errorf("no screenshot on the error")
			}
			if got := authpilot.RetryAfterOf(err); got != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", got, tt.retryAfter)
			}
			if p.sim.Stats().Logins != 0 {
				t.Errorf("a login was counted")
			}
		})
	}
}

func TestSummitLayoutChangeDuringPoll(t *testing.T) {
	t.Parallel()
	p := newSummit(t, "2s")
	cases := p.seedInReview(t, 3, &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 0})
	s := p.mustOpen()
	if err := p.sim.SetFaults(payersim.Faults{LayoutVariant: true}); err != nil {
		t.Fatal(err)
	}
	obs, err := s.Poll(testCtx(t), cases)
	if obs != nil {
		t.Errorf("observations %+v from a changed portal, want none", obs)
	}
	if !errors.Is(err, authpilot.ErrPortalChanged) || !strings.HasPrefix(err.Error(), `poll.list.rows wait_for: portal changed: "table#auth-list tbody tr.auth-row" or "#no-results" did not appear`) {
		t.Fatalf("poll: %v", err)
	}
	var ce *authpilot.Error
	if !errors.As(err, &ce) || len(ce.Screenshot) == 0 {
		t.Errorf("no screenshot")
	}
	if n := len(p.rec.Artifacts("screenshot")); n == 0 {
		t.Errorf("the failed step attached no screenshot to the recording")
	}
	if p.sim.Stats().DetailViews != 0 {
		t.Errorf("a detail page was opened")
	}
}

type clearview struct {
	*harness
	sim *payersim.Portal
}

func newClearview(t *testing.T, stepTimeout string) *clearview {
	t.Helper()
	needBrowser(t)
	clock := newClock()
	sim := payersim.NewRBM(payersim.RBMOptions{Now: clock.Now})
	h := newSimHarness(t, sim, clock, exampleConfig(t, "clearview-rbm.yaml", stepTimeout), clearviewSecrets)
	return &clearview{harness: h, sim: sim}
}

func TestClearviewSubmitAndLookup(t *testing.T) {
	t.Parallel()
	p := newClearview(t, "2s")
	s := p.mustOpen()
	mri := testCase(t)
	mri.PayerRef = ""
	mri.OrderingProvider = authpilot.Provider{NPI: "1234567893", Name: "Dr. Spine"}
	mri.ServiceLines = []authpilot.ServiceLine{{Code: "72148", Units: 1, Laterality: "Lumbar"}}
	sub, err := s.Submit(testCtx(t), mri, func(context.Context) error { return nil })
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	r, ok := p.sim.Request(sub.PayerRef)
	if !ok || !regexp.MustCompile(`^CV-[0-9A-Z]{7}$`).MatchString(sub.PayerRef) {
		t.Fatalf("tracking number %q not filed", sub.PayerRef)
	}
	if r.Lines[0].Code != "72148" || r.Urgency != "expedited" || strings.Join(r.Diagnoses, ",") != "M43.16,M48.061" || len(r.Documents) != 2 {
		t.Errorf("filed order %+v", r.Submission)
	}

	approved, err := p.sim.AddRequest(payersim.Submission{MemberID: "W555555555", Lines: []payersim.ServiceLine{{Code: "72148", Units: 1}},
		Diagnoses: []string{"M54.16"}, Outcome: &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 0}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []*authpilot.Case{
		{ID: "mri", PayerRef: sub.PayerRef, Status: authpilot.StatusSubmitted},
		{ID: "approved", PayerRef: approved, Status: authpilot.StatusSubmitted, ServiceLines: []authpilot.ServiceLine{{Code: "72148", Units: 1}}},
		{ID: "unknown", PayerRef: "CV-2222222", Status: authpilot.StatusSubmitted},
	}
	p.sim.ResetStats()
	obs, err := s.Poll(testCtx(t), cases)
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	byID := map[string]authpilot.Observation{}
	for _, o := range obs {
		byID[o.CaseID] = o
	}
	if o := byID["mri"]; o.Err != nil || o.Status == "" || o.Unchanged {
		t.Errorf("mri: %+v", o)
	}
	ap := byID["approved"]
	if ap.Err != nil || ap.Status != authpilot.StatusApproved || ap.Determination == nil || !strings.HasPrefix(ap.Determination.AuthNumber, "CVA") ||
		len(ap.Files) != 1 || !strings.HasPrefix(string(ap.Files[0].Data), "%PDF-") {
		t.Errorf("approved: %+v", ap)
	}
	if o := byID["unknown"]; !errors.Is(o.Err, authpilot.ErrRequestNotFound) {
		t.Errorf("unknown: %+v", o)
	}
	if st := p.sim.Stats(); st.Logins != 0 || st.LettersDownloaded != 1 {
		t.Errorf("stats: logins %d letters %d", st.Logins, st.LettersDownloaded)
	}

	// A redesigned status page: each case reports portal_changed, no status.
	if err := p.sim.SetFaults(payersim.Faults{LayoutVariant: true}); err != nil {
		t.Fatal(err)
	}
	obs, err = s.Poll(testCtx(t), cases[:1])
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	var ce *authpilot.Error
	if o := obs[0]; !errors.Is(o.Err, authpilot.ErrPortalChanged) || o.Status != "" || !errors.As(o.Err, &ce) || len(ce.Screenshot) == 0 {
		t.Errorf("variant: %+v", o)
	}
}

// TestReplayRecordedPoll records a poll against the simulator with the real
// recordings store, then runs the same config against the replayed
// recording (what `authpilot replay` serves): the flow sees the same pages.
func TestReplayRecordedPoll(t *testing.T) {
	t.Parallel()
	p := newSummit(t, "3s")
	pend := &payersim.Outcome{Fate: payersim.FatePend, AfterChecks: 1000}
	refs, err := payersim.Seed(p.sim, payersim.SampleSubmissions(2, pend)...)
	if err != nil {
		t.Fatal(err)
	}
	approved, err := p.sim.AddRequest(payersim.Submission{MemberID: "W555555555", Lines: []payersim.ServiceLine{{Code: "22612", Units: 1}},
		Diagnoses: []string{"M43.16"}, Outcome: &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 0}})
	if err != nil {
		t.Fatal(err)
	}
	var cases []*authpilot.Case
	for _, ref := range append(refs, approved) {
		cases = append(cases, &authpilot.Case{ID: ref, PayerRef: ref, Status: authpilot.StatusSubmitted, StatusText: "In Review",
			ServiceLines: []authpilot.ServiceLine{{Code: "22612", Units: 1}}})
	}
	store, err := recordings.Open(t.TempDir(), recordings.Options{Now: p.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	rec := store.Start("summit", "poll")
	poll := func(conn *Connector, r connectors.Recorder) []authpilot.Observation {
		t.Helper()
		sess, err := conn.Open(testCtx(t), r)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer sess.Close()
		obs, err := sess.Poll(testCtx(t), cases)
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		return obs
	}
	live := poll(p.conn, rec)
	if err := rec.Finish(nil); err != nil {
		t.Fatal(err)
	}

	rp, err := recordings.ReplayDir(rec.Dir(), recordings.ReplayOptions{ServeDOM: true})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	h := newHarness(t, srv, exampleConfig(t, "summit-portal.yaml", "3s"), harnessOpts{secrets: summitSecrets, now: p.clock.Now})
	replayed := poll(h.conn, h.rec)
	for i := range live {
		l, r := live[i], replayed[i]
		if l.Err != nil || r.Err != nil || l.Status != r.Status || l.StatusText != r.StatusText || l.Unchanged != r.Unchanged {
			t.Errorf("case %s: live %+v, replayed %+v", l.CaseID, l, r)
		}
	}
	if live[2].Status != authpilot.StatusApproved || replayed[2].Determination == nil || replayed[2].Determination.AuthNumber != live[2].Determination.AuthNumber {
		t.Errorf("approved case: live %+v, replayed %+v", live[2], replayed[2])
	}
}

func TestSummitKeptTabBetweenVisits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keep bool
	}{
		{"keep_cookies: the tab is kept blank and reused", true},
		{"no kept cookies: nothing is kept", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := exampleConfig(t, "summit-portal.yaml", "")
			if !tt.keep {
				cfg = strings.Replace(cfg, "keep_cookies: true", "keep_cookies: false", 1)
			}
			p := newSummitWith(t, cfg)
			refs, err := payersim.Seed(p.sim, payersim.SampleSubmissions(1, &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 0, ValidityDays: 90})...)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := p.sim.Request(refs[0])
			c := &authpilot.Case{ID: "case-1", PayerRef: refs[0], Status: authpilot.StatusSubmitted, StatusText: "In Review"}
			s := p.mustOpen()
			first := s.main.page.TargetID
			if obs, err := s.Poll(testCtx(t), []*authpilot.Case{c}); err != nil || obs[0].Status != authpilot.StatusApproved {
				t.Fatalf("poll: %+v, %v", obs, err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			p.conn.mu.Lock()
			kept := p.conn.kept
			p.conn.mu.Unlock()
			if !tt.keep {
				if kept != nil {
					t.Fatal("a tab was kept without keep_cookies")
				}
				return
			}
			if kept == nil || kept.page.TargetID != first {
				t.Fatalf("kept %+v, want the visit's tab %s", kept, first)
			}
			// Between visits the tab shows nothing of the portal and holds
			// no fetched page.
			if res, err := kept.page.Eval(`() => location.href`); err != nil || res.Value.Str() != "about:blank" {
				t.Errorf("kept tab at %v (%v), want about:blank", res, err)
			}
			html, err := kept.page.HTML()
			if err != nil || strings.Contains(html, refs[0]) || strings.Contains(html, req.MemberID) {
				t.Errorf("kept tab still shows the portal: %.200q (%v)", html, err)
			}
			if res, err := kept.page.Eval(`() => window.__authpilotDocs === undefined`); err != nil || !res.Value.Bool() {
				t.Errorf("fetched documents survive the visit (%v)", err)
			}

			p.sim.ResetStats()
			s2 := p.mustOpen()
			if s2.main.page.TargetID != first {
				t.Errorf("second visit opened tab %s, want the kept %s", s2.main.page.TargetID, first)
			}
			if st := p.sim.Stats(); st.Logins != 0 || st.LoginAttempts != 0 {
				t.Errorf("second visit logged in again: %+v", st)
			}
			p.conn.mu.Lock()
			taken := p.conn.kept == nil
			p.conn.mu.Unlock()
			if !taken {
				t.Error("the kept tab is still offered while a visit uses it")
			}

			// A kept tab that died between visits is replaced by a new one;
			// the kept cookies still spare the login.
			if err := s2.Close(); err != nil {
				t.Fatal(err)
			}
			p.conn.mu.Lock()
			dead := p.conn.kept
			p.conn.mu.Unlock()
			if dead == nil {
				t.Fatal("the second visit kept no tab")
			}
			if err := dead.page.Close(); err != nil {
				t.Fatal(err)
			}
			s3 := p.mustOpen()
			if s3.main.page.TargetID == first {
				t.Error("the third visit adopted the closed tab")
			}
			if st := p.sim.Stats(); st.Logins != 0 {
				t.Errorf("third visit logged in again: %d logins", st.Logins)
			}
		})
	}
}

// TestSummitMaintenanceDuringPoll: a maintenance page met while reading
// the list (fetch mode, after the login) hands its Retry-After to the
// agent with the retryable error.
func TestSummitMaintenanceDuringPoll(t *testing.T) {
	t.Parallel()
	p := newSummit(t, "2s")
	cases := p.seedInReview(t, 2, &payersim.Outcome{Fate: payersim.FatePend, AfterChecks: 100})
	s := p.mustOpen()
	if err := p.sim.SetFaults(payersim.Faults{Maintenance: true, RetryAfter: 45 * time.Second}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Poll(testCtx(t), cases)
	if !errors.Is(err, authpilot.ErrRetryable) {
		t.Fatalf("poll: %v, want retryable", err)
	}
	if got := authpilot.RetryAfterOf(err); got != 45*time.Second {
		t.Fatalf("RetryAfter = %v, want 45s (err %v)", got, err)
	}
}
