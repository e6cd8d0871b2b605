package run

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/connectors/portal"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/recordings"
)

// acting is a connector whose sessions respond and withdraw as scripted.
type acting struct {
	caps  connectors.Capabilities
	obs   authpilot.Observation
	err   error
	calls int
	got   connectors.Response
}

func (a *acting) Capabilities() connectors.Capabilities { return a.caps }
func (a *acting) Open(context.Context, connectors.Recorder) (connectors.Session, error) {
	return actingSession{a: a}, nil
}
func (*acting) Close() error { return nil }

type actingSession struct {
	session
	a *acting
}

func (s actingSession) Respond(_ context.Context, _ *authpilot.Case, r connectors.Response) (authpilot.Observation, error) {
	s.a.calls++
	s.a.got = r
	return s.a.obs, s.a.err
}
func (s actingSession) Withdraw(context.Context, *authpilot.Case, string) (authpilot.Observation, error) {
	s.a.calls++
	return s.a.obs, s.a.err
}

// TestRunnerActions drives Respond and Withdraw through a standalone
// Runner: a missing capability is ErrUnsupported without a login; an
// action is one admitted, counted login with its recording; a session
// that shows another patient's request returns ErrNotThisCase and is not
// a connector failure (three in a row raise no connector_failing); a flow
// that no longer matches raises portal_changed; a paused connector makes
// no login and calls nothing.
func TestRunnerActions(t *testing.T) {
	ctx := context.Background()
	clk, st, rs, m := standalone(t)
	build := func(conn *acting) *Runner {
		return testRunner(t, Deps{Store: st, Clock: clk, Recordings: recs{rs}, Alerts: &kicks{}, PHI: noPHI{}, Metrics: m}, conn)
	}
	alerts := func() []string {
		var got []string
		if _, err := st.RouteNew(ctx, func(a authpilot.Alert) []string { got = append(got, string(a.Type)); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	c := &authpilot.Case{ID: "case1", PayerRef: "SUM-1", Patient: authpilot.Patient{FirstName: "Ada", LastName: "Lovelace",
		MemberID: "W123456789", DOB: authpilot.Date{Year: 1960, Month: 5, Day: 1}}}
	resp := connectors.Response{Note: "op note attached", Files: []authpilot.File{{Name: "a.pdf", Data: []byte("%PDF")}}}

	none := &acting{}
	if _, err := build(none).Respond(ctx, c, resp); !errors.Is(err, connectors.ErrUnsupported) || none.calls != 0 {
		t.Fatalf("respond without the capability: err %v, calls %d; want ErrUnsupported and no call", err, none.calls)
	}
	if _, err := build(none).Withdraw(ctx, c, "no longer needed"); !errors.Is(err, connectors.ErrUnsupported) {
		t.Fatalf("withdraw without the capability: %v", err)
	}
	if got := value(t, m.Logins.WithLabelValues("payer")); got != 0 {
		t.Fatalf("%v logins for unsupported actions, want 0", got)
	}

	conn := &acting{caps: connectors.Capabilities{Respond: true, Withdraw: true},
		obs: authpilot.Observation{Status: authpilot.StatusSubmitted, Shown: &authpilot.Identity{MemberID: "****6789"}}}
	r := build(conn)
	var rec string
	o, err := r.Respond(RecordingTo(ctx, &rec), c, resp)
	if err != nil || o.Status != authpilot.StatusSubmitted || o.CaseID != c.ID || rec == "" || conn.got.Files[0].Name != "a.pdf" {
		t.Fatalf("respond: %+v, recording %q, err %v", o, rec, err)
	}
	conn.obs.Status = authpilot.StatusWithdrawn
	if o, err := r.Withdraw(ctx, c, "patient declined"); err != nil || o.Status != authpilot.StatusWithdrawn {
		t.Fatalf("withdraw: %+v, %v", o, err)
	}
	if got := value(t, m.Logins.WithLabelValues("payer")); got != 2 {
		t.Fatalf("%v logins, want 2 (one per action)", got)
	}

	conn.obs.Shown = &authpilot.Identity{MemberID: "****0000"}
	for i := range 3 {
		_, err := r.Respond(ctx, c, resp)
		if !errors.Is(err, connectors.ErrNotThisCase) {
			t.Fatalf("respond %d on another patient's request: %v, want ErrNotThisCase", i, err)
		}
	}
	if got := alerts(); len(got) != 0 {
		t.Fatalf("alerts %v after identity mismatches, want none (not a connector failure)", got)
	}

	conn.obs.Shown = nil
	conn.err = &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: "respond.steps[1] click", Msg: "#upload not found"}
	if _, err := r.Respond(ctx, c, resp); !errors.Is(err, authpilot.ErrPortalChanged) {
		t.Fatalf("respond on a changed portal: %v", err)
	}
	if got := alerts(); fmt.Sprint(got) != "[portal_changed]" {
		t.Fatalf("alerts %v, want [portal_changed]", got)
	}

	if _, err := st.UpdateConnectorState(ctx, "payer", func(s *authpilot.ConnectorState) ([]authpilot.Alert, error) {
		s.Paused, s.PausedUntil = true, clk.Now().Add(time.Hour)
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	calls := conn.calls
	if _, err := r.Withdraw(ctx, c, "x"); !errors.Is(err, ErrHeld) || conn.calls != calls {
		t.Fatalf("withdraw while paused: %v (calls %d→%d), want ErrHeld and no call", err, calls, conn.calls)
	}
}

// TestRunnerRespondWithdrawThroughSummit drives Runner.Respond and
// Runner.Withdraw over the Summit example flow in real Chromium against
// the payer simulator, with a real store and recordings: a pended fusion
// answered with two PDFs (the simulator holds both by name, the request
// is in review), a case whose payer reference is another member's request
// stopped before any upload (no alert: it is the case's problem, not the
// connector's), and a withdrawal; each action one login, and the note and
// file names never in the recording.
func TestRunnerRespondWithdrawThroughSummit(t *testing.T) {
	if _, err := portal.FindChromium(""); err != nil {
		t.Skipf("no chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	clk, st, _, m := standalone(t)
	recDir := t.TempDir()
	rs, err := recordings.Open(recDir, recordings.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	sim := payersim.NewPayer(payersim.PayerOptions{Now: clk.Now})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	flow, err := os.ReadFile("../../examples/connectors/summit-portal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)^base_url: .*$`).ReplaceAllString(string(flow), "base_url: "+srv.URL)
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(text), &node); err != nil {
		t.Fatal(err)
	}
	kind, _ := connectors.Lookup("portal")
	opts, err := kind.Decode(&node)
	if err != nil {
		t.Fatal(err)
	}
	browser := portal.NewBrowser(portal.BrowserOptions{}, nil)
	defer browser.Close()
	secrets := notifytest.Secrets{"summit-username": payersim.DefaultPayerUsername,
		"summit-password": payersim.DefaultPayerPassword, "summit-totp": payersim.DefaultTOTPSecret}
	alerts := &kicks{}
	r, err := New("summit", Limits{Timeout: time.Minute, Polite: Politeness{LoginsPerHour: 20, Pause: time.Hour, PauseMax: 24 * time.Hour}},
		Deps{Store: st, Clock: clk, Recordings: recs{rs}, Alerts: alerts, PHI: noPHI{}, Metrics: m},
		opts.New, connectors.Env{Secrets: secrets, Now: clk.Now, Resource: browser, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	fusion := func(member string, o *payersim.Outcome) *authpilot.Case {
		ref, err := sim.AddRequest(payersim.Submission{MemberID: member, DOB: "1961-07-04",
			Lines:     []payersim.ServiceLine{{Code: "22612", Units: 1}, {Code: "22614", Units: 2}},
			Diagnoses: []string{"M43.16"}, ServiceDate: "2026-04-20", Outcome: o})
		if err != nil {
			t.Fatal(err)
		}
		return &authpilot.Case{ID: "case-" + ref, PayerRef: ref, Status: authpilot.StatusPended,
			Patient:      authpilot.Patient{FirstName: "Jane", LastName: "Roe", DOB: authpilot.Date{Year: 1961, Month: 7, Day: 4}, MemberID: "W123456789"},
			ServiceLines: []authpilot.ServiceLine{{Code: "22612", Units: 1}, {Code: "22614", Units: 2}},
			ServiceDate:  authpilot.Date{Year: 2026, Month: 4, Day: 20}}
	}
	pend := &payersim.Outcome{Fate: payersim.FatePend, AwaitResponse: true, Then: &payersim.Outcome{Fate: payersim.FateApprove}}
	resp := connectors.Response{Note: "Twelve weeks of PT notes attached.", Files: []authpilot.File{
		{Name: "roe-pt-notes.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 pt")},
		{Name: "roe-mri.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 mri")}}}

	c := fusion("W123456789", pend)
	var rec string
	o, err := r.Respond(RecordingTo(ctx, &rec), c, resp)
	if err != nil || o.Status != authpilot.StatusSubmitted || rec == "" {
		t.Fatalf("respond = %+v (recording %q), %v", o, rec, err)
	}
	req, _ := sim.Request(c.PayerRef)
	if req.Status != payersim.StatusInReview || len(req.Responses) != 1 || len(req.Responses[0].Documents) != 2 ||
		req.Responses[0].Documents[0].Name != "roe-pt-notes.pdf" || req.Responses[0].Documents[1].Name != "roe-mri.pdf" {
		t.Fatalf("simulator request after respond: %+v", req)
	}

	other := fusion("W555550000", pend) // the case's reference leads to another member's request
	if _, err := r.Respond(ctx, other, resp); !errors.Is(err, connectors.ErrNotThisCase) {
		t.Fatalf("respond to another member's request = %v, want ErrNotThisCase", err)
	}
	if req, _ := sim.Request(other.PayerRef); len(req.Responses) != 0 {
		t.Fatal("another member's request received the documents")
	}

	w := fusion("W123456789", &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 9})
	if o, err := r.Withdraw(ctx, w, "Patient chose conservative care."); err != nil || o.Status != authpilot.StatusWithdrawn {
		t.Fatalf("withdraw = %+v, %v", o, err)
	}
	if req, _ := sim.Request(w.PayerRef); req.Status != payersim.StatusWithdrawn {
		t.Fatalf("simulator status after withdraw: %s", req.Status)
	}
	if n := value(t, m.Logins.WithLabelValues("summit")); n != 3 {
		t.Errorf("%v logins, want one per action (3)", n)
	}
	var raised []string
	if _, err := st.RouteNew(ctx, func(a authpilot.Alert) []string { raised = append(raised, string(a.Type)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(raised) != 0 {
		t.Errorf("alerts %v: an identity mismatch is not a connector failure", raised)
	}
	err = filepath.WalkDir(recDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, v := range []string{resp.Note, "roe-pt-notes", "roe-mri", "conservative care", "%PDF-1.4 pt"} {
			if strings.Contains(string(b), v) {
				t.Errorf("%s holds %q", p, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
