package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent/run"
	"github.com/authpilot/authpilot/connectors"
)

// send hands a case with a queued response or withdrawal to its
// connector in the background (Actions.Send); Close waits for it.
func (a *Agent) send(caseID string) {
	a.sends.Add(1)
	go func() {
		defer a.sends.Done()
		a.sendQueued(a.bg, caseID)
	}()
}

// WaitSends waits until the responses and withdrawals handed to the
// connectors so far are sent (or failed).
func (a *Agent) WaitSends() { a.sends.Wait() }

// sendQueued sends a case's queued response to an information request, or
// its queued withdrawal, through the connector (run.Runner.Respond,
// Withdraw) and records what came of it. The record goes queued → sending
// (written before the visit) → sent or failed. A send found in sending at
// start-up was interrupted and is never repeated blindly: it becomes
// failed with a needs_human alert (resumeQueued).
func (a *Agent) sendQueued(ctx context.Context, caseID string) {
	c, err := a.store.GetCase(ctx, caseID)
	if err != nil {
		a.log.Error("queued action: case not readable", "case", caseID, "err", err)
		return
	}
	r, ok := a.runners[c.ConnectorID]
	if !ok {
		return
	}
	if ir := c.OpenInfoRequest(); ir != nil && ir.Response != nil && ir.Response.State == authpilot.SendQueued {
		a.sendResponse(ctx, r, c)
	}
	if w := c.Withdrawal; w != nil && w.State == authpilot.SendQueued {
		a.sendWithdrawal(ctx, r, c)
	}
}

// claim moves a queued send to sending in its own transaction; pick
// returns the send's state field of the case (nil: nothing queued).
func (a *Agent) claim(ctx context.Context, caseID string, pick func(c *authpilot.Case) *authpilot.SendState) (*authpilot.Case, bool) {
	claimed := false
	c, err := a.store.UpdateCase(ctx, caseID, func(c *authpilot.Case) (authpilot.Changes, error) {
		st := pick(c)
		if st == nil || *st != authpilot.SendQueued {
			return authpilot.Changes{}, errNothingQueued
		}
		*st, claimed = authpilot.SendSending, true
		return authpilot.Changes{}, nil
	})
	if err != nil && !errors.Is(err, errNothingQueued) {
		a.log.Error("queued action not claimed", "case", caseID, "err", err)
	}
	return c, claimed
}

var errNothingQueued = errors.New("nothing queued")

func responseState(c *authpilot.Case) *authpilot.SendState {
	if ir := c.OpenInfoRequest(); ir != nil && ir.Response != nil {
		return &ir.Response.State
	}
	return nil
}

func withdrawalState(c *authpilot.Case) *authpilot.SendState {
	if c.Withdrawal != nil {
		return &c.Withdrawal.State
	}
	return nil
}

func (a *Agent) sendResponse(ctx context.Context, r *runner, c *authpilot.Case) {
	c, ok := a.claim(ctx, c.ID, responseState)
	if !ok {
		return
	}
	resp := c.OpenInfoRequest().Response
	files, err := a.documentFiles(ctx, c, resp.Documents)
	var obs authpilot.Observation
	var rec string
	if err == nil {
		obs, err = r.Respond(run.RecordingTo(ctx, &rec), c, connectors.Response{Note: resp.Note, Files: files})
	}
	a.finishSend(ctx, c.ID, "respond", obs, rec, err)
}

func (a *Agent) sendWithdrawal(ctx context.Context, r *runner, c *authpilot.Case) {
	c, ok := a.claim(ctx, c.ID, withdrawalState)
	if !ok {
		return
	}
	var rec string
	obs, err := r.Withdraw(run.RecordingTo(ctx, &rec), c, c.Withdrawal.Reason)
	a.finishSend(ctx, c.ID, "withdraw", obs, rec, err)
}

// finishSend records the end of a send: sent, with what the payer shows
// afterwards applied (back in review, withdrawn), or failed with an alert.
func (a *Agent) finishSend(ctx context.Context, caseID, what string, obs authpilot.Observation, rec string, sendErr error) {
	actor := "agent"
	now := a.now()
	_, err := a.store.UpdateCase(ctx, caseID, func(c *authpilot.Case) (authpilot.Changes, error) {
		st := responseState(c)
		target, text := authpilot.StatusSubmitted, "Response sent through the connector; back in review"
		evType := authpilot.EventInfoResponse
		if what == "withdraw" {
			st, target, text, evType = withdrawalState(c), authpilot.StatusWithdrawn, "Withdrawn at the payer", authpilot.EventWithdrawal
		}
		if st == nil || *st != authpilot.SendSending {
			return authpilot.Changes{}, errNothingQueued
		}
		var ch authpilot.Changes
		var hold *run.HoldError
		if errors.As(sendErr, &hold) {
			// No login was made: nothing reached the payer. It stays queued
			// and goes after the connector's next poll.
			*st = authpilot.SendQueued
			ch.Events = append(ch.Events, authpilot.Event{Type: evType, Actor: actor, At: now.UTC(),
				Detail: jsonDetail(map[string]string{"state": string(authpilot.SendQueued), "held": hold.Why, "until": hold.Until.UTC().Format(time.RFC3339)})})
			return ch, nil
		}
		if sendErr != nil {
			*st = authpilot.SendFailed
			msg := authpilot.ErrorText(sendErr)
			if what == "withdraw" {
				c.Withdrawal.Error = msg
			} else {
				c.OpenInfoRequest().Response.Error = msg
			}
			ch.Events = append(ch.Events, authpilot.Event{Type: evType, Actor: actor, Recording: rec, At: now.UTC(),
				Detail: jsonDetail(map[string]string{"state": string(authpilot.SendFailed), "error": msg, "class": authpilot.ErrorClass(sendErr)})})
			ch.Alerts = append(ch.Alerts, c.NewAlert(authpilot.AlertNeedsHuman, authpilot.SeverityCritical,
				fmt.Sprintf("Could not %s through the connector", what),
				"Check the payer's portal; then send it again or record it as sent by fax, phone or mail", now.UTC(), rec,
				what+"_failed:"+c.ID+":"+fmt.Sprint(c.Version)))
			return ch, nil
		}
		*st = authpilot.SendSent
		t := now.UTC()
		if what == "withdraw" {
			c.Withdrawal.At = t
		} else {
			ir := c.OpenInfoRequest()
			ir.Response.SentAt, ir.ClosedAt = &t, &t
		}
		ch.Events = append(ch.Events, authpilot.Event{Type: evType, Actor: actor, Recording: rec, At: t,
			Detail: jsonDetail(map[string]string{"state": string(authpilot.SendSent)})})
		if obs.Status == "" || obs.Status == c.Status {
			obs.Status, obs.StatusText = target, text
		}
		obs.CaseID = c.ID
		more := c.Apply(obs, nil, actor, rec, now.In(a.cfg.Location()))
		ch.Events = append(ch.Events, more.Events...)
		ch.Alerts = append(ch.Alerts, more.Alerts...)
		return ch, nil
	})
	if err != nil && !errors.Is(err, errNothingQueued) {
		a.log.Error("queued action outcome not recorded", "case", caseID, "action", what, "err", err)
		return
	}
	a.log.Info("queued action sent", "case", caseID, "action", what, "ok", sendErr == nil, "recording", rec)
	a.kickDispatcher()
}

// documentFiles reads the case's documents to send.
func (a *Agent) documentFiles(ctx context.Context, c *authpilot.Case, shas []string) ([]authpilot.File, error) {
	var out []authpilot.File
	for _, sha := range shas {
		rc, doc, err := a.store.OpenDocument(ctx, sha)
		if err != nil {
			return nil, fmt.Errorf("read document to send: %w", err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("read document to send: %w", err)
		}
		name, ct := doc.Name, doc.ContentType
		for _, at := range c.Attachments {
			if at.SHA256 == sha {
				name, ct = at.Name, at.ContentType
			}
		}
		out = append(out, authpilot.File{Name: name, ContentType: ct, Kind: authpilot.DocAttachment, Data: data})
	}
	return out, nil
}

// sendQueuedOf sends the queued responses and withdrawals of a
// connector's cases (after its poll: those held while its logins were on
// hold).
func (a *Agent) sendQueuedOf(ctx context.Context, connectorID string) {
	cases, err := a.store.ListCases(ctx, authpilot.CaseFilter{ConnectorID: connectorID, Statuses: openStatuses})
	if err != nil {
		a.log.Warn("queued actions not listed; the next poll retries", "connector", connectorID, "err", err)
		return
	}
	for _, c := range cases {
		if st := responseState(c); st != nil && *st == authpilot.SendQueued {
			a.sendQueued(ctx, c.ID)
		} else if st := withdrawalState(c); st != nil && *st == authpilot.SendQueued {
			a.sendQueued(ctx, c.ID)
		}
	}
}

// resumeQueued, at start-up, sends what was queued and fails what was
// being sent when the daemon stopped: it may or may not have reached the
// payer, so a person checks (never sent twice blindly).
func (a *Agent) resumeQueued(ctx context.Context) error {
	cases, err := a.store.ListCases(ctx, authpilot.CaseFilter{Statuses: openStatuses})
	if err != nil {
		return fmt.Errorf("list cases with queued actions: %w", err)
	}
	for _, c := range cases {
		for _, what := range []string{"respond", "withdraw"} {
			pick := responseState
			if what == "withdraw" {
				pick = withdrawalState
			}
			st := pick(c)
			switch {
			case st == nil:
			case *st == authpilot.SendQueued:
				a.send(c.ID)
			case *st == authpilot.SendSending:
				a.finishSend(ctx, c.ID, what, authpilot.Observation{}, "",
					errors.New("interrupted while sending (the daemon stopped); it may or may not have reached the payer"))
			}
		}
	}
	return nil
}

func jsonDetail(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
