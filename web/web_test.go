package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
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
	submit(p, `tr[data-case="`+pended+`"] a`)
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
	submit(p, "#form-respond button[type=submit]")
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
	submit(p, ".signout button")
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
	submit(p, `tr[data-case="`+two+`"] button`)
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
	submit(p, "#assignee button")
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
	w.wantPNG(t, c, link)
	log, err := w.st.AccessLog(context.Background(), time.Time{})
	if err != nil || len(log) != 2 || log[1].Action != "screenshot" || log[1].CaseIDs[0] != id {
		t.Errorf("access log %+v %v, want the case page then the screenshot", log, err)
	}
	if code, _ := w.getPage(t, c, "/cases/"+id+"/recordings/rec_01M98CVRR0AAAAAAAAAAAAAAAA/screenshot"); code != http.StatusNotFound {
		t.Errorf("a recording the case does not name: %d", code)
	}
}

// TestCaseActionForms drives every lifecycle action's form on the case
// page in headless Chromium, as a coordinator: each changes the case in
// the store with the coordinator as the event's actor. A form opened
// before someone else changed the case is refused with a conflict
// message and changes nothing.
func TestCaseActionForms(t *testing.T) {
	w := newWorld(t,
		payersim.Rule{MemberID: "SHPWAIT01", Outcome: payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 100}},
		payersim.Rule{MemberID: "SHPDENY02", Outcome: payersim.Outcome{Fate: payersim.FateDeny, Reason: "Not medically necessary."}},
		payersim.Rule{MemberID: "SHPREFUSE1", Outcome: payersim.Outcome{Fate: payersim.FateRefuse}})
	ctx := context.Background()
	waiting := w.intake(t, "SHPWAIT01", "Waite")
	denied := w.intake(t, "SHPDENY02", "Denby")
	rejected := w.intake(t, "SHPREFUSE1", "Refsum")
	w.a.SubmitNow(ctx, "summit-portal")
	w.a.PollNow(ctx, nil, "summit-portal")
	ready := w.intake(t, "SHPREADY1", "Reddy")
	for id, want := range map[string]authpilot.Status{waiting: authpilot.StatusSubmitted, denied: authpilot.StatusDenied, rejected: authpilot.StatusRejected} {
		if c := w.get(t, id); c.Status != want {
			t.Fatalf("case %s is %s (%q), want %s", id, c.Status, c.LastError, want)
		}
	}
	dir := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("%PDF-1.4\n% "+name+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file:" + p
	}
	hasEvent := func(c *authpilot.Case, typ authpilot.EventType) error {
		evs, err := w.st.Events(ctx, c.ID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(evs, func(e authpilot.Event) bool { return e.Type == typ && e.Actor == "user:casey" }) {
			return fmt.Errorf("no %s event by user:casey", typ)
		}
		return nil
	}
	hasDoc := func(c *authpilot.Case, name string) error {
		docs, err := w.st.Documents(ctx, c.ID)
		if err != nil {
			return err
		}
		for _, d := range docs {
			if d.Name == name {
				return nil
			}
		}
		return fmt.Errorf("no document %s among %+v", name, docs)
	}

	w.addUser(t, "casey", store.RoleCoordinator)
	p := w.signIn(t, "casey")
	// fill opens a form and sets its fields by id: "file:PATH" uploads,
	// "check" ticks a checkbox, anything else is the value.
	fill := func(id, form string, fields [][2]string) {
		t.Helper()
		p.MustNavigate(w.base + "/cases/" + id).MustWaitLoad()
		f := p.MustElement("#form-" + form)
		f.MustEval(`() => { this.closest("details").open = true }`)
		for _, kv := range fields {
			el := f.MustElement("#" + kv[0])
			switch v := kv[1]; {
			case strings.HasPrefix(v, "file:"):
				el.MustSetFiles(strings.TrimPrefix(v, "file:"))
			case v == "check":
				el.MustEval(`() => { this.checked = true }`)
			default:
				el.MustEval(`(v) => { this.value = v; if (this.value !== v) throw new Error("no option " + v) }`, v)
			}
		}
	}
	submit := func(form string) string {
		t.Helper()
		// Wait for the answer's page itself, not a late lifecycle
		// event of the page the form was on.
		p.MustEval(`() => { window.formPage = true }`)
		p.MustElement("#form-" + form + " button[type=submit]").MustClick()
		p.MustWait(`() => window.formPage === undefined && document.readyState === "complete"`)
		return p.MustElement("main").MustText()
	}

	for _, tt := range []struct {
		name, caseID, form string
		fields             [][2]string
		check              func(c *authpilot.Case) error
	}{
		{"attach", waiting, "attach", [][2]string{{"attach-files", file("pt-notes.pdf")}, {"attach-kind", "pt_notes"}},
			func(c *authpilot.Case) error { return hasDoc(c, "pt-notes.pdf") }},
		{"note", waiting, "note", [][2]string{{"note-text", "Called the payer: in clinical review."}},
			func(c *authpilot.Case) error { return hasEvent(c, authpilot.EventNote) }},
		{"extension", waiting, "extension", [][2]string{{"ext-due", "2026-12-18"}, {"ext-reason", "The payer needs the surgeon's notes."}},
			func(c *authpilot.Case) error {
				if len(c.Extensions) != 1 || c.Extensions[0].Reason != "The payer needs the surgeon's notes." {
					return fmt.Errorf("extensions %+v", c.Extensions)
				}
				return hasEvent(c, authpilot.EventExtension)
			}},
		{"acknowledge a deadline", waiting, "deadline", [][2]string{{"dl-op", "acknowledge"}, {"dl-kind", string(authpilot.DeadlineDecisionDue)}},
			func(c *authpilot.Case) error {
				if len(c.DeadlineAcks) != 1 || c.DeadlineAcks[0].Until != nil || c.DeadlineAcks[0].By != "user:casey" {
					return fmt.Errorf("acks %+v", c.DeadlineAcks)
				}
				return nil
			}},
		{"snooze a deadline", waiting, "deadline", [][2]string{{"dl-op", "snooze"}, {"dl-kind", string(authpilot.DeadlineDecisionDue)}, {"dl-until", "24h"}},
			func(c *authpilot.Case) error {
				if len(c.DeadlineAcks) != 1 || c.DeadlineAcks[0].Until == nil || !c.DeadlineAcks[0].Until.Equal(w.clock.Now().Add(24*time.Hour)) {
					return fmt.Errorf("acks %+v", c.DeadlineAcks)
				}
				return hasEvent(c, authpilot.EventDeadlineAck)
			}},
		{"decide with a letter", waiting, "decide", [][2]string{{"decide-status", "approved"}, {"decide-source", "fax"}, {"decide-auth", "AUTH-778"},
			{"decide-from", "2026-12-07"}, {"decide-to", "2027-01-31"}, {"decide-notice", "2026-12-07"}, {"decide-files", file("approval-letter.pdf")}},
			func(c *authpilot.Case) error {
				if c.Status != authpilot.StatusApproved || c.Determination == nil || c.Determination.AuthNumber != "AUTH-778" {
					return fmt.Errorf("status %s, determination %+v", c.Status, c.Determination)
				}
				if err := hasDoc(c, "approval-letter.pdf"); err != nil {
					return err
				}
				return hasEvent(c, authpilot.EventDeterminationRecorded)
			}},
		{"move the service date past the approval", waiting, "update", [][2]string{{"update-date", "2027-02-15"}},
			func(c *authpilot.Case) error {
				if c.ServiceDate != authpilot.NewDate(2027, 2, 15) {
					return fmt.Errorf("service date %s", c.ServiceDate)
				}
				if err := w.a.FlushAlerts(ctx, 10*time.Second); err != nil {
					return err
				}
				if !slices.ContainsFunc(w.hook.Alerts(), func(a authpilot.Alert) bool {
					return a.CaseID == c.ID && a.Title == "Approval expires before the planned service date"
				}) {
					return fmt.Errorf("no alert that the approval no longer covers the service date")
				}
				return hasEvent(c, authpilot.EventUpdated)
			}},
		{"schedule a peer-to-peer", denied, "p2p", [][2]string{{"p2p-op", "schedule"}, {"p2p-at", "2026-12-08T10:30"}, {"p2p-with", "Dr. Reyes"}},
			func(c *authpilot.Case) error {
				want := time.Date(2026, 12, 8, 10, 30, 0, 0, w.ny)
				if len(c.PeerToPeers) != 1 || c.PeerToPeers[0].ScheduledAt == nil || !c.PeerToPeers[0].ScheduledAt.Equal(want) || c.PeerToPeers[0].WithWhom != "Dr. Reyes" {
					return fmt.Errorf("peer-to-peers %+v", c.PeerToPeers)
				}
				return hasEvent(c, authpilot.EventPeerToPeer)
			}},
		{"record the peer-to-peer's outcome", denied, "p2p", [][2]string{{"p2p-op", "outcome"}, {"p2p-outcome", "upheld"}},
			func(c *authpilot.Case) error {
				if len(c.PeerToPeers) != 1 || c.PeerToPeers[0].Outcome != authpilot.OutcomeUpheld {
					return fmt.Errorf("peer-to-peers %+v", c.PeerToPeers)
				}
				return nil
			}},
		{"file an appeal", denied, "appeal", [][2]string{{"appeal-op", "file"}, {"appeal-level", "reconsideration"}, {"appeal-method", "fax"}, {"appeal-filed", "2026-12-07T08:30"}},
			func(c *authpilot.Case) error {
				if len(c.Appeals) != 1 || c.Appeals[0].Level != authpilot.AppealLevel("reconsideration") || c.Appeals[0].Method != authpilot.Via("fax") {
					return fmt.Errorf("appeals %+v", c.Appeals)
				}
				return hasEvent(c, authpilot.EventAppeal)
			}},
		{"decide the appeal", denied, "appeal", [][2]string{{"appeal-op", "decide"}, {"appeal-outcome", "overturned"}, {"appeal-auth", "AUTH-991"}},
			func(c *authpilot.Case) error {
				if len(c.Appeals) != 1 || c.Appeals[0].Outcome != authpilot.OutcomeOverturned || c.Status != authpilot.StatusApproved || c.Determination.AuthNumber != "AUTH-991" {
					return fmt.Errorf("status %s, appeals %+v", c.Status, c.Appeals)
				}
				return nil
			}},
		{"requeue a rejected case", rejected, "requeue", [][2]string{{"rq-note", "Coverage checked with the payer."}},
			func(c *authpilot.Case) error { return hasEvent(c, authpilot.EventRequeued) }},
		{"withdraw", ready, "withdraw", [][2]string{{"wd-reason", "The surgery was cancelled."}},
			func(c *authpilot.Case) error {
				if c.Status != authpilot.StatusWithdrawn {
					return fmt.Errorf("status %s", c.Status)
				}
				return hasEvent(c, authpilot.EventWithdrawal)
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fill(tt.caseID, tt.form, tt.fields)
			if txt := submit(tt.form); !strings.Contains(txt, "Done: "+tt.form+".") {
				t.Fatalf("after the form:\n%s", txt)
			}
			if err := tt.check(w.get(t, tt.caseID)); err != nil {
				t.Error(err)
			}
		})
	}

	// A stale form: the case changed after the page was opened.
	stale := w.intake(t, "SHPSTALE1", "Stahl")
	fill(stale, "withdraw", [][2]string{{"wd-reason", "Duplicate order."}})
	in, _ := json.Marshal(map[string]string{"text": "Called the patient."})
	if _, err := w.a.Actions().Do(ctx, agent.ActionRequest{CaseID: stale, Name: "note", Input: in, Actor: "user:other"}); err != nil {
		t.Fatal(err)
	}
	before := w.get(t, stale)
	if txt := submit("withdraw"); !strings.Contains(txt, "The case changed since you opened it; nothing was done.") {
		t.Errorf("a stale form:\n%s", txt)
	}
	if after := w.get(t, stale); after.Status != authpilot.StatusReady || after.Version != before.Version {
		t.Errorf("a stale form changed the case: %s, version %d → %d", after.Status, before.Version, after.Version)
	}
}

// TestReportsDeadlinesMissed: a denial's peer-to-peer window passes
// unmet; the reports count it for the payer and track and in the week it
// fell due, on the page and in the CSV.
func TestReportsDeadlinesMissed(t *testing.T) {
	w := newWorld(t, payersim.Rule{MemberID: "SHPDENY03", Outcome: payersim.Outcome{Fate: payersim.FateDeny, Reason: "Not medically necessary."}})
	w.intake(t, "SHPDENY03", "Mistry")
	w.submitAndPoll(t)
	w.clock.Advance(3 * 24 * time.Hour)
	if _, err := w.a.CheckDeadlines(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.addUser(t, "vera", store.RoleViewer)
	c, _, _ := w.httpSignIn(t, "vera", password)
	code, csv := w.getPage(t, c, "/reports.csv")
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if code != http.StatusOK || len(lines) != 3 || !strings.HasSuffix(lines[0], ",open,deadlines_missed") {
		t.Fatalf("reports.csv %d:\n%s", code, csv)
	}
	if !strings.HasPrefix(lines[1], ",summit-ma,surgery,1,1,") || !strings.HasSuffix(lines[1], ",0,1") {
		t.Errorf("the payer and track's row %q: want one missed deadline", lines[1])
	}
	// Due Tuesday 8 December: the week of Monday 7 December.
	if !strings.HasPrefix(lines[2], "2026-12-07,") || !strings.HasSuffix(lines[2], ",1") {
		t.Errorf("the week's row %q: want one missed deadline", lines[2])
	}
	if _, page := w.getPage(t, c, "/reports"); strings.Count(page, `<td class="missed">1</td>`) != 2 {
		t.Errorf("the reports page does not show the missed deadline in both tables")
	}
}
