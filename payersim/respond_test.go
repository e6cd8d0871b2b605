package payersim_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/authpilot/authpilot/payersim"
)

// TestPayerRespondWithdrawP2P drives the escalation pages of the Summit
// portal over HTTP: a pended request (await_response) takes two files and
// a note on its upload page, goes back in review without the confirmation
// counting as a check, and is decided by the pend's follow-up on the next
// view; a request is withdrawn with its button; a denial flips to approved
// on the list after a peer-to-peer recorded through the admin endpoint.
func TestPayerRespondWithdrawP2P(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	e.loginPayer()
	sub := simpleSubmission("W123456789", "22630")
	sub.Outcome = &payersim.Outcome{Fate: payersim.FatePend, InfoRequest: "Send PT notes.", AwaitResponse: true,
		Then: &payersim.Outcome{Fate: payersim.FateApprove}}
	ref := seed(t, e.portal, sub)

	for i := range 3 { // pended, and it stays pended without a response
		d := e.get("/auth/" + ref)
		if got := mustText(t, d, "auth-status"); got != "Pending - Additional Information Requested" {
			t.Fatalf("view %d: status %q, want pended", i, got)
		}
		if !hasID(d.body, "respond-link") || !hasID(d.body, "withdraw-link") {
			t.Fatalf("view %d: no respond or withdraw link on a pended request", i)
		}
	}
	form := e.get("/auth/" + ref + "/respond")
	if got := mustText(t, form, "respond-member-id"); got != "******6789" {
		t.Fatalf("respond page member %q", got)
	}
	tok := hidden(t, form.body, "csrf_token")
	empty := e.postMultipart("/auth/"+ref+"/respond", url.Values{"csrf_token": {tok}, "note": {"n"}})
	if empty.status != 422 || !strings.Contains(mustText(t, empty, "respond-error"), "at least one document") {
		t.Fatalf("respond without files: %d", empty.status)
	}
	checks := mustRequest(t, e.portal, ref).Checks
	sent := e.postMultipart("/auth/"+ref+"/respond", url.Values{"csrf_token": {tok}, "note": {"PT notes attached."}},
		upload{"documents", "pt-notes.pdf", []byte("%PDF-1.4 pt")}, upload{"documents", "mri-report.pdf", []byte("%PDF-1.4 mri")})
	e.mustBeAt(sent, "/auth/"+ref+"/respond/sent", "respond")
	if got := mustText(t, sent, "respond-status"); got != "In Review" {
		t.Fatalf("after the response: %q, want In Review", got)
	}
	r := mustRequest(t, e.portal, ref)
	if r.Checks != checks || r.Status != payersim.StatusInReview || len(r.Responses) != 1 || r.Responses[0].Note != "PT notes attached." {
		t.Fatalf("after the response: %+v", r)
	}
	if names := docNames(r.Responses[0].Documents); names != "pt-notes.pdf,mri-report.pdf" {
		t.Fatalf("files received %s", names)
	}
	if got := mustText(t, e.get("/auth/"+ref), "auth-status"); got != "Approved" {
		t.Fatalf("next view after the response: %q, want Approved", got)
	}
	if st := e.portal.Stats(); st.Responses != 1 || st.Uploads != 2 {
		t.Fatalf("stats responses %d uploads %d", st.Responses, st.Uploads)
	}

	// Withdraw.
	ref2 := seed(t, e.portal, simpleSubmission("W555556789", "72148"))
	wf := e.get("/auth/" + ref2 + "/withdraw")
	tok = hidden(t, wf.body, "csrf_token")
	unconfirmed := e.post("/auth/"+ref2+"/withdraw", url.Values{"csrf_token": {tok}, "reason": {"x"}})
	if !hasID(unconfirmed.body, "withdraw-error") {
		t.Fatal("withdraw without the confirmation box: no error")
	}
	done := e.post("/auth/"+ref2+"/withdraw", url.Values{"csrf_token": {tok}, "reason": {"Patient declined surgery."}, "confirm": {"yes"}})
	e.mustBeAt(done, "/auth/"+ref2+"/withdrawn", "withdraw")
	if got := mustText(t, done, "withdrawn-status"); got != "Withdrawn by Provider" {
		t.Fatalf("withdrawn status %q", got)
	}
	if r := mustRequest(t, e.portal, ref2); r.Status != payersim.StatusWithdrawn || r.WithdrawReason != "Patient declined surgery." {
		t.Fatalf("withdrawn request %+v", r)
	}
	if again := e.get("/auth/" + ref2 + "/withdraw"); !hasID(again.body, "withdraw-closed") {
		t.Fatal("a withdrawn request offers the withdraw form again")
	}

	// A denial overturned after a peer-to-peer, seen on the list.
	den := simpleSubmission("W777776789", "64483")
	den.Outcome = &payersim.Outcome{Fate: payersim.FateDeny}
	ref3 := seed(t, e.portal, den)
	e.get("/auth/" + ref3)
	if status, body := adminDo(t, e, "POST", "/_sim/requests/"+ref3+"/p2p", `{"outcome":"sideways"}`); status != 422 {
		t.Fatalf("p2p with a bad outcome: %d %s", status, body)
	}
	if status, body := adminDo(t, e, "POST", "/_sim/requests/"+ref+"/p2p", `{"outcome":"overturned"}`); status != 422 {
		t.Fatalf("p2p on an approved request: %d %s", status, body)
	}
	status, body := adminDo(t, e, "POST", "/_sim/requests/"+ref3+"/p2p", `{"outcome":"overturned","auth_number":"PA-P2P-1"}`)
	if status != 200 || !strings.Contains(body, `"outcome": "overturned"`) {
		t.Fatalf("p2p: %d %s", status, body)
	}
	list := e.get("/auth/list?member=W777776789")
	if !strings.Contains(list.body, ">Approved<") {
		t.Fatalf("the list does not show the overturn:\n%s", list.body)
	}
	if status, body := adminDo(t, e, "GET", "/_sim/requests/"+ref3, ""); status != 200 || !strings.Contains(body, `"auth_number": "PA-P2P-1"`) {
		t.Fatalf("admin request after the overturn: %d %s", status, body)
	}
}

// TestRBMOffersNoRespondOrWithdraw: the RBM portal has neither page.
func TestRBMOffersNoRespondOrWithdraw(t *testing.T) {
	e := newRBMEnv(t, payersim.RBMOptions{})
	ref := seed(t, e.portal, simpleSubmission("W123456789", "72148"))
	if _, err := e.portal.Respond(ref, "n", []payersim.Document{{Name: "a.pdf", Size: 1}}); err == nil {
		t.Fatal("the RBM took a response")
	}
	if _, err := e.portal.Withdraw(ref, "n"); err == nil {
		t.Fatal("the RBM withdrew a request")
	}
}

func mustRequest(t *testing.T, p *payersim.Portal, ref string) payersim.Request {
	t.Helper()
	r, ok := p.Request(ref)
	if !ok {
		t.Fatalf("no request %s", ref)
	}
	return r
}

func docNames(docs []payersim.Document) string {
	var names []string
	for _, d := range docs {
		names = append(names, d.Name)
	}
	return strings.Join(names, ",")
}
