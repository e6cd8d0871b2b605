package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent/handoff"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/connectors/connectortest"
	"github.com/authpilot/authpilot/internal/testhttp"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/recordings"
)

// askLogin is the Summit example with the TOTP step replaced by an ask
// step (the SMS-code login mode), the ask waiting at most wait.
func askLogin(t *testing.T, wait string) string {
	t.Helper()
	cfg := exampleConfig(t, "summit-portal.yaml", "")
	ask := `- ask: {selector: "#mfa-code", question: "Summit texted a code to the practice's phone: type it here."`
	if wait != "" {
		ask += ", timeout: " + wait
	}
	out := strings.Replace(cfg, `- totp: {selector: "#mfa-code", secret: totp}`, ask+"}", 1)
	if out == cfg {
		t.Fatal("the Summit example no longer has its totp step")
	}
	return out
}

// handOffSim is Summit in a login mode, a connector whose hand-offs go to
// a real broker served over HTTP as the agent serves it, and the logs of
// both.
type handOffSim struct {
	*summit
	broker *handoff.Broker
	api    *httptest.Server
	logs   *notifytest.LogBuffer
	// pages are the live pages the broker was given (the test's eyes).
	mu    sync.Mutex
	pages []*livePage
}

// Ask records the question's live page, then asks the broker.
func (h *handOffSim) Ask(ctx context.Context, q connectors.Question) (string, error) {
	if lp, ok := q.Page.(*livePage); ok {
		h.mu.Lock()
		h.pages = append(h.pages, lp)
		h.mu.Unlock()
	}
	return h.broker.Ask(ctx, q)
}

func newHandOffSim(t *testing.T, mode payersim.MFAMode, cfg string) *handOffSim {
	t.Helper()
	needBrowser(t)
	clock := newClock()
	sim := payersim.NewPayer(payersim.PayerOptions{Now: clock.Now, MFA: mode})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	log, buf := notifytest.NewLogger()
	hs := &handOffSim{broker: handoff.New(nil, log), logs: buf}
	mux := http.NewServeMux()
	for _, rt := range hs.broker.Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	hs.api = httptest.NewServer(mux)
	t.Cleanup(hs.api.Close)
	h := newHarness(t, srv, cfg, harnessOpts{secrets: summitSecrets, now: clock.Now, handOffs: hs, logger: log})
	hs.summit = &summit{harness: h, sim: sim, clock: clock}
	return hs
}

// waitHandOff waits until a hand-off is open and returns it.
func (h *handOffSim) waitHandOff(t *testing.T, ctx context.Context) handoff.View {
	t.Helper()
	for {
		ch := h.broker.Changed()
		if l := h.broker.List(); len(l) > 0 {
			return l[0]
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatal("no hand-off opened")
		}
	}
}

func (h *handOffSim) call(t *testing.T, method, path string, body any) (int, []byte, http.Header) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	return testhttp.Do(t, method, h.api.URL+path, r)
}

// openAsync opens a visit on rec in the background.
func (h *handOffSim) openAsync(t *testing.T, rec connectors.Recorder) <-chan error {
	done := make(chan error, 1)
	go func() {
		s, err := h.conn.Open(testCtx(t), rec)
		if err == nil {
			t.Cleanup(func() { _ = s.Close() })
			cases := h.seedInReview(t, 2, &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 0})
			var obs []authpilot.Observation
			obs, err = s.Poll(testCtx(t), cases)
			for _, o := range obs {
				if err == nil && o.Err != nil {
					err = fmt.Errorf("%s: %w", o.CaseID, o.Err)
				}
			}
		}
		done <- err
	}()
	return done
}

// TestSummitSMSCodeHandOff is issue 12's hand-off of a texted code: the
// portal texts a code at login, the visit asks a person, the test reads
// the code from the simulator and answers over the hand-off API, the same
// browser page types it and the visit logs in and polls. The code is in
// neither the logs nor the recording on disk.
func TestSummitSMSCodeHandOff(t *testing.T) {
	t.Parallel()
	p := newHandOffSim(t, payersim.MFASMS, askLogin(t, ""))
	dir := t.TempDir()
	rs, err := recordings.Open(dir, recordings.Options{Now: p.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	rec := rs.Start("summit", "poll")
	done := p.openAsync(t, rec)
	ho := p.waitHandOff(t, testCtx(t))
	if ho.Kind != connectors.HandOffCode || ho.Live || ho.Connector != "test" ||
		ho.Question != "Summit texted a code to the practice's phone: type it here." || !strings.Contains(ho.Run, "login") {
		t.Errorf("hand-off %+v", ho)
	}
	// Honest expiry: the visit's deadline (the test's 60s) comes before
	// the flow's 3m and the ask's 10m.
	if left := ho.Expires.Sub(ho.Created); left > 60*time.Second || left < 30*time.Second {
		t.Errorf("expires %v after it opened, want the visit's deadline (under 60s)", left)
	}
	status, png, hdr := p.call(t, "GET", "/v1/handoffs/"+ho.ID+"/screenshot", nil)
	if status != http.StatusOK || hdr.Get("Content-Type") != "image/png" || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("screenshot: %d %s", status, hdr.Get("Content-Type"))
	}
	if status, _, _ := p.call(t, "POST", "/v1/handoffs/"+ho.ID+"/handback", nil); status != http.StatusConflict {
		t.Errorf("hand back of a code hand-off: %d, want 409", status)
	}
	if status, _, _ := p.call(t, "POST", "/v1/handoffs/"+ho.ID+"/answer", map[string]string{"value": ""}); status != http.StatusUnprocessableEntity {
		t.Errorf("empty answer: %d, want 422", status)
	}
	texts := p.sim.Texts()
	if len(texts) != 1 {
		t.Fatalf("%d texts, want 1", len(texts))
	}
	code := texts[0].Code
	if status, b, _ := p.call(t, "POST", "/v1/handoffs/"+ho.ID+"/answer", map[string]string{"value": code}); status != http.StatusNoContent {
		t.Fatalf("answer: %d %s", status, b)
	}
	if err := <-done; err != nil {
		t.Fatalf("visit: %v", err)
	}
	if err := rec.Finish(nil); err != nil {
		t.Fatal(err)
	}
	if st := p.sim.Stats(); st.Logins != 1 || st.MFAAttempts != 1 {
		t.Errorf("logins %d, MFA attempts %d: want 1 and 1 (the same page took the code)", st.Logins, st.MFAAttempts)
	}
	if len(p.broker.List()) != 0 {
		t.Errorf("hand-offs still open: %+v", p.broker.List())
	}
	if strings.Contains(p.logs.String(), code) {
		t.Errorf("the code is in the logs:\n%s", p.logs)
	}
	connectortest.GrepRecordings(t, dir, 5, map[string]string{"the texted code": code})
}

// TestSummitSMSCodeHandOffTimesOut: nobody answers within the ask's
// timeout: the login stops with needs_human, as a CAPTCHA does, and the
// hand-off is gone.
func TestSummitSMSCodeHandOffTimesOut(t *testing.T) {
	t.Parallel()
	p := newHandOffSim(t, payersim.MFASMS, askLogin(t, "300ms"))
	_, err := p.open(testCtx(t))
	if !errors.Is(err, authpilot.ErrNeedsHuman) ||
		!strings.Contains(err.Error(), `ask: needs a human: nobody answered the hand-off (code) within 300ms`) {
		t.Fatalf("open: %v", err)
	}
	if len(p.broker.List()) != 0 {
		t.Errorf("hand-offs still open: %+v", p.broker.List())
	}
	if st := p.sim.Stats(); st.Logins != 0 || st.MFAAttempts != 0 {
		t.Errorf("logins %d, MFA attempts %d, want 0", st.Logins, st.MFAAttempts)
	}
}

// TestSummitAskWithoutBroker: a connector nobody can hand off from stops
// at the ask step with needs_human at once.
func TestSummitAskWithoutBroker(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := payersim.NewPayer(payersim.PayerOptions{Now: clock.Now, MFA: payersim.MFASMS})
	h := newSimHarness(t, sim, clock, askLogin(t, ""), summitSecrets)
	_, err := h.open(testCtx(t))
	if !errors.Is(err, authpilot.ErrNeedsHuman) || !strings.Contains(err.Error(), "nobody can be asked here") {
		t.Fatalf("open: %v", err)
	}
}

// captchaHandOff is the Summit example with its CAPTCHA interrupt handed
// to a person.
func captchaHandOff(t *testing.T) string {
	t.Helper()
	cfg := exampleConfig(t, "summit-portal.yaml", "")
	old := `captcha: {selector: "#captcha-title", fail: needs_human, message: "the portal asks for a CAPTCHA"}`
	out := strings.Replace(cfg, old, strings.TrimSuffix(old, "}")+", hand_off: captcha}", 1)
	if out == cfg {
		t.Fatal("the Summit example no longer has its captcha interrupt")
	}
	return out
}

// TestSummitCaptchaLiveView is issue 12's live view: after the TOTP the
// portal shows a CAPTCHA; the visit hands the page to a person; the test,
// as the person, gets the page's frames over the hand-off API, clicks the
// checkbox and the button through the input endpoint, and hands back; the
// visit checks the page again, finds the dashboard, and polls.
func TestSummitCaptchaLiveView(t *testing.T) {
	t.Parallel()
	p := newHandOffSim(t, payersim.MFATOTP, captchaHandOff(t))
	if err := p.sim.SetFaults(payersim.Faults{CaptchaCheckbox: true}); err != nil {
		t.Fatal(err)
	}
	done := p.openAsync(t, p.rec)
	ho := p.waitHandOff(t, testCtx(t))
	if ho.Kind != connectors.HandOffCaptcha || !ho.Live || !strings.Contains(ho.Question, `"captcha"`) {
		t.Errorf("hand-off %+v", ho)
	}
	if status, _, _ := p.call(t, "POST", "/v1/handoffs/"+ho.ID+"/answer", map[string]string{"value": "x"}); status != http.StatusConflict {
		t.Errorf("an answer to a live hand-off: %d, want 409", status)
	}
	p.passCaptcha(t, ho)
	if status, b, _ := p.call(t, "POST", "/v1/handoffs/"+ho.ID+"/input", map[string]any{"type": "tap"}); status != http.StatusUnprocessableEntity {
		t.Errorf("unknown input type: %d %s", status, b)
	}
	p.handBack(t, ho, done)
	var checked bool
	for _, n := range p.rec.StepNames() {
		checked = checked || strings.Contains(n, "handed back by a person: checked again")
	}
	if !checked {
		t.Errorf("no hand-back in the recording's steps: %q", p.rec.StepNames())
	}
}

// passCaptcha is the person at the live view of hand-off ho: they watch
// the frames, click the CAPTCHA's checkbox and button through the input
// endpoint, and see the dashboard.
func (h *handOffSim) passCaptcha(t *testing.T, ho handoff.View) {
	t.Helper()
	seq := h.frame(t, ho.ID, 0)
	h.mu.Lock()
	page := h.pages[len(h.pages)-1].p
	h.mu.Unlock()
	// The person's eyes: where the checkbox and the button are drawn.
	for _, sel := range []string{"#captcha-checkbox", "#captcha-submit"} {
		box := page.MustElement(sel).MustShape().Box()
		click := connectors.InputEvent{Type: "click", X: box.X + box.Width/2, Y: box.Y + box.Height/2}
		if status, b, _ := h.call(t, "POST", "/v1/handoffs/"+ho.ID+"/input", click); status != http.StatusNoContent {
			t.Fatalf("click %s: %d %s", sel, status, b)
		}
		if sel == "#captcha-checkbox" && !page.MustElement(sel).MustProperty("checked").Bool() {
			t.Fatalf("the click did not tick the checkbox")
		}
	}
	page.Context(testCtx(t)).MustElement("#dashboard-title")
	h.frame(t, ho.ID, seq) // the person sees the dashboard
}

// handBack hands ho's page back and checks that the visit done then
// logged in once and went on.
func (h *handOffSim) handBack(t *testing.T, ho handoff.View, done <-chan error) {
	t.Helper()
	if status, b, _ := h.call(t, "POST", "/v1/handoffs/"+ho.ID+"/handback", nil); status != http.StatusNoContent {
		t.Fatalf("hand back: %d %s", status, b)
	}
	if err := <-done; err != nil {
		t.Fatalf("visit: %v", err)
	}
	if st := h.sim.Stats(); st.Logins != 1 {
		t.Errorf("logins %d, want 1", st.Logins)
	}
}

// TestSummitUnexpectedPageLiveView: a connector that hands off unexpected
// pages (hand_off.unexpected_page) and does not know Summit's CAPTCHA: the
// expect after the TOTP finds none of its alternatives, hands the page to
// a person instead of failing as portal_changed, and finds the dashboard
// when the person hands it back.
func TestSummitUnexpectedPageLiveView(t *testing.T) {
	t.Parallel()
	cfg := without(t, exampleConfig(t, "summit-portal.yaml", "2s"), `(?m)^  captcha: .*\n`) + "\nhand_off: {unexpected_page: true}\n"
	p := newHandOffSim(t, payersim.MFATOTP, cfg)
	if err := p.sim.SetFaults(payersim.Faults{CaptchaCheckbox: true}); err != nil {
		t.Fatal(err)
	}
	done := p.openAsync(t, p.rec)
	ho := p.waitHandOff(t, testCtx(t))
	if ho.Kind != connectors.HandOffUnexpectedPage || !ho.Live || !strings.Contains(ho.Question, "(dashboard, wrong_code)") {
		t.Errorf("hand-off %+v", ho)
	}
	p.passCaptcha(t, ho)
	p.handBack(t, ho, done)
}

// TestSummitUnexpectedPageWithoutHandOff: the same page without
// hand_off.unexpected_page fails as portal_changed, as before.
func TestSummitUnexpectedPageWithoutHandOff(t *testing.T) {
	t.Parallel()
	p := newHandOffSim(t, payersim.MFATOTP, without(t, exampleConfig(t, "summit-portal.yaml", "2s"), `(?m)^  captcha: .*\n`))
	if err := p.sim.SetFaults(payersim.Faults{CaptchaCheckbox: true}); err != nil {
		t.Fatal(err)
	}
	_, err := p.open(testCtx(t))
	if !errors.Is(err, authpilot.ErrPortalChanged) || !strings.Contains(err.Error(), "none of the expected alternatives (dashboard, wrong_code)") {
		t.Fatalf("open: %v", err)
	}
	if len(p.broker.List()) != 0 {
		t.Errorf("a hand-off was opened: %+v", p.broker.List())
	}
}

// frame gets the live view's next frame after seq and checks it is a JPEG.
func (h *handOffSim) frame(t *testing.T, id string, after int) int {
	t.Helper()
	for {
		status, b, hdr := h.call(t, "GET", "/v1/handoffs/"+id+"/frame?after="+strconv.Itoa(after), nil)
		if status == http.StatusNoContent {
			continue
		}
		if status != http.StatusOK || hdr.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("frame: %d %s", status, b)
		}
		if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
			t.Fatalf("frame: %v", err)
		}
		seq, err := strconv.Atoi(hdr.Get("X-Frame-Seq"))
		if err != nil || seq <= after {
			t.Fatalf("frame seq %q after %d", hdr.Get("X-Frame-Seq"), after)
		}
		return seq
	}
}
