package web_test

import (
	"strings"
	"testing"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/store"
)

// TestWorklistOrdersByNextDeadline is issue 12's acceptance 1 (first
// part): a coordinator signs in; a denial whose peer-to-peer window closes
// tomorrow is listed above a pended case due next week, each with what to
// do, the patient's name and the order ref; signing out ends the session.
func TestWorklistOrdersByNextDeadline(t *testing.T) {
	w := newWorld(t,
		payersim.Rule{MemberID: "SHPPEND01", Outcome: payersim.Outcome{Fate: payersim.FatePend, InfoRequest: "Send the MRI report.", AwaitResponse: true}},
		payersim.Rule{MemberID: "SHPDENY01", Outcome: payersim.Outcome{Fate: payersim.FateDeny, Reason: "Not medically necessary."}})
	pended := w.intake(t, "SHPPEND01", "Pendleton")
	denied := w.intake(t, "SHPDENY01", "Denholm")
	w.submitAndPoll(t)
	if s := w.get(t, denied).Status; s != authpilot.StatusDenied {
		t.Fatalf("denied case is %s", s)
	}
	if s := w.get(t, pended).Status; s != authpilot.StatusPended {
		t.Fatalf("pended case is %s", s)
	}
	w.addUser(t, "casey", store.RoleCoordinator)
	p := w.signIn(t, "casey")

	rows := p.MustElements("tr.case-row")
	if len(rows) != 2 {
		t.Fatalf("worklist shows %d rows, want 2:\n%s", len(rows), p.MustElement("main").MustText())
	}
	first, second := rows[0].MustText(), rows[1].MustText()
	if *rows[0].MustAttribute("data-case") != denied || !strings.Contains(first, "peer-to-peer") ||
		!strings.Contains(first, "Denholm, Ada") || !strings.Contains(first, "ORD-SHPDENY01") {
		t.Errorf("first row %q, want the denial with its peer-to-peer deadline", first)
	}
	if *rows[1].MustAttribute("data-case") != pended || !strings.Contains(second, "Pendleton, Ada") {
		t.Errorf("second row %q, want the pended case", second)
	}
	if !strings.Contains(first, "Tue 8 Dec 2026") {
		t.Errorf("the denial's next deadline is not tomorrow: %q", first)
	}

	// Sign out: the worklist asks to sign in again.
	wait := p.MustWaitNavigation()
	p.MustElement(".signout button").MustClick()
	wait()
	p.MustNavigate(w.base + "/").MustWaitLoad()
	if u := p.MustInfo().URL; !strings.Contains(u, "/signin") {
		t.Errorf("after sign-out the worklist is at %s", u)
	}
}
