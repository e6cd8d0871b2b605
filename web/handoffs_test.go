package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/proto"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/agent/handoff"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/store"
	_ "github.com/authpilot/authpilot/web/handoffs"
)

// edit replaces old by new in a flow, failing t when old is not there.
func edit(t *testing.T, old, new string) func(string) string {
	return func(flow string) string {
		out := strings.Replace(flow, old, new, 1)
		if out == flow {
			t.Fatalf("the Summit example no longer has %q", old)
		}
		return out
	}
}

// waitHandOff waits until the agent has a hand-off open.
func (w *world) waitHandOff(t *testing.T) handoff.View {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		ch := w.a.HandOffs().Changed()
		if l := w.a.HandOffs().List(); len(l) > 0 {
			return l[0]
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatal("no hand-off opened")
		}
	}
}

// submitAsync submits the new cases to Summit in the background.
func (w *world) submitAsync() <-chan agent.RunResult {
	done := make(chan agent.RunResult, 1)
	go func() { done <- w.a.SubmitNow(context.Background(), "summit-portal")[0] }()
	return done
}

// TestHandOffCardTypesTheTextedCode is issue 12's acceptance 2 in the
// workspace: Summit texts a code when the agent logs in to submit a case;
// the worklist shows a hand-off card with the paused page's screenshot and
// a field; the coordinator types the code the simulator texted; the same
// visit logs in and submits, and the next poll reads the case.
func TestHandOffCardTypesTheTextedCode(t *testing.T) {
	w := newWorldWith(t, worldOptions{payerMFA: payersim.MFASMS, summit: edit(t,
		`- totp: {selector: "#mfa-code", secret: totp}`,
		`- ask: {selector: "#mfa-code", question: "Summit texted a code to the practice's phone: type it here."}`)})
	id := w.intake(t, "SHPSMS001", "Textor")
	w.addUser(t, "cora", store.RoleCoordinator)
	w.addUser(t, "vic", store.RoleViewer)
	done := w.submitAsync()
	ho := w.waitHandOff(t)

	// A viewer sees the card but cannot answer.
	pv := w.signIn(t, "vic")
	if card := pv.MustElement("#handoff-" + ho.ID).MustText(); !strings.Contains(card, "texted a code") {
		t.Errorf("viewer's card %q", card)
	}
	if has, _, _ := pv.Has("#handoff-" + ho.ID + "-value"); has {
		t.Errorf("a viewer is offered the code field")
	}

	p := w.signIn(t, "cora")
	card := p.MustElement("#handoff-" + ho.ID)
	if txt := card.MustText(); !strings.Contains(txt, "summit-portal needs a person") || !strings.Contains(txt, "Summit texted a code") {
		t.Errorf("card %q", txt)
	}
	if wdt := card.MustElement("img.handoff-shot").MustEval(`() => this.naturalWidth`).Int(); wdt == 0 {
		t.Errorf("the card's screenshot did not load")
	}
	screenshot(t, p, "workspace-handoff-card.png")
	texts := w.sims.Payer.Texts()
	code := texts[len(texts)-1].Code
	p.MustElement("#handoff-" + ho.ID + "-value").MustInput(code)
	submit(p, "#handoff-"+ho.ID+" button[type=submit]")
	if flash := p.MustElement(".flash").MustText(); !strings.Contains(flash, "goes on") {
		t.Errorf("flash %q", flash)
	}
	if res := <-done; res.Err != nil || res.Submitted != 1 {
		t.Fatalf("submit: %d submitted, %v", res.Submitted, res.Err)
	}
	wantAccess(t, w, "handoff_screenshot", "user:vic", "user:cora")
	if st := w.sims.Payer.Stats(); st.Logins != 1 || st.MFAAttempts != 1 {
		t.Errorf("logins %d, MFA attempts %d, want 1 and 1", st.Logins, st.MFAAttempts)
	}
	for _, r := range w.a.PollNow(context.Background(), nil, "summit-portal") {
		if r.Err != nil {
			t.Fatalf("poll: %v", r.Err)
		}
	}
	if c := w.get(t, id); c.PayerRef == "" || c.Status == authpilot.StatusSubmitting {
		t.Errorf("case after submit and poll: %s %q", c.Status, c.PayerRef)
	}
}

// TestCaptchaPassedThroughTheLiveView is issue 12's acceptance 2, second
// part: after the TOTP Summit shows a CAPTCHA; the agent hands the page
// to a person; the coordinator opens the live view from the worklist's
// card and, in the test's browser, clicks the checkbox and the button on
// the paused page's picture, then hands the page back; the visit checks
// the page again, finds the dashboard and submits.
func TestCaptchaPassedThroughTheLiveView(t *testing.T) {
	old := `captcha: {selector: "#captcha-title", fail: needs_human, message: "the portal asks for a CAPTCHA"}`
	w := newWorldWith(t, worldOptions{summit: edit(t, old, strings.TrimSuffix(old, "}")+", hand_off: captcha}")})
	if err := w.sims.Payer.SetFaults(payersim.Faults{CaptchaCheckbox: true}); err != nil {
		t.Fatal(err)
	}
	w.intake(t, "SHPCAPTCHA1", "Turing")
	w.addUser(t, "cora", store.RoleCoordinator)
	done := w.submitAsync()
	ho := w.waitHandOff(t)
	if ho.Kind != "captcha" || !ho.Live {
		t.Fatalf("hand-off %+v", ho)
	}
	p := w.signIn(t, "cora")
	submit(p, "#handoff-"+ho.ID+" a.button")
	// An <input type=image> is as large as its picture once it loaded.
	frame := p.MustElement("#live-frame").MustWait(`() => this.width > 0 && this.height > 0`)
	size := frame.MustEval(`() => [this.width, this.height]`)
	screenshot(t, p, "workspace-live-view.png")
	// The person's eyes: where the paused page draws the checkbox and the
	// button, read from the same page at the frame's size.
	boxes := captchaLayout(t, w, size.Arr()[0].Int(), size.Arr()[1].Int())
	for _, sel := range []string{"#captcha-checkbox", "#captcha-submit"} {
		frame = p.MustElement("#live-frame")
		origin := frame.MustShape().Box()
		b := boxes[sel]
		wait := p.MustWaitNavigation()
		p.Mouse.MustMoveTo(origin.X+b.X+b.Width/2, origin.Y+b.Y+b.Height/2)
		p.Mouse.MustClick(proto.InputMouseButtonLeft)
		wait()
		if !strings.HasSuffix(p.MustInfo().URL, "/handoffs/"+ho.ID+"/live") {
			t.Fatalf("after clicking %s the workspace is at %s", sel, p.MustInfo().URL)
		}
	}
	submit(p, "#hand-back")
	if flash := p.MustElement(".flash").MustText(); !strings.Contains(flash, "Handed back") {
		t.Errorf("flash %q", flash)
	}
	if res := <-done; res.Err != nil || res.Submitted != 1 {
		t.Fatalf("submit after the live view: %d submitted, %v", res.Submitted, res.Err)
	}
	// One live-view session: one row, though the page was shown again
	// after each click and its frames were fetched many times.
	wantAccess(t, w, "live_view", "user:cora")
	if st := w.sims.Payer.Stats(); st.Logins != 1 {
		t.Errorf("logins %d, want 1", st.Logins)
	}
}

// captchaLayout logs in to Summit in the test's own browser at the
// agent's page size and returns where the CAPTCHA page draws its controls.
func captchaLayout(t *testing.T, w *world, width, height int) map[string]*proto.DOMRect {
	t.Helper()
	p := incognito(t).MustPage("").Timeout(30 * time.Second)
	p.MustSetViewport(width, height, 1, false)
	p.MustNavigate(w.sims.PayerURL + "/login").MustWaitLoad()
	p.MustElement("#username").MustInput(payersim.DefaultPayerUsername)
	p.MustElement("#password").MustInput(payersim.DefaultPayerPassword)
	submit(p, "#login-button")
	code, err := w.sims.Payer.TOTPCode()
	if err != nil {
		t.Fatal(err)
	}
	p.MustElement("#mfa-code").MustInput(code)
	submit(p, "#mfa-submit")
	out := map[string]*proto.DOMRect{}
	for _, sel := range []string{"#captcha-checkbox", "#captcha-submit"} {
		out[sel] = p.MustElement(sel).MustShape().Box()
	}
	return out
}

// wantAccess checks that the access log holds exactly one row of action
// per actor, in that order, and none for anyone else.
func wantAccess(t *testing.T, w *world, action string, actors ...string) {
	t.Helper()
	log, err := w.st.AccessLog(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range log {
		if a.Action == action {
			got = append(got, a.Actor)
			if a.From == "" {
				t.Errorf("%s row of %s without an address", action, a.Actor)
			}
		}
	}
	if strings.Join(got, ",") != strings.Join(actors, ",") {
		t.Errorf("access log %s rows by %v, want %v", action, got, actors)
	}
}
