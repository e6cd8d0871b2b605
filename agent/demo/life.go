package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/payersim"
)

// The practice's coordinator during the week: what staff do after the
// payer's first answer, through agent.Actions as the API
// (POST /v1/cases/{id}/actions/{name}) and the CLI do.
const (
	coordinator = "cli:jordan.lee"
	// refFusion, refESI and refMRI are the external refs of the cases
	// whose life the demo follows.
	refFusion = "ORD-24017"
	refESI    = "ORD-24020"
	refMRI    = "ORD-24024"
	// p2pAuth and phoneAuth are the payers' authorization numbers of the
	// overturn and of the decision given by phone.
	p2pAuth   = "PA2699041707"
	phoneAuth = "CVA2610250031"
)

// staff carries out the coordinator's actions of a day of the week.
type staff struct {
	a     *agent.Agent
	sims  *payersim.Set
	clock *fastClock
	loc   *time.Location
	say   func(string, ...any)
	tell  *narrator
	ids   map[string]string // external ref → case ID
}

// day runs the actions of business day i of the polling (0 is the
// Tuesday after intake), after that morning's poll.
func (s *staff) day(ctx context.Context, i int) error {
	switch i {
	case 0:
		s.at(11, 0, "STAFF   Summit's reviewer asked for the fusion's conservative-care notes and MRI report")
		pdf := func(name, text string) authpilot.File {
			return authpilot.File{Name: name, ContentType: "application/pdf", Data: []byte("%PDF-1.4\n% " + text + " (demo)\n")}
		}
		if err := s.do(ctx, refFusion, "respond", map[string]any{"via": authpilot.ViaPortal,
			"note": "Six weeks of supervised PT and the lumbar MRI report are attached."},
			pdf("conservative-care-6-weeks.pdf", "physical therapy notes, 6 weeks"),
			pdf("mri-lumbar-report.pdf", "MRI lumbar spine report")); err != nil {
			return err
		}
		// The response goes through Summit's "upload additional
		// information" page in the background; wait for it.
		s.a.WaitSends()
		return s.tell.report(ctx)
	case 1:
		s.at(11, 0, "STAFF   the ESI's denial: a peer-to-peer with Summit's medical director")
		call := s.morning(1).Add(5 * time.Hour) // Thursday 14:00
		if err := s.do(ctx, refESI, "p2p", map[string]any{"op": "schedule", "scheduled_at": call.Format(time.RFC3339),
			"with_whom": "Dr. Renee Alvarez, Summit medical director", "phone": "800-555-0142"}); err != nil {
			return err
		}
		s.at(14, 0, "STAFF   ClearView takes no documents online: the coordinator calls; its reviewer approves the lumbar MRI on the phone and faxes the letter")
		today := authpilot.Today(s.clock.Now(), s.loc)
		letter := authpilot.File{Name: "clearview-approval-letter.pdf", ContentType: "application/pdf",
			Data: []byte("%PDF-1.4\n% ClearView approval letter, " + phoneAuth + " (demo)\n")}
		if err := s.do(ctx, refMRI, "decide", map[string]any{"source": authpilot.ViaPhone, "notice_date": today.String(),
			"status": authpilot.StatusApproved, "auth_number": phoneAuth, "valid_from": today.String(), "valid_to": today.AddDays(60).String(),
			"approved_lines": []authpilot.ApprovedLine{{Code: "72148", Units: 1}}}, letter); err != nil {
			return err
		}
		// The RBM's own system shows the decision it gave by phone.
		if err := s.sims.RBM.Redecide(s.payerRef(ctx, refMRI), payersim.Outcome{Fate: payersim.FateApprove,
			AuthNumber: phoneAuth, ValidityDays: 60}); err != nil {
			return err
		}
	case 2:
		s.at(15, 0, "STAFF   the peer-to-peer is held: Dr. Alvarez overturns the ESI's denial; the approval will show on Summit's portal")
		if _, err := s.sims.Payer.RecordPeerToPeer(s.payerRef(ctx, refESI), payersim.PeerToPeerInput{Outcome: "overturned", AuthNumber: p2pAuth}); err != nil {
			return err
		}
		if err := s.do(ctx, refESI, "p2p", map[string]any{"op": "outcome", "outcome": authpilot.OutcomeOverturned,
			"note": "Four weeks of PT were documented after all; approval to follow on the portal."}); err != nil {
			return err
		}
	}
	return nil
}

// at moves the clock to h:m of today and titles what happens then.
func (s *staff) at(h, m int, title string) {
	y, mo, d := s.clock.Now().In(s.loc).Date()
	s.clock.JumpTo(time.Date(y, mo, d, h, m, 0, 0, s.loc))
	s.say("\n%s  %s", stamp(s.clock.Now(), s.loc), title)
}

// morning is 09:00 of the business day n days after today's.
func (s *staff) morning(n int) time.Time {
	t := s.clock.Now()
	for range n {
		t = nextBusinessMorning(t, s.tell.cal)
	}
	return t
}

func (s *staff) payerRef(ctx context.Context, ext string) string {
	c, err := s.a.Store().GetCase(ctx, s.ids[ext])
	if err != nil {
		return ""
	}
	return c.PayerRef
}

// do runs one action on the case of ext and narrates what it did.
func (s *staff) do(ctx context.Context, ext, name string, input map[string]any, files ...authpilot.File) error {
	in, err := json.Marshal(input)
	if err != nil {
		return err
	}
	id := s.ids[ext]
	if _, err := s.a.Actions().Do(ctx, agent.ActionRequest{CaseID: id, Name: name, Input: in, Files: files, Actor: coordinator}); err != nil {
		return fmt.Errorf("%s on %s: %w", name, s.tell.labels[id], err)
	}
	return s.tell.report(ctx)
}

// lifeOf is a case's story told from its events: what the payer showed
// and what staff did, in order ("pended → response sent through the
// portal (2 documents) → approved PA…"); empty for a case staff did not
// touch after its intake.
func lifeOf(c *authpilot.Case, evs []authpilot.Event) []string {
	var out []string
	touched, docs := false, 0
	for _, e := range evs {
		d := detailOf(e)
		switch e.Type {
		case authpilot.EventStatusChanged:
			// What the payer showed; what staff recorded is told below.
			if strings.HasPrefix(e.Actor, "agent:") {
				out = append(out, string(e.To))
			}
		case authpilot.EventInfoResponse:
			touched = true
			switch {
			case d.State == string(authpilot.SendQueued):
				docs = d.Documents
			case d.State == string(authpilot.SendSent) && (d.Via == "" || d.Via.Connector()):
				out = append(out, fmt.Sprintf("%d document%s sent on the portal's additional-information page", docs, plural(docs)))
			case d.State == string(authpilot.SendSent):
				out = append(out, fmt.Sprintf("response recorded as sent by %s", d.Via))
			case d.State == string(authpilot.SendFailed):
				out = append(out, "response failed to send")
			}
		case authpilot.EventPeerToPeer:
			touched = true
			if d.Op == "schedule" {
				out = append(out, "peer-to-peer scheduled")
			} else {
				out = append(out, "peer-to-peer: "+string(d.Outcome))
			}
		case authpilot.EventDeterminationRecorded:
			touched = true
			out = append(out, fmt.Sprintf("%s by %s, recorded by hand with its letter", e.To, d.Source))
		}
	}
	if !touched {
		return nil
	}
	if d := c.Determination; d != nil && d.AuthNumber != "" && len(out) > 0 {
		out = append(out, "auth "+d.AuthNumber)
	}
	return out
}

// actionDetail is the detail of a staff action's event (agent.Actions).
type actionDetail struct {
	Via         authpilot.Via     `json:"via"`
	State       string            `json:"state"`
	Documents   int               `json:"documents"`
	Op          string            `json:"op"`
	Outcome     authpilot.Outcome `json:"outcome"`
	ScheduledAt time.Time         `json:"scheduled_at"`
	Source      string            `json:"source"`
	Error       string            `json:"error"`
}

func detailOf(e authpilot.Event) actionDetail {
	var d actionDetail
	_ = json.Unmarshal(e.Detail, &d)
	return d
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// sayAction narrates a staff action's event.
func sayAction(say func(string, ...any), loc *time.Location, id, label string, e authpilot.Event) {
	d := detailOf(e)
	var what string
	switch e.Type {
	case authpilot.EventInfoResponse:
		switch {
		case d.State == string(authpilot.SendQueued):
			what = fmt.Sprintf("response of %d document%s queued for the %s", d.Documents, plural(d.Documents), d.Via)
		case d.State == string(authpilot.SendSent) && d.Via == "":
			what = "response uploaded on the portal's additional-information page"
		case d.State == string(authpilot.SendSent):
			what = fmt.Sprintf("response recorded as sent by %s (%d document%s)", d.Via, d.Documents, plural(d.Documents))
		default:
			what = "response not sent: " + d.Error
		}
	case authpilot.EventPeerToPeer:
		if d.Op == "schedule" {
			what = "peer-to-peer scheduled for " + stamp(d.ScheduledAt, loc)
		} else {
			what = "peer-to-peer held: " + string(d.Outcome)
		}
	case authpilot.EventDeterminationRecorded:
		what = "determination recorded by hand (" + d.Source + ")"
	default:
		what = string(e.Type)
	}
	actor := ""
	if e.Actor != "" {
		actor = "  [" + strings.TrimPrefix(e.Actor, "cli:") + "]"
	}
	say("  ✎ %s  %-42s %s%s", id, label, what, actor)
}
