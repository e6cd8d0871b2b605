package payersim

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The escalation path on the payer portal (Summit): a provider answers a
// pended request with documents and a note, withdraws a request, and a
// peer-to-peer recorded with the simulator can overturn a denial. The RBM
// portal offers none of it.

// withdrawable are the statuses a provider can withdraw a request from.
var withdrawable = []Status{StatusInReview, StatusPended, StatusApproved, StatusPartiallyApproved, StatusModified}

// Respond records additional information for a pended request, as its
// upload page does: the request goes back in review and the pend's
// follow-up (Outcome.Then), else the scenario matched again with the
// response's file names, decides it after its checks.
func (p *Portal) Respond(ref, note string, docs []Document) (Request, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.byRef[strings.ToUpper(strings.TrimSpace(ref))]
	if r == nil {
		return Request{}, fmt.Errorf("respond %s: no such request", ref)
	}
	if err := p.respondLocked(r, note, docs, p.now()); err != nil {
		return Request{}, fmt.Errorf("respond %s: %w", ref, err)
	}
	return r.snapshot(), nil
}

func (p *Portal) respondLocked(r *request, note string, docs []Document, now time.Time) error {
	if p.kind != kindPayer {
		return errors.New("this portal takes no additional information online")
	}
	if r.Status != StatusPended {
		return fmt.Errorf("the request is %s, not pended", r.Status)
	}
	if len(docs) == 0 {
		return errors.New("no documents")
	}
	r.Responses = append(r.Responses, InfoResponse{At: now, Note: note, Documents: slices.Clone(docs)})
	r.Status, r.StatusText = StatusInReview, p.wording(StatusInReview)
	r.InfoRequested = ""
	r.UpdatedAt = now
	r.awaiting = false
	r.phaseStart = r.Checks
	if r.next == nil {
		sub := r.Submission
		sub.Documents = append(slices.Clone(sub.Documents), docs...)
		sub.Notes += "\n" + note
		o := p.scenario.match(&sub)
		if o.Fate == FateRefuse {
			o = defaultOutcome.clone()
		}
		r.next = &o
	}
	p.stats.Responses++
	p.stats.Uploads += len(docs)
	return nil
}

// Withdraw withdraws a request as the provider's withdraw button does.
func (p *Portal) Withdraw(ref, reason string) (Request, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.byRef[strings.ToUpper(strings.TrimSpace(ref))]
	if r == nil {
		return Request{}, fmt.Errorf("withdraw %s: no such request", ref)
	}
	if err := p.withdrawLocked(r, reason, p.now()); err != nil {
		return Request{}, fmt.Errorf("withdraw %s: %w", ref, err)
	}
	return r.snapshot(), nil
}

func (p *Portal) withdrawLocked(r *request, reason string, now time.Time) error {
	if p.kind != kindPayer {
		return errors.New("this portal does not withdraw requests online")
	}
	if !slices.Contains(withdrawable, r.Status) {
		return fmt.Errorf("a %s request cannot be withdrawn", r.Status)
	}
	r.Status, r.StatusText = StatusWithdrawn, p.wording(StatusWithdrawn)
	r.InfoRequested = ""
	r.UpdatedAt, r.WithdrawnAt, r.WithdrawReason = now, now, strings.TrimSpace(reason)
	r.next, r.awaiting = nil, false
	p.stats.Withdrawals++
	return nil
}

// PeerToPeerInput records a peer-to-peer discussion: its outcome
// (overturned → approved, modified → approved as modified, upheld →
// unchanged) shows after AfterChecks more views, on the list as on the
// detail page.
type PeerToPeerInput struct {
	Outcome     string `json:"outcome"`
	AfterChecks int    `json:"after_checks,omitempty"`
	// AuthNumber fixes the authorization number of an overturn.
	AuthNumber string `json:"auth_number,omitempty"`
}

// RecordPeerToPeer records a peer-to-peer on a denied, partially approved
// or modified request and scripts its result.
func (p *Portal) RecordPeerToPeer(ref string, in PeerToPeerInput) (Request, error) {
	var o *Outcome
	switch in.Outcome {
	case "overturned":
		o = &Outcome{Fate: FateApprove, AfterChecks: in.AfterChecks, AuthNumber: in.AuthNumber}
	case "modified":
		o = &Outcome{Fate: FateModify, AfterChecks: in.AfterChecks, AuthNumber: in.AuthNumber,
			Reason: "Approved as modified after a peer-to-peer discussion."}
	case "upheld":
	default:
		return Request{}, fmt.Errorf("peer-to-peer %s: outcome %q is not overturned, modified or upheld", ref, in.Outcome)
	}
	if in.AfterChecks < 0 {
		return Request{}, fmt.Errorf("peer-to-peer %s: after_checks %d is negative", ref, in.AfterChecks)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.byRef[strings.ToUpper(strings.TrimSpace(ref))]
	if r == nil {
		return Request{}, fmt.Errorf("peer-to-peer %s: no such request", ref)
	}
	if !slices.Contains([]Status{StatusDenied, StatusPartiallyApproved, StatusModified}, r.Status) {
		return Request{}, fmt.Errorf("peer-to-peer %s: the request is %s; a peer-to-peer follows a denial or a reduced approval", ref, r.Status)
	}
	r.PeerToPeers = append(r.PeerToPeers, PeerToPeer{At: p.now(), Outcome: in.Outcome})
	if o != nil {
		r.next = o
		r.phaseStart = r.Checks
	}
	return r.snapshot(), nil
}

// ---- pages ----

// actionView is the data of the respond and withdraw pages.
type actionView struct {
	// ID is the page's name ("respond"), the prefix of its element IDs.
	ID     string
	R      Request
	Open   bool // the action is possible in the request's status
	Errors []string
	Note   string
}

// requestLocked returns the request named in the path without counting a
// view. p.mu must be held.
func (p *Portal) requestLocked(r *http.Request) *request {
	return p.byRef[strings.ToUpper(strings.TrimSpace(r.PathValue("ref")))]
}

func (p *Portal) actionPage(w http.ResponseWriter, r *http.Request, s *session, name, title string, open func(*request) bool, v actionView) {
	p.mu.Lock()
	x := p.requestLocked(r)
	if x == nil {
		pg := p.newPage("Authorization not found", s, r.PathValue("ref"))
		p.mu.Unlock()
		p.render(w, http.StatusNotFound, "notfound.html", pg)
		return
	}
	v.ID, v.R, v.Open = strings.TrimSuffix(name, ".html"), x.snapshot(), open(x)
	pg := p.newPage(title+" "+x.Reference, s, v)
	p.mu.Unlock()
	status := http.StatusOK
	if v.Errors != nil {
		status = http.StatusUnprocessableEntity
	}
	p.render(w, status, name, pg)
}

// onRequest runs fn on the request named in the path, under p.mu.
func (p *Portal) onRequest(r *http.Request, fn func(x *request, now time.Time) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	x := p.requestLocked(r)
	if x == nil {
		return errors.New("no such request")
	}
	return fn(x, p.now())
}

func pended(r *request) bool      { return r.Status == StatusPended }
func canWithdraw(r *request) bool { return slices.Contains(withdrawable, r.Status) }
func always(*request) bool        { return true }
func (p *Portal) payerRespondPage(w http.ResponseWriter, r *http.Request, s *session) {
	p.actionPage(w, r, s, "respond.html", "Additional information for", pended, actionView{})
}

func (p *Portal) payerRespond(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseUpload(w, r); err != nil {
		p.actionPage(w, r, s, "respond.html", "Additional information for", pended,
			actionView{Errors: []string{"The upload could not be read. Files must be under 25 MB."}})
		return
	}
	if !p.formOK(w, r, s) {
		return
	}
	docs, errs := readUploads(r, "documents")
	note := strings.TrimSpace(r.PostFormValue("note"))
	switch {
	case errs != nil:
	case len(docs) == 0:
		errs = []string{"Attach at least one document."}
	case len(docs) > maxDocuments:
		errs = []string{fmt.Sprintf("At most %d documents can be attached.", maxDocuments)}
	}
	if errs == nil {
		if err := p.onRequest(r, func(x *request, now time.Time) error { return p.respondLocked(x, note, docs, now) }); err != nil {
			errs = []string{"This request is not waiting for additional information."}
		}
	}
	p.actionDone(w, r, s, "respond.html", "Additional information for", pended, actionView{Errors: errs, Note: note}, "/respond/sent")
}

// actionDone shows the action's form again with v's errors, or sends the
// browser on to the action's confirmation page (post/redirect/get).
func (p *Portal) actionDone(w http.ResponseWriter, r *http.Request, s *session, name, title string, open func(*request) bool, v actionView, done string) {
	if v.Errors != nil {
		p.actionPage(w, r, s, name, title, open, v)
		return
	}
	http.Redirect(w, r, "/auth/"+r.PathValue("ref")+done, http.StatusSeeOther)
}

func (p *Portal) payerRespondSent(w http.ResponseWriter, r *http.Request, s *session) {
	p.actionPage(w, r, s, "responded.html", "Information received for", always, actionView{})
}

func (p *Portal) payerWithdrawPage(w http.ResponseWriter, r *http.Request, s *session) {
	p.actionPage(w, r, s, "withdraw.html", "Withdraw", canWithdraw, actionView{})
}

func (p *Portal) payerWithdraw(w http.ResponseWriter, r *http.Request, s *session) {
	if !p.formOK(w, r, s) {
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	var errs []string
	if c := r.PostFormValue("confirm"); c != "yes" && c != "on" {
		errs = []string{"Confirm that you want to withdraw this request."}
	} else if err := p.onRequest(r, func(x *request, now time.Time) error { return p.withdrawLocked(x, reason, now) }); err != nil {
		errs = []string{"This request can no longer be withdrawn."}
	}
	p.actionDone(w, r, s, "withdraw.html", "Withdraw", canWithdraw, actionView{Errors: errs, Note: reason}, "/withdrawn")
}

func (p *Portal) payerWithdrawn(w http.ResponseWriter, r *http.Request, s *session) {
	p.actionPage(w, r, s, "withdrawn.html", "Withdrawn:", always, actionView{})
}
