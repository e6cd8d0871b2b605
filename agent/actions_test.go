package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/internal/testhttp"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/schedules"
)

// checkResponseSent checks that the response to c's last information
// request went through the connector (sent, the request closed, the case
// submitted again) and that the payer simulator holds exactly one response
// for it, with the documents named want (sorted). It returns the request
// and the simulator's view of the case.
func checkResponseSent(t *testing.T, c *authpilot.Case, payer *payersim.Portal, want ...string) (authpilot.InfoRequest, payersim.Request) {
	t.Helper()
	ir := c.InfoRequests[len(c.InfoRequests)-1]
	if c.Status != authpilot.StatusSubmitted || ir.Response == nil || ir.Response.State != authpilot.SendSent || ir.ClosedAt == nil {
		t.Fatalf("after the send: %s, request %+v (last error %q)", c.Status, ir, c.LastError)
	}
	req, ok := payer.Request(c.PayerRef)
	if !ok || len(req.Responses) != 1 {
		t.Fatalf("simulator: %d responses for %s", len(req.Responses), c.PayerRef)
	}
	var names []string
	for _, d := range req.Responses[0].Documents {
		names = append(names, d.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Errorf("simulator received %v, want %v", names, want)
	}
	return ir, req
}

// actionWorld is a daemon on real SQLite with its API on loopback and its
// alerts going to a real webhook receiver.
type actionWorld struct {
	a      *agent.Agent
	base   string
	alerts *notifytest.Endpoint
}

func newActionWorld(t *testing.T) *actionWorld {
	t.Helper()
	dir := t.TempDir()
	w := &actionWorld{alerts: alertHook(t, nil)}
	cfg, _ := idleConfig(t, "Actions test", dir, "idle", w.alerts.URL, "")
	var stop func()
	w.a, w.base, stop = serveAgent(t, cfg, agent.Options{})
	t.Cleanup(stop)
	return w
}

// create stores a case through intake and moves it along path (each a
// legal transition), as a connector would have.
func (w *actionWorld) create(t *testing.T, member, track string, codes []string, path ...authpilot.Status) string {
	t.Helper()
	ctx := context.Background()
	nc := orderOf(t, member, "summit-ma", track, codes, "M48.062", "1245319599")
	nc.Files = nil
	c, err := w.a.Intake().Create(ctx, nc, "test")
	must(t, err)
	for _, st := range path {
		_, err := w.a.Store().UpdateCase(ctx, c.ID, func(c *authpilot.Case) (authpilot.Changes, error) {
			c.Status = st
			if st == authpilot.StatusSubmitted && c.SubmittedAt == nil {
				now := time.Now().UTC()
				c.PayerRef, c.SubmittedAt = "SHP-"+member, &now
			}
			return authpilot.Changes{}, nil
		})
		must(t, err)
	}
	return c.ID
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// call sends an API request; hdr are extra headers ("If-Match", "\"3\"").
func (w *actionWorld) call(t *testing.T, method, path, contentType string, body io.Reader, hdr ...string) answer {
	t.Helper()
	// The request and its answer are checked against openapi.json.
	code, b, h := testhttp.Send(t, agent.SpecClient(t), testhttp.NewRequest(t, method, w.base+path, body,
		append([]string{"Authorization", "Bearer " + e2eToken, "Content-Type", contentType}, hdr...)...))
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return answer{code, h, m, b}
}

func (w *actionWorld) act(t *testing.T, id, name, body string, hdr ...string) answer {
	t.Helper()
	return w.call(t, "POST", "/v1/cases/"+id+"/actions/"+name, "application/json", strings.NewReader(body), hdr...)
}

func (w *actionWorld) get(t *testing.T, id string) *authpilot.Case {
	t.Helper()
	return getCase(t, w.a, id)
}

// multipartBody is a multipart/form-data body: the JSON field and files
// given as name → content under the part name "file".
func multipartBody(t *testing.T, js string, files map[string][]byte) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	must(t, mw.WriteField("json", js))
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, n))
		h.Set("Content-Type", "application/pdf")
		p, err := mw.CreatePart(h)
		must(t, err)
		_, _ = p.Write(files[n])
	}
	must(t, mw.Close())
	return mw.FormDataContentType(), &buf
}

// TestActionsConflictingIfMatch: two people change the same case from the
// same version at once: exactly one update is applied (200), the other is
// refused 409 and changes nothing.
func TestActionsConflictingIfMatch(t *testing.T) {
	w := newActionWorld(t)
	id := w.create(t, "SHPIFMATCH1", "imaging", []string{"72148"})
	got := w.call(t, "GET", "/v1/cases/"+id, "", nil)
	tag := got.header.Get("ETag")
	if got.status != 200 || tag != fmt.Sprintf("%q", fmt.Sprint(w.get(t, id).Version)) {
		t.Fatalf("GET: %d, ETag %q", got.status, tag)
	}
	dates := []string{time.Now().AddDate(0, 0, 40).Format(time.DateOnly), time.Now().AddDate(0, 0, 41).Format(time.DateOnly)}
	var wg sync.WaitGroup
	answers := make([]answer, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = w.call(t, "PATCH", "/v1/cases/"+id, "application/json",
				strings.NewReader(`{"service_date": "`+dates[i]+`"}`), "If-Match", tag)
		}()
	}
	wg.Wait()
	codes := []int{answers[0].status, answers[1].status}
	slices.Sort(codes)
	if codes[0] != 200 || codes[1] != 409 {
		t.Fatalf("answers %v (%s / %s), want one 200 and one 409", codes, answers[0].raw, answers[1].raw)
	}
	win := 0
	if answers[1].status == 200 {
		win = 1
	}
	c := w.get(t, id)
	if c.ServiceDate.String() != dates[win] {
		t.Errorf("service date %s, want the winner's %s", c.ServiceDate, dates[win])
	}
	if n := len(eventsOf(t, w.a, id, authpilot.EventUpdated)); n != 1 {
		t.Errorf("%d case_updated events, want 1", n)
	}
	// A stale If-Match on any action is refused the same way.
	if a := w.act(t, id, "note", `{"text": "called the payer"}`, "If-Match", tag); a.status != 409 {
		t.Errorf("stale note: %d %s, want 409", a.status, a.raw)
	}
}

// TestActionsIdempotencyKey: the same action sent twice with one
// Idempotency-Key is one change (the second answer a replay); the key
// reused for another request is refused and changes nothing.
func TestActionsIdempotencyKey(t *testing.T) {
	w := newActionWorld(t)
	id := w.create(t, "SHPIDEMP01", "imaging", []string{"72148"})
	first := w.act(t, id, "note", `{"text": "faxed the clinicals"}`, "Idempotency-Key", "note-key-1")
	second := w.act(t, id, "note", `{"text": "faxed the clinicals"}`, "Idempotency-Key", "note-key-1")
	if first.status != 200 || second.status != 200 || second.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("answers %d, %d (replayed %q): %s", first.status, second.status, second.header.Get("Idempotent-Replayed"), second.raw)
	}
	other := w.act(t, id, "note", `{"text": "something else"}`, "Idempotency-Key", "note-key-1")
	if other.status != 422 {
		t.Errorf("key reused for another body: %d %s, want 422", other.status, other.raw)
	}
	if evs := eventsOf(t, w.a, id, authpilot.EventNote); len(evs) != 1 || evs[0].Actor != "token:api-token" {
		t.Errorf("note events %+v, want one by token:api-token", evs)
	}
	if v := w.get(t, id).Version; v != int(first.body["version"].(float64)) {
		t.Errorf("version %d after the replay, want %v", v, first.body["version"])
	}
}

// TestDecidedByPhoneWithLetter is issue 11 acceptance 3: an MRI decided
// by phone is recorded by hand with its letter → approved, the letter
// served by the API; the service date moved past the approval's validity
// alerts at once.
func TestDecidedByPhoneWithLetter(t *testing.T) {
	w := newActionWorld(t)
	id := w.create(t, "SHPPHONE01", "imaging", []string{"72148"}, authpilot.StatusSubmitting, authpilot.StatusSubmitted)
	letter := []byte("%PDF-1.4\n% approval letter for the lumbar MRI\n")
	today := time.Now()
	validTo := today.AddDate(0, 0, 45).Format(time.DateOnly)
	js := fmt.Sprintf(`{"source": "phone", "notice_date": %q, "status": "approved", "auth_number": "RAD-5521",
		"valid_from": %q, "valid_to": %q, "approved_lines": [{"code": "72148", "units": 1}]}`,
		today.Format(time.DateOnly), today.Format(time.DateOnly), validTo)
	ct, body := multipartBody(t, js, map[string][]byte{"mri-approval.pdf": letter})
	a := w.call(t, "POST", "/v1/cases/"+id+"/actions/decide", ct, body)
	if a.status != 200 {
		t.Fatalf("decide: %d %s", a.status, a.raw)
	}
	c := w.get(t, id)
	d := c.Determination
	if c.Status != authpilot.StatusApproved || d == nil || d.AuthNumber != "RAD-5521" || d.Source != "phone" || len(d.Letters) != 1 ||
		d.ValidTo.String() != validTo || len(d.ApprovedLines) != 1 {
		t.Fatalf("case %s, determination %+v", c.Status, d)
	}
	doc := w.call(t, "GET", "/v1/cases/"+id+"/documents/"+d.Letters[0], "", nil)
	if doc.status != 200 || !bytes.Equal(doc.raw, letter) || doc.header.Get("Content-Type") != "application/pdf" ||
		!strings.Contains(doc.header.Get("Content-Disposition"), "mri-approval.pdf") {
		t.Fatalf("letter: %d %q %q", doc.status, doc.header.Get("Content-Type"), doc.header.Get("Content-Disposition"))
	}
	if evs := eventsOf(t, w.a, id, authpilot.EventDeterminationRecorded); len(evs) != 1 || evs[0].Actor != "token:api-token" {
		t.Errorf("determination_recorded events %+v", evs)
	}
	// The service moves past the validity: the alert is in the outbox
	// with the update (the same transaction), before any sweep.
	moved := today.AddDate(0, 0, 60).Format(time.DateOnly)
	if a := w.call(t, "PATCH", "/v1/cases/"+id, "application/json", strings.NewReader(`{"service_date": "`+moved+`"}`)); a.status != 200 {
		t.Fatalf("PATCH: %d %s", a.status, a.raw)
	}
	must(t, w.a.FlushAlerts(context.Background(), 10*time.Second))
	var found bool
	al, _ := alertsOf(w.alerts, id, authpilot.AlertDeadlineApproaching)
	for _, x := range al {
		found = found || x.Deadline != nil && x.Deadline.Kind == authpilot.DeadlineAuthExpiry && strings.Contains(x.Title, "before the planned service date")
	}
	if !found {
		t.Errorf("no approval-expires-before-service alert after the move; alerts: %+v", al)
	}
}

// TestActionsValidation: each refusal names its field and rule (422) and
// changes nothing; unknown actions and cases are 404.
func TestActionsValidation(t *testing.T) {
	w := newActionWorld(t)
	id := w.create(t, "SHPVALID01", "surgery", []string{"22612"}, authpilot.StatusSubmitting)
	tests := []struct {
		name, action, body, field string
	}{
		{"requeue of submitting without saying it was not received", "requeue", `{}`, "not_received"},
		{"decide without notice date", "decide", `{"source": "phone", "status": "denied"}`, "notice_date"},
		{"decide an approval without auth number", "decide", `{"source": "fax", "status": "approved", "notice_date": "2026-01-05"}`, "auth_number"},
		{"note without text", "note", `{}`, "text"},
		{"unknown field", "note", `{"text": "x", "txet": "y"}`, "input"},
		{"past service date", "update", `{"service_date": "2020-01-01"}`, "service_date"},
		{"withdraw in flight", "withdraw", `{"via": "phone"}`, "status"},
		{"p2p on a pending case", "p2p", `{"op": "schedule", "scheduled_at": "2030-01-01T10:00:00Z"}`, "status"},
		{"appeal decided with a peer-to-peer's outcome", "appeal", `{"op": "decide", "outcome": "not_held"}`, "outcome"},
		{"p2p upheld with an auth number", "p2p", `{"op": "outcome", "outcome": "upheld", "auth_number": "PA1"}`, "auth_number"},
		{"respond to a case not pended", "respond", `{"via": "fax", "sent_at": "2026-01-01", "note": "x"}`, "status"},
	}
	v := w.get(t, id).Version
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := w.act(t, id, tt.action, tt.body)
			fields, _ := a.body["fields"].([]any)
			var names []string
			for _, f := range fields {
				names = append(names, f.(map[string]any)["field"].(string))
			}
			if a.status != 422 || !slices.Contains(names, tt.field) {
				t.Errorf("%d %s, want 422 naming %s", a.status, a.raw, tt.field)
			}
		})
	}
	if got := w.get(t, id).Version; got != v {
		t.Errorf("version %d after refusals, want %d", got, v)
	}
	if a := w.act(t, id, "frobnicate", `{}`); a.status != 404 {
		t.Errorf("unknown action: %d", a.status)
	}
	if a := w.act(t, "01NOSUCHCASE0000000000000", "note", `{"text": "x"}`); a.status != 404 {
		t.Errorf("unknown case: %d", a.status)
	}
}

// TestStuckSubmittingRequeue: a case stuck in submitting is re-queued only
// on the person's word that the payer did not receive it, or becomes
// submitted with the payer reference found by hand.
func TestStuckSubmittingRequeue(t *testing.T) {
	w := newActionWorld(t)
	notThere := w.create(t, "SHPSTUCK01", "surgery", []string{"22612"}, authpilot.StatusSubmitting)
	found := w.create(t, "SHPSTUCK02", "surgery", []string{"22612"}, authpilot.StatusSubmitting)
	if a := w.act(t, notThere, "requeue", `{"not_received": true, "note": "not on the portal"}`); a.status != 200 || w.get(t, notThere).Status != authpilot.StatusReady {
		t.Errorf("not received: %d %s", a.status, a.raw)
	}
	if a := w.act(t, found, "requeue", `{"payer_ref": "SHP-A-1234"}`); a.status != 200 {
		t.Fatalf("payer ref: %d %s", a.status, a.raw)
	}
	if c := w.get(t, found); c.Status != authpilot.StatusSubmitted || c.PayerRef != "SHP-A-1234" || c.SubmittedAt == nil {
		t.Errorf("found by hand: %s %q", c.Status, c.PayerRef)
	}
	if a := w.act(t, found, "requeue", `{"not_received": true}`); a.status != 422 {
		t.Errorf("requeue of a submitted case: %d, want 422", a.status)
	}
}

// TestRejectedRequeuedSubmitsOnce is issue 11 acceptance 4: a request the
// portal refuses is posted once across five submit cycles; after the fix
// it is re-queued and accepted by exactly one more POST.
func TestRejectedRequeuedSubmitsOnce(t *testing.T) {
	sims, a, alerts := refusingPortal(t, "SHPREQUEUE1")
	ctx := context.Background()
	id := createCase(t, a, "SHPREQUEUE1")
	for range 5 {
		a.SubmitNow(ctx, "summit-portal")
	}
	if st := sims.Payer.Stats(); st.PageLoadsByRoute["POST /auth/new/submit"] != 1 || st.Refused != 1 {
		t.Fatalf("before the fix: %d final POSTs, %d refused; want 1 and 1", st.PageLoadsByRoute["POST /auth/new/submit"], st.Refused)
	}
	checkRejected(t, a, alerts, id, refusedWords)
	// The practice fixes coverage with the payer and re-queues the case.
	must(t, sims.Payer.SetScenario(payersim.Scenario{}))
	if _, err := a.Actions().Do(ctx, agent.ActionRequest{CaseID: id, Name: "requeue", Input: json.RawMessage(`{"note": "coverage reinstated"}`), Actor: "cli:coordinator"}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		a.SubmitNow(ctx, "summit-portal")
	}
	st := sims.Payer.Stats()
	if posts := st.PageLoadsByRoute["POST /auth/new/submit"]; posts != 2 || st.Submissions != 1 {
		t.Fatalf("after the re-queue: %d final POSTs, %d accepted; want 2 and exactly 1", posts, st.Submissions)
	}
	got, err := a.Store().GetCase(ctx, id)
	must(t, err)
	if got.Status != authpilot.StatusSubmitted || got.PayerRef == "" {
		t.Errorf("case %s %q, want submitted with the payer's reference", got.Status, got.PayerRef)
	}
	if evs := eventsOf(t, a, id, authpilot.EventRequeued); len(evs) != 1 || evs[0].Actor != "cli:coordinator" || evs[0].From != authpilot.StatusRejected {
		t.Errorf("requeued events %+v", evs)
	}
}

// deadlinesOf returns the kinds of the case's stored deadlines.
func deadlinesOf(t *testing.T, w *actionWorld, id string) map[authpilot.DeadlineKind]authpilot.Deadline {
	t.Helper()
	ds, err := w.a.Store().Deadlines(context.Background(), id)
	must(t, err)
	out := map[authpilot.DeadlineKind]authpilot.Deadline{}
	for _, d := range ds {
		out[d.Kind] = d
	}
	return out
}

// TestPeerToPeerOverturn is issue 11 acceptance 2 without the portal: an
// ESI denied → a peer-to-peer scheduled (a reminder alert before it, the
// case watched daily) → outcome overturned recorded: the peer-to-peer and
// appeal deadlines stop, the case stays denied until the payer shows the
// approval, which then lands with its auth number.
func TestPeerToPeerOverturn(t *testing.T) {
	w := newActionWorld(t)
	ctx := context.Background()
	id := w.create(t, "SHPP2P0001", "injection", []string{"64483"}, authpilot.StatusSubmitting, authpilot.StatusSubmitted)
	today := time.Now().Format(time.DateOnly)
	if a := w.act(t, id, "decide", `{"source": "portal", "notice_date": "`+today+`", "status": "denied", "reason": "conservative care not documented"}`); a.status != 200 {
		t.Fatalf("deny: %d %s", a.status, a.raw)
	}
	ds := deadlinesOf(t, w, id)
	if _, ok := ds[authpilot.DeadlinePeerToPeer]; !ok {
		t.Fatalf("no peer-to-peer window after the denial: %v", ds)
	}
	if _, ok := ds[authpilot.DeadlineAppeal]; !ok {
		t.Fatalf("no appeal deadline after the denial: %v", ds)
	}
	at := time.Now().Add(20 * time.Hour).UTC().Format(time.RFC3339)
	if a := w.act(t, id, "p2p", `{"op": "schedule", "scheduled_at": "`+at+`", "with_whom": "Dr. Medical Director", "phone": "800-555-0100"}`); a.status != 200 {
		t.Fatalf("schedule: %d %s", a.status, a.raw)
	}
	ds = deadlinesOf(t, w, id)
	if _, ok := ds[authpilot.DeadlinePeerToPeer]; ok {
		t.Errorf("the window still alerts once the peer-to-peer is scheduled")
	}
	if d, ok := ds[authpilot.DeadlinePeerToPeerCall]; !ok || d.Due.Format(time.RFC3339) != at {
		t.Errorf("peer_to_peer_call = %+v, want due %s", d, at)
	}
	c := w.get(t, id)
	if got := c.WatchEvery(7 * 24 * time.Hour); got != 24*time.Hour {
		t.Errorf("watch cadence with a peer-to-peer open: %v, want daily", got)
	}
	must(t, w.a.FlushAlerts(ctx, 10*time.Second))
	reminder := false
	al, _ := alertsOf(w.alerts, id, authpilot.AlertDeadlineApproaching)
	for _, x := range al {
		reminder = reminder || x.Deadline != nil && x.Deadline.Kind == authpilot.DeadlinePeerToPeerCall
	}
	if !reminder {
		t.Errorf("no reminder before the peer-to-peer: %+v", al)
	}
	if a := w.act(t, id, "p2p", `{"op": "outcome", "outcome": "overturned", "note": "approved on the call, letter to follow"}`); a.status != 200 {
		t.Fatalf("outcome: %d %s", a.status, a.raw)
	}
	c = w.get(t, id)
	if c.Status != authpilot.StatusDenied || !c.AwaitingOverturn() || c.WatchEvery(7*24*time.Hour) != 24*time.Hour {
		t.Errorf("after the overturn without an auth number: %s, awaiting %v", c.Status, c.AwaitingOverturn())
	}
	for _, k := range []authpilot.DeadlineKind{authpilot.DeadlinePeerToPeer, authpilot.DeadlinePeerToPeerCall, authpilot.DeadlineAppeal} {
		if _, ok := deadlinesOf(t, w, id)[k]; ok {
			t.Errorf("%s still alerts after the overturn", k)
		}
	}
	// The watch sees the payer's approval.
	_, err := w.a.Store().UpdateCase(ctx, id, func(c *authpilot.Case) (authpilot.Changes, error) {
		return c.Apply(authpilot.Observation{CaseID: id, Status: authpilot.StatusApproved, StatusText: "Approved",
			Determination: &authpilot.Determination{AuthNumber: "ESI-7781"}}, nil, "agent:idle", "", time.Now()), nil
	})
	must(t, err)
	_, err = w.a.CheckDeadlines(ctx)
	must(t, err)
	c = w.get(t, id)
	if c.Status != authpilot.StatusApproved || c.Determination.AuthNumber != "ESI-7781" || len(c.History) != 1 || c.History[0].Status != authpilot.StatusDenied {
		t.Errorf("after the payer's approval: %s %+v, history %+v", c.Status, c.Determination, c.History)
	}
	for k := range deadlinesOf(t, w, id) {
		if k == authpilot.DeadlineAppeal || k == authpilot.DeadlineAppealDecision || k == authpilot.DeadlinePeerToPeer {
			t.Errorf("%s still alerts on the approved case", k)
		}
	}
}

// TestAppealAndExtension: an appeal has its own decision clock and stops
// the filing deadline; an extension beyond the plan's limit is refused
// naming the field; a staff overturn with an auth number approves at once.
func TestAppealAndExtension(t *testing.T) {
	w := newActionWorld(t)
	pending := w.create(t, "SHPEXT0001", "surgery", []string{"22612"}, authpilot.StatusSubmitting, authpilot.StatusSubmitted)
	c := w.get(t, pending)
	due := deadlinesOf(t, w, pending)[authpilot.DeadlineDecisionDue].Due
	if due.IsZero() {
		// Deadlines are stored by the sweep; compute them now.
		_, err := w.a.CheckDeadlines(context.Background())
		must(t, err)
		due = deadlinesOf(t, w, pending)[authpilot.DeadlineDecisionDue].Due
	}
	tooFar := due.AddDate(0, 0, 15).UTC().Format(time.RFC3339)
	if a := w.act(t, pending, "extension", `{"decision_due": "`+tooFar+`", "reason": "awaiting records"}`); a.status != 422 || !strings.Contains(string(a.raw), "more than 14 days") {
		t.Errorf("15-day MA extension: %d %s, want 422 naming the 14-day rule", a.status, a.raw)
	}
	ok := due.AddDate(0, 0, 14).UTC().Format(time.RFC3339)
	if a := w.act(t, pending, "extension", `{"decision_due": "`+ok+`", "reason": "awaiting records"}`); a.status != 200 {
		t.Fatalf("14-day extension: %d %s", a.status, a.raw)
	}
	if got := deadlinesOf(t, w, pending)[authpilot.DeadlineDecisionDue].Due.UTC().Format(time.RFC3339); got != ok {
		t.Errorf("decision due %s after the extension, want %s (version %d)", got, ok, c.Version)
	}

	denied := w.create(t, "SHPAPPEAL1", "surgery", []string{"22612"}, authpilot.StatusSubmitting, authpilot.StatusSubmitted)
	today := time.Now().Format(time.DateOnly)
	if a := w.act(t, denied, "decide", `{"source": "mail", "notice_date": "`+today+`", "status": "denied"}`); a.status != 200 {
		t.Fatalf("deny: %d %s", a.status, a.raw)
	}
	if a := w.act(t, denied, "appeal", `{"op": "file", "level": "reconsideration", "method": "fax"}`); a.status != 200 {
		t.Fatalf("file: %d %s", a.status, a.raw)
	}
	ds := deadlinesOf(t, w, denied)
	if d, ok := ds[authpilot.DeadlineAppealDecision]; !ok || time.Until(d.Due) < 29*24*time.Hour || !strings.Contains(d.Rule, "422.590") {
		t.Errorf("appeal decision due %+v, want 30 days (42 CFR 422.590)", d)
	}
	if _, ok := ds[authpilot.DeadlineAppeal]; ok {
		t.Errorf("the filing deadline still alerts after the appeal was filed")
	}
	if a := w.act(t, denied, "appeal", `{"op": "decide", "outcome": "overturned", "auth_number": "SURG-991", "valid_to": "`+time.Now().AddDate(0, 3, 0).Format(time.DateOnly)+`"}`); a.status != 200 {
		t.Fatalf("decide appeal: %d %s", a.status, a.raw)
	}
	if c := w.get(t, denied); c.Status != authpilot.StatusApproved || c.Determination.AuthNumber != "SURG-991" || c.Determination.DenialReason != "" {
		t.Errorf("after the appeal overturned: %s %+v", c.Status, c.Determination)
	}
}

// TestERISAResponseByFaxResumesClock: an ERISA request pended for
// information has no decision due while it waits (the clock is paused); a
// response recorded as faxed puts the case back in review and the decision
// due returns, moved by the pause.
func TestERISAResponseByFaxResumesClock(t *testing.T) {
	w := newActionWorld(t)
	ctx := context.Background()
	nc := orderOf(t, "SHPERISA01", "summit-ma", "surgery", []string{"22612"}, "M48.062", "1245319599")
	nc.PlanType = authpilot.PlanERISA
	nc.Tracked, nc.PayerRef = true, "SHP-ERISA-1"
	sub := time.Now().Add(-72 * time.Hour).UTC()
	nc.SubmittedAt = &sub
	created, err := w.a.Intake().Create(ctx, nc, "test")
	must(t, err)
	id := created.ID
	if !created.SubmittedAt.Equal(sub) {
		t.Errorf("tracked case's submitted_at %v, want its true %v", created.SubmittedAt, sub)
	}
	_, err = w.a.Store().UpdateCase(ctx, id, func(c *authpilot.Case) (authpilot.Changes, error) {
		return c.Apply(authpilot.Observation{CaseID: id, Status: authpilot.StatusPended,
			Determination: &authpilot.Determination{InfoRequested: "Send 6 weeks of PT notes."}}, nil, "agent:idle", "", time.Now().Add(-48*time.Hour)), nil
	})
	must(t, err)
	_, err = w.a.CheckDeadlines(ctx)
	must(t, err)
	if d, ok := deadlinesOf(t, w, id)[authpilot.DeadlineDecisionDue]; ok {
		t.Errorf("decision due %v while the ERISA clock is paused", d.Due)
	}
	ct, body := multipartBody(t, `{"via": "fax", "sent_at": "`+time.Now().UTC().Format(time.RFC3339)+`", "note": "PT notes faxed"}`,
		map[string][]byte{"pt-notes-week1-6.pdf": []byte("%PDF-1.4 pt"), "pt-discharge.pdf": []byte("%PDF-1.4 dc")})
	if a := w.call(t, "POST", "/v1/cases/"+id+"/actions/respond", ct, body); a.status != 200 {
		t.Fatalf("respond: %d %s", a.status, a.raw)
	}
	c := w.get(t, id)
	ir := c.InfoRequests[0]
	if c.Status != authpilot.StatusSubmitted || ir.Response == nil || ir.Response.State != authpilot.SendSent || len(ir.Response.Documents) != 2 || ir.ClosedAt == nil {
		t.Fatalf("after the response: %s %+v", c.Status, ir)
	}
	d, ok := deadlinesOf(t, w, id)[authpilot.DeadlineDecisionDue]
	want := sub.AddDate(0, 0, 15).Add(ir.ClosedAt.Sub(ir.RequestedAt))
	if !ok || d.Due.Sub(want).Abs() > time.Hour || !strings.Contains(d.Rule, "clock paused") {
		t.Errorf("decision due %+v, want about %v (15 days moved by the pause)", d, want)
	}
}

// TestRespondAndWithdrawThroughSummit: with real Chromium against the
// Summit simulator, a pended fusion's response (two PDFs) is queued by the
// respond action and sent through the portal's additional-information
// page (the simulator receives both files by their names), the case goes
// back in review and is approved at the next poll; another request is
// withdrawn through the portal (withdrawn at the simulator and here).
func TestRespondAndWithdrawThroughSummit(t *testing.T) {
	sims := startSims(t, payersim.SetOptions{})
	must(t, sims.Payer.SetScenario(payersim.Scenario{Rules: []payersim.Rule{
		{MemberID: "SHPRESPOND1", Outcome: payersim.Outcome{Fate: payersim.FatePend, InfoRequest: "Send 6 weeks of PT notes.", AwaitResponse: true,
			Then: &payersim.Outcome{Fate: payersim.FateApprove, ValidityDays: 90}}},
		{MemberID: "SHPWDRAW001", Outcome: payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 50}},
	}}))
	a, _ := e2eAgent(t, sims)
	ctx := context.Background()
	fusion, other := createCase(t, a, "SHPRESPOND1"), createCase(t, a, "SHPWDRAW001")
	a.SubmitNow(ctx, "summit-portal")
	a.PollNow(ctx, nil, "summit-portal")
	c, err := a.Store().GetCase(ctx, fusion)
	must(t, err)
	if c.Status != authpilot.StatusPended || c.OpenInfoRequest() == nil {
		t.Fatalf("fusion %s, info requests %+v; want pended with an open request", c.Status, c.InfoRequests)
	}
	files := []authpilot.File{
		{Name: "pt-notes-weeks-1-6.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4\n% PT notes weeks 1-6\n")},
		{Name: "mri-report-l4-l5.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4\n% MRI report\n")},
	}
	c, err = a.Actions().Do(ctx, agent.ActionRequest{CaseID: fusion, Name: "respond", Actor: "cli:coordinator",
		Input: json.RawMessage(`{"via": "portal", "note": "PT notes and MRI report attached."}`), Files: files})
	must(t, err)
	if r := c.OpenInfoRequest().Response; r == nil || r.State != authpilot.SendQueued {
		t.Fatalf("response after the action: %+v, want queued", r)
	}
	a.WaitSends()
	c, err = a.Store().GetCase(ctx, fusion)
	must(t, err)
	checkResponseSent(t, c, sims.Payer, "mri-report-l4-l5.pdf", "pt-notes-weeks-1-6.pdf")
	a.PollNow(ctx, nil, "summit-portal")
	if c, _ := a.Store().GetCase(ctx, fusion); c.Status != authpilot.StatusApproved {
		t.Errorf("after the next poll: %s, want approved", c.Status)
	}

	// The payer asked to come back later: the withdrawal waits, queued,
	// and goes after the next poll once the hold has passed.
	hold := func(until time.Time) {
		_, err := a.Store().UpdateConnectorState(ctx, "summit-portal", func(s *authpilot.ConnectorState) ([]authpilot.Alert, error) {
			s.NotBefore, s.NotBeforeReason = until, "maintenance"
			return nil, nil
		})
		must(t, err)
	}
	hold(time.Now().Add(time.Hour))
	if _, err := a.Actions().Do(ctx, agent.ActionRequest{CaseID: other, Name: "withdraw", Actor: "cli:coordinator",
		Input: json.RawMessage(`{"via": "portal", "reason": "surgery cancelled by the patient"}`)}); err != nil {
		t.Fatal(err)
	}
	a.WaitSends()
	if c, _ := a.Store().GetCase(ctx, other); c.Status == authpilot.StatusWithdrawn || c.Withdrawal.State != authpilot.SendQueued {
		t.Fatalf("withdrawal during a hold: %s %+v, want still queued", c.Status, c.Withdrawal)
	}
	hold(time.Time{})
	a.PollNow(ctx, nil, "summit-portal")
	c, err = a.Store().GetCase(ctx, other)
	must(t, err)
	if c.Status != authpilot.StatusWithdrawn || c.Withdrawal == nil || c.Withdrawal.State != authpilot.SendSent {
		t.Fatalf("withdrawn case: %s %+v", c.Status, c.Withdrawal)
	}
	if req, _ := sims.Payer.Request(c.PayerRef); req.WithdrawnAt.IsZero() {
		t.Errorf("the simulator does not show the request withdrawn")
	}
}

// TestInterruptedSendIsNotRepeated: a response the daemon was sending when
// it stopped may or may not have reached the payer: at start-up it becomes
// failed with a needs_human alert, and is never sent again by itself.
func TestInterruptedSendIsNotRepeated(t *testing.T) {
	dir := t.TempDir()
	alerts := alertHook(t, nil)
	cfg, _ := idleConfig(t, "Send test", dir, "idle", alerts.URL, "")
	a, base, stop := serveAgent(t, cfg, agent.Options{})
	w := &actionWorld{a: a, base: base, alerts: alerts}
	id := w.create(t, "SHPSENDING1", "surgery", []string{"22612"}, authpilot.StatusSubmitting, authpilot.StatusSubmitted, authpilot.StatusPended)
	_, err := a.Store().UpdateCase(context.Background(), id, func(c *authpilot.Case) (authpilot.Changes, error) {
		c.InfoRequests = []authpilot.InfoRequest{{RequestedAt: time.Now().UTC(),
			Response: &authpilot.InfoResponse{Via: authpilot.ViaPortal, State: authpilot.SendSending}}}
		return authpilot.Changes{}, nil
	})
	must(t, err)
	stop()

	a, base, stop = serveAgent(t, cfg, agent.Options{})
	defer stop()
	// The API serves once start-up (and its recovery) is done.
	if h := (&actionWorld{base: base}).call(t, "GET", "/healthz", "", nil); h.status != 200 {
		t.Fatalf("healthz: %d", h.status)
	}
	must(t, a.FlushAlerts(context.Background(), 10*time.Second))
	c, err := a.Store().GetCase(context.Background(), id)
	must(t, err)
	if r := c.InfoRequests[0].Response; r.State != authpilot.SendFailed || !strings.Contains(r.Error, "interrupted") || c.Status != authpilot.StatusPended {
		t.Errorf("after the restart: %s, response %+v; want failed, still pended", c.Status, r)
	}
	if al, _ := alertsOf(alerts, id, authpilot.AlertNeedsHuman); len(al) != 1 {
		t.Errorf("needs_human alerts %d, want 1", len(al))
	}
}

// TestTrackedCaseBringsItsClock: a tracked case (submitted elsewhere) may
// carry its true submitted_at and earlier determinations, so its deadlines
// run from the real submission; a new request may carry neither, and still
// refuses a past service date.
func TestTrackedCaseBringsItsClock(t *testing.T) {
	w := newActionWorld(t)
	ctx := context.Background()
	newCase := func(member string, tracked bool, sub time.Time, history []authpilot.Determination) (*authpilot.Case, error) {
		nc := orderOf(t, member, "summit-ma", "imaging", []string{"72148"}, "M48.062", "1245319599")
		nc.Files = nil
		if tracked {
			nc.Tracked, nc.PayerRef = true, "SHP-"+member
		}
		if !sub.IsZero() {
			nc.SubmittedAt = &sub
		}
		nc.History = history
		return w.a.Intake().Create(ctx, nc, "test")
	}
	sub := time.Now().Add(-5 * 24 * time.Hour).UTC().Truncate(time.Second)
	earlier := []authpilot.Determination{{Status: authpilot.StatusPended, NoticeDate: authpilot.DateOf(sub.AddDate(0, 0, 1)), InfoRequested: "MRI report"}}
	c, err := newCase("SHPTRACK01", true, sub, earlier)
	must(t, err)
	if !c.SubmittedAt.Equal(sub) || len(c.History) != 1 || c.Status != authpilot.StatusSubmitted {
		t.Errorf("tracked: submitted %v, history %+v, %s", c.SubmittedAt, c.History, c.Status)
	}
	_, err = w.a.CheckDeadlines(ctx)
	must(t, err)
	if d := deadlinesOf(t, w, c.ID)[authpilot.DeadlineDecisionDue]; !d.Due.Equal(sub.AddDate(0, 0, 7)) {
		t.Errorf("decision due %v, want 7 days after the true submission %v", d.Due, sub)
	}
	for _, tc := range []struct {
		name    string
		tracked bool
		sub     time.Time
		field   string
	}{
		{"a new request with submitted_at", false, sub, "submitted_at"},
		{"a future submission", true, time.Now().Add(48 * time.Hour), "submitted_at"},
	} {
		var ve authpilot.ValidationError
		_, err := newCase("SHPTRACK02", tc.tracked, tc.sub, nil)
		if !errors.As(err, &ve) || !slices.ContainsFunc(ve, func(f authpilot.FieldError) bool { return f.Field == tc.field }) {
			t.Errorf("%s: %v, want a rule on %s", tc.name, err, tc.field)
		}
	}
}

// TestAttachAndAcknowledge: documents attached by multipart upload and as
// JSON base64 keep their names and media types and are served; the events
// route lists them with their actor; a deadline acknowledged stays quiet,
// one snoozed comes back after the snooze.
func TestAttachAndAcknowledge(t *testing.T) {
	w := newActionWorld(t)
	id := w.create(t, "SHPATTACH1", "surgery", []string{"22612"}, authpilot.StatusSubmitting, authpilot.StatusSubmitted)
	ct, body := multipartBody(t, `{"kind": "pt_notes"}`, map[string][]byte{"pt-week-1.pdf": []byte("%PDF-1.4 one"), "pt-week-2.pdf": []byte("%PDF-1.4 two")})
	if a := w.call(t, "POST", "/v1/cases/"+id+"/actions/attach", ct, body); a.status != 200 {
		t.Fatalf("multipart attach: %d %s", a.status, a.raw)
	}
	if a := w.act(t, id, "attach", `{"files": [{"name": "xray.png", "content_base64": "iVBORw0KGgo="}]}`); a.status != 200 {
		t.Fatalf("JSON attach: %d %s", a.status, a.raw)
	}
	c := w.get(t, id)
	if len(c.Attachments) != 3 || c.Attachments[0].Kind != "pt_notes" || c.Attachments[2].ContentType != "image/png" {
		t.Fatalf("attachments %+v", c.Attachments)
	}
	doc := w.call(t, "GET", "/v1/cases/"+id+"/documents/"+c.Attachments[1].SHA256, "", nil)
	if doc.status != 200 || string(doc.raw) != "%PDF-1.4 two" || !strings.Contains(doc.header.Get("Content-Disposition"), "pt-week-2.pdf") {
		t.Errorf("attachment served: %d %q %q", doc.status, doc.raw, doc.header.Get("Content-Disposition"))
	}
	evs := w.call(t, "GET", "/v1/cases/"+id+"/events", "", nil)
	list, _ := evs.body["events"].([]any)
	stored := 0
	for _, e := range list {
		if m := e.(map[string]any); m["type"] == string(authpilot.EventDocumentStored) && m["actor"] == "token:api-token" {
			stored++
		}
	}
	if evs.status != 200 || stored != 3 {
		t.Errorf("events: %d, %d document_stored by the token, want 3", evs.status, stored)
	}

	today := time.Now().Format(time.DateOnly)
	if a := w.act(t, id, "decide", `{"source": "phone", "notice_date": "`+today+`", "status": "denied"}`); a.status != 200 {
		t.Fatalf("deny: %d %s", a.status, a.raw)
	}
	if a := w.act(t, id, "deadline", `{"op": "acknowledge", "kind": "appeal_filing"}`); a.status != 200 {
		t.Fatalf("acknowledge: %d %s", a.status, a.raw)
	}
	if a := w.act(t, id, "deadline", `{"op": "snooze", "kind": "peer_to_peer", "until": "24h"}`); a.status != 200 {
		t.Fatalf("snooze: %d %s", a.status, a.raw)
	}
	c = w.get(t, id)
	ds := deadlinesOf(t, w, id)
	rules := schedules.DefaultRules() // the test config sets no deadline rules
	late := ds[authpilot.DeadlineAppeal].Due.Add(time.Hour)
	if got := rules.Check(c, []authpilot.Deadline{ds[authpilot.DeadlineAppeal]}, late); len(got) != 0 {
		t.Errorf("acknowledged appeal deadline alerts: %+v", got)
	}
	p2p := ds[authpilot.DeadlinePeerToPeer]
	if got := rules.Check(c, []authpilot.Deadline{p2p}, time.Now().Add(time.Hour)); len(got) != 0 {
		t.Errorf("snoozed peer-to-peer deadline alerts during the snooze: %+v", got)
	}
	if got := rules.Check(c, []authpilot.Deadline{p2p}, p2p.Due.Add(time.Minute)); len(got) != 1 {
		t.Errorf("snoozed peer-to-peer deadline after the snooze: %d alerts, want 1", len(got))
	}
	if a := w.act(t, id, "deadline", `{"op": "acknowledge", "kind": "decision_due"}`); a.status != 422 {
		t.Errorf("acknowledging a deadline the case does not have: %d", a.status)
	}
}

// BenchmarkActionNote is one staff action end to end on SQLite on disk
// (through agent.Actions: one synced transaction with its event).
func BenchmarkActionNote(b *testing.B) {
	dir := b.TempDir()
	cfg, err := config.Parse("bench.yaml", []byte(idleYAML("Bench", dir, "idle", "")))
	if err != nil {
		b.Fatal(err)
	}
	a := openAgent(b, cfg)
	ctx := context.Background()
	nc := orderOf(b, "SHPBENCH01", "summit-ma", "imaging", []string{"72148"}, "M48.062", "1245319599")
	nc.Files = nil
	c, err := a.Intake().Create(ctx, nc, "bench")
	if err != nil {
		b.Fatal(err)
	}
	in := json.RawMessage(`{"text": "called the payer; in review"}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.Actions().Do(ctx, agent.ActionRequest{CaseID: c.ID, Name: "note", Input: in, Actor: "cli:bench"}); err != nil {
			b.Fatal(err)
		}
	}
}
