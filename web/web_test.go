package web_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
	// The denial's alert links to the case's page.
	if err := w.a.FlushAlerts(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	var link string
	for _, al := range w.hook.Alerts() {
		if al.CaseID == denied && al.Type == authpilot.AlertDeterminationReceived {
			link = al.Link
		}
	}
	if link != w.base+"/cases/"+denied {
		t.Errorf("the denial's alert links to %q, want its case page", link)
	}

	w.addUser(t, "casey", store.RoleCoordinator)
	p := w.signIn(t, "casey")

	screenshot(t, p, "workspace-worklist.png")
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

	// The pended case: upload a PDF and send it through Summit's portal.
	wait := p.MustWaitNavigation()
	p.MustElement(`tr[data-case="` + pended + `"] a`).MustClick()
	wait()
	if txt := p.MustElement("#status").MustText(); !strings.Contains(txt, "pended") {
		t.Fatalf("case page status %q", txt)
	}
	screenshot(t, p, "workspace-case.png")
	pdf := filepath.Join(t.TempDir(), "mri-lumbar-report.pdf")
	if err := os.WriteFile(pdf, []byte("%PDF-1.4\n% MRI report\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.MustElement("#respond-files").MustSetFiles(pdf)
	p.MustElement("#respond-note").MustInput("The lumbar MRI report.")
	wait = p.MustWaitNavigation()
	p.MustElement("#form-respond button[type=submit]").MustClick()
	wait()
	if txt := p.MustElement("main").MustText(); !strings.Contains(txt, "Done: respond") {
		t.Fatalf("after sending:\n%s", txt)
	}
	w.a.WaitSends()
	c := w.get(t, pended)
	req, _ := w.sims.Payer.Request(c.PayerRef)
	if len(req.Responses) != 1 || len(req.Responses[0].Documents) != 1 || req.Responses[0].Documents[0].Name != "mri-lumbar-report.pdf" {
		t.Fatalf("the simulator received %+v (case %s, %q)", req.Responses, c.Status, c.LastError)
	}
	evs, err := w.st.Events(context.Background(), pended)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(evs, func(e authpilot.Event) bool { return e.Actor == "user:casey" }) {
		t.Errorf("no event of the case names casey as its actor: %+v", evs)
	}

	// The reports count the denial (the pended case is undecided) and
	// show no PHI, so they are not access-logged.
	p.MustNavigate(w.base + "/reports").MustWaitLoad()
	if txt := p.MustElement("table.report").MustText(); !strings.Contains(txt, "summit-ma\tsurgery\t2\t1\t0 h") {
		t.Errorf("reports:\n%s", txt)
	}
	screenshot(t, p, "workspace-reports.png")

	// Acceptance 3: each page that showed PHI is one access-log row,
	// naming casey, the cases shown and where the request came from.
	log, err := w.st.AccessLog(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range log {
		if e.Actor != "user:casey" || e.From != "127.0.0.1" {
			t.Errorf("access-log entry %+v: want casey from 127.0.0.1", e)
		}
		got = append(got, e.Action+":"+strings.Join(e.CaseIDs, ","))
	}
	want := []string{"worklist:" + denied + "," + pended, "case:" + pended, "case:" + pended}
	if !slices.Equal(got, want) {
		t.Errorf("access log %v, want %v (worklist, the case page, the case page after the action)", got, want)
	}

	// Sign out: the worklist asks to sign in again.
	wait = p.MustWaitNavigation()
	p.MustElement(".signout button").MustClick()
	wait()
	p.MustNavigate(w.base + "/").MustWaitLoad()
	if u := p.MustInfo().URL; !strings.Contains(u, "/signin") {
		t.Errorf("after sign-out the worklist is at %s", u)
	}
}

// TestAssignToMe: a coordinator takes a case from the worklist; it then
// shows who has it, the "me" filter lists it alone, and its page gives it
// back.
func TestAssignToMe(t *testing.T) {
	w := newWorld(t)
	one := w.intake(t, "SHPASSIGN1", "Ashby")
	two := w.intake(t, "SHPASSIGN2", "Baker")
	w.addUser(t, "casey", store.RoleCoordinator)
	p := w.signIn(t, "casey")
	p.MustNavigate(w.base + "/?status=ready").MustWaitLoad()
	wait := p.MustWaitNavigation()
	p.MustElement(`tr[data-case="` + two + `"] button`).MustClick()
	wait()
	if u := p.MustInfo().URL; !strings.HasSuffix(u, "/?status=ready") {
		t.Errorf("after assigning: at %s, want back on the worklist", u)
	}
	if txt := p.MustElement(`tr[data-case="` + two + `"]`).MustText(); !strings.Contains(txt, "casey") {
		t.Errorf("the assigned row reads %q", txt)
	}
	p.MustNavigate(w.base + "/?status=ready&assignee=me").MustWaitLoad()
	rows := p.MustElements("tr.case-row")
	if len(rows) != 1 || *rows[0].MustAttribute("data-case") != two {
		t.Fatalf("assigned to me: %d rows", len(rows))
	}
	p.MustNavigate(w.base + "/?status=ready&assignee=-").MustWaitLoad()
	if rows := p.MustElements("tr.case-row"); len(rows) != 1 || *rows[0].MustAttribute("data-case") != one {
		t.Fatalf("assigned to no one: %d rows", len(rows))
	}
	p.MustNavigate(w.base + "/cases/" + two).MustWaitLoad()
	wait = p.MustWaitNavigation()
	p.MustElement("#assignee button").MustClick()
	wait()
	if txt := p.MustElement("#assignee").MustText(); !strings.Contains(txt, "no one") {
		t.Errorf("after giving it back: %q", txt)
	}
}

// TestTimelineScreenshot: an event whose connector run kept a screenshot
// (the submission's review page) links to it from the case's timeline;
// opening it is an access-log row.
func TestTimelineScreenshot(t *testing.T) {
	w := newWorldWith(t, worldOptions{captureAll: true})
	id := w.intake(t, "SHPSHOT01", "Shotwell")
	w.submitAndPoll(t)
	w.addUser(t, "vera", store.RoleViewer)
	c, _, _ := w.httpSignIn(t, "vera", password)
	code, body := w.getPage(t, c, "/cases/"+id)
	i := strings.Index(body, `/recordings/`)
	if code != http.StatusOK || i < 0 {
		t.Fatalf("case page %d has no screenshot link", code)
	}
	link := body[strings.LastIndex(body[:i], `"`)+1 : i+strings.Index(body[i:], `"`)]
	req, err := http.NewRequest("GET", w.base+link, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("%s: %d %s", link, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	log, err := w.st.AccessLog(context.Background(), time.Time{})
	if err != nil || len(log) != 2 || log[1].Action != "screenshot" || log[1].CaseIDs[0] != id {
		t.Errorf("access log %+v %v, want the case page then the screenshot", log, err)
	}
	if code, _ := w.getPage(t, c, "/cases/"+id+"/recordings/rec_01M98CVRR0AAAAAAAAAAAAAAAA/screenshot"); code != http.StatusNotFound {
		t.Errorf("a recording the case does not name: %d", code)
	}
}
