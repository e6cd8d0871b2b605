package portal

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/payersim"
)

// summitRequest files the lumbar fusion of lumbarFusion at the simulator
// for member with outcome o and returns the case tracking it.
func (p *summit) fusionRequest(t *testing.T, member string, o *payersim.Outcome) *authpilot.Case {
	t.Helper()
	ref, err := p.sim.AddRequest(payersim.Submission{MemberID: member, DOB: "1961-07-04",
		Lines:     []payersim.ServiceLine{{Code: "22612", Units: 1}, {Code: "22614", Units: 2}},
		Diagnoses: []string{"M43.16"}, ServiceDate: "2026-04-20", Outcome: o})
	if err != nil {
		t.Fatal(err)
	}
	c := lumbarFusion(t)
	c.PayerRef, c.Status, c.StatusText = ref, authpilot.StatusSubmitted, "In Review"
	return c
}

var twoPDFs = connectors.Response{Note: "Operative plan and PT notes attached.", Files: []authpilot.File{
	{Name: "pt-notes-12-weeks.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4\n% twelve weeks of PT\n%%EOF\n")},
	{Name: "mri-lumbar-2026-02.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4\n% MRI L4-S1\n%%EOF\n")},
}}

// TestSummitRespondToPendedRequest: a pended lumbar fusion answered with
// two PDFs and a note through the Summit portal's additional-information
// page with Chromium: the simulator received both files by their names
// and contents, the request is back in review (the observation says
// so), and the next poll sees the approval.
func TestSummitRespondToPendedRequest(t *testing.T) {
	t.Parallel()
	p := newSummit(t, "")
	c := p.fusionRequest(t, "W123456789", &payersim.Outcome{Fate: payersim.FatePend, AwaitResponse: true,
		InfoRequest: "Send 12 weeks of PT notes and the MRI report.", Then: &payersim.Outcome{Fate: payersim.FateApprove}})
	if !p.conn.Capabilities().Respond || !p.conn.Capabilities().Withdraw {
		t.Fatalf("capabilities %+v: the Summit example has respond and withdraw", p.conn.Capabilities())
	}
	s := p.mustOpen()
	obs, err := s.Poll(testCtx(t), []*authpilot.Case{c})
	if err != nil || obs[0].Status != authpilot.StatusPended {
		t.Fatalf("first poll = %+v, %v; want pended", obs, err)
	}
	c.Status, c.StatusText = obs[0].Status, obs[0].StatusText

	o, err := s.Respond(testCtx(t), c, twoPDFs)
	if err != nil {
		t.Fatalf("respond: %v", err)
	}
	if o.CaseID != c.ID || o.Status != authpilot.StatusSubmitted || o.StatusText != "In Review" {
		t.Fatalf("respond observation %+v, want in review", o)
	}
	req, _ := p.sim.Request(c.PayerRef)
	if req.Status != payersim.StatusInReview || len(req.Responses) != 1 {
		t.Fatalf("simulator request %s with %d responses, want in review with 1", req.Status, len(req.Responses))
	}
	got := req.Responses[0]
	if got.Note != twoPDFs.Note || len(got.Documents) != 2 {
		t.Fatalf("simulator received note %q and %d files", got.Note, len(got.Documents))
	}
	for i, d := range got.Documents {
		f := twoPDFs.Files[i]
		sum := sha256.Sum256(f.Data)
		if d.Name != f.Name || d.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("file %d at the simulator: %s %s, want %s with the sent content", i, d.Name, d.SHA256, f.Name)
		}
	}
	c.Status, c.StatusText = o.Status, o.StatusText
	obs, err = s.Poll(testCtx(t), []*authpilot.Case{c})
	if err != nil || obs[0].Status != authpilot.StatusApproved || obs[0].Determination == nil || obs[0].Determination.AuthNumber == "" {
		t.Fatalf("poll after the response = %+v, %v; want approved with an auth number", obs, err)
	}
	red := strings.Join(p.rec.Redacted(), "\n")
	for _, v := range []string{twoPDFs.Note, twoPDFs.Files[0].Name, twoPDFs.Files[1].Name} {
		if !strings.Contains(red, v) {
			t.Errorf("%q is not redacted from the recording", v)
		}
	}
}

// TestSummitWithdraw: the withdraw flow withdraws the request at the
// simulator and the observation says withdrawn.
func TestSummitWithdraw(t *testing.T) {
	t.Parallel()
	p := newSummit(t, "")
	c := p.fusionRequest(t, "W123456789", &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 5})
	s := p.mustOpen()
	o, err := s.Withdraw(testCtx(t), c, "Patient chose conservative care.")
	if err != nil || o.Status != authpilot.StatusWithdrawn || o.StatusText != "Withdrawn by Provider" {
		t.Fatalf("withdraw = %+v, %v; want withdrawn", o, err)
	}
	req, _ := p.sim.Request(c.PayerRef)
	if req.Status != payersim.StatusWithdrawn || req.WithdrawReason != "Patient chose conservative care." {
		t.Fatalf("simulator request %s (%q), want withdrawn with the reason", req.Status, req.WithdrawReason)
	}
	// Withdrawing it again: the portal no longer offers it.
	if _, err := s.Withdraw(testCtx(t), c, "again"); !errors.Is(err, authpilot.ErrRejected) {
		t.Fatalf("second withdraw = %v, want rejected", err)
	}
}

// TestSummitActionsCheckIdentityFirst: a case whose payer reference leads
// to another patient's request (another member) or another service is
// stopped on the detail page before anything is sent: no upload reaches
// the simulator and nothing is withdrawn.
func TestSummitActionsCheckIdentityFirst(t *testing.T) {
	t.Parallel()
	p := newSummit(t, "")
	pend := &payersim.Outcome{Fate: payersim.FatePend, AwaitResponse: true, Then: &payersim.Outcome{Fate: payersim.FateApprove}}
	s := p.mustOpen()
	tests := []struct {
		name   string
		modify func(c *authpilot.Case)
		fields string
	}{
		{"another member", func(c *authpilot.Case) { c.Patient.MemberID = "W999996788" }, "member_id"},
		{"another service date", func(c *authpilot.Case) { c.ServiceDate = authpilot.Date{Year: 2026, Month: 5, Day: 18} }, "service_date"},
		{"other codes", func(c *authpilot.Case) { c.ServiceLines = c.ServiceLines[:1] }, "codes"},
	}
	for _, tt := range tests {
		c := p.fusionRequest(t, "W123456789", pend)
		tt.modify(c)
		_, err := s.Respond(testCtx(t), c, twoPDFs)
		if !errors.Is(err, connectors.ErrNotThisCase) || !strings.Contains(err.Error(), tt.fields) {
			t.Errorf("%s: respond = %v, want ErrNotThisCase naming %s", tt.name, err, tt.fields)
		}
		if err != nil && (strings.Contains(err.Error(), "W999996788") || strings.Contains(err.Error(), "6789")) {
			t.Errorf("%s: the error carries a member ID: %v", tt.name, err)
		}
		_, err = s.Withdraw(testCtx(t), c, "x")
		if !errors.Is(err, connectors.ErrNotThisCase) {
			t.Errorf("%s: withdraw = %v, want ErrNotThisCase", tt.name, err)
		}
		req, _ := p.sim.Request(c.PayerRef)
		if len(req.Responses) != 0 || req.Status == payersim.StatusWithdrawn {
			t.Errorf("%s: the simulator got %d responses, status %s", tt.name, len(req.Responses), req.Status)
		}
	}
	if st := p.sim.Stats(); st.Uploads != 0 || st.Responses != 0 || st.Withdrawals != 0 {
		t.Fatalf("simulator stats %+v: something was sent", st)
	}
}
