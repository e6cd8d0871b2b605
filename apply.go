package authpilot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Apply folds what a connector saw of the case into it and returns the
// events and alerts that go with the change: the domain's one rule from an
// observation to a status change, a determination merge and alerts. It is
// pure: the caller stores c and the changes in one transaction. letters
// are the sha256 digests of documents stored from the observation. It
// never applies a transition the domain forbids: an impossible report from
// the payer becomes a needs_human alert instead of a wrong status. now is
// in the practice's zone: a decision the payer gave no date for is noticed
// on today's date there.
func (c *Case) Apply(obs Observation, letters []string, actor, rec string, now time.Time) Changes {
	var ch Changes
	local := now
	now = now.UTC()
	event := func(t EventType, from, to Status, raw string, detail any) {
		e := Event{CaseID: c.ID, At: now, Type: t, Actor: actor, From: from, To: to, RawText: raw, Recording: rec}
		if detail != nil {
			e.Detail, _ = json.Marshal(detail)
		}
		ch.Events = append(ch.Events, e)
	}
	if obs.Err != nil {
		if errors.Is(obs.Err, ErrPortalChanged) {
			c.portalChanged(obs, event, &ch, rec, now)
			return ch
		}
		msg := ErrorText(obs.Err)
		if c.LastError != msg {
			c.LastError = msg
			event(EventConnectorError, "", "", "", map[string]string{"error": msg, "class": ErrorClass(obs.Err)})
		}
		return ch
	}
	c.LastError = ""
	if obs.PayerRef != "" && obs.PayerRef != c.PayerRef {
		event(EventUpdated, "", "", "", map[string]string{"payer_ref": obs.PayerRef, "previous": c.PayerRef})
		c.PayerRef = obs.PayerRef
	}
	for _, sha := range letters {
		if c.Determination == nil {
			c.Determination = &Determination{Status: c.Status}
		}
		if !slices.Contains(c.Determination.Letters, sha) {
			c.Determination.Letters = append(c.Determination.Letters, sha)
			event(EventDocumentStored, "", "", "", map[string]string{"sha256": sha, "kind": DocLetter})
		}
	}
	if obs.Status == "" || obs.Unchanged && obs.Status == c.Status {
		return ch
	}
	old := c.Status
	if obs.Status == old {
		// Same status; the payer may have added determination detail.
		if obs.Determination != nil {
			c.mergeDetermination(obs.Determination, obs.Status)
		}
		c.StatusText = obs.StatusText
		return ch
	}
	if err := CheckTransition(old, obs.Status); err != nil {
		event(EventNeedsHuman, old, obs.Status, obs.StatusText, map[string]string{"error": err.Error()})
		ch.Alerts = append(ch.Alerts, c.NewAlert(AlertNeedsHuman, SeverityCritical,
			fmt.Sprintf("Payer reports %s, which cannot follow %s", obs.Status, old),
			"Check the request on the payer's portal and correct the case", now, rec,
			fmt.Sprintf("illegal:%s:%s:%s", c.ID, old, obs.Status)))
		return ch
	}
	if old.Watched() && c.Determination != nil {
		// The payer changed a decision it had given: keep the one replaced
		// and start the new one afresh (no denial reason, notice date or
		// letter of the old one), with the letters read with it.
		prev := *c.Determination
		prev.Letters = slices.DeleteFunc(slices.Clone(prev.Letters), func(l string) bool { return slices.Contains(letters, l) })
		c.History = append(c.History, prev)
		c.Determination = &Determination{Letters: slices.DeleteFunc(slices.Clone(c.Determination.Letters), func(l string) bool { return !slices.Contains(letters, l) })}
	}
	c.Status = obs.Status
	c.StatusText = obs.StatusText
	if obs.Determination != nil || obs.Status.Decided() {
		d := obs.Determination
		if d == nil {
			d = &Determination{}
		}
		c.mergeDetermination(d, obs.Status)
		if c.Determination.DecidedAt == nil && obs.Status.Decided() {
			c.Determination.DecidedAt = &now
			if c.Determination.NoticeDate.IsZero() {
				c.Determination.NoticeDate = DateOf(local)
			}
		}
		if c.Determination.NoticeDate.IsZero() && c.Determination.DecidedAt != nil {
			// The connector's time keeps the zone or offset it was read in.
			c.Determination.NoticeDate = DateOf(*c.Determination.DecidedAt)
		}
	}
	c.trackInfoRequest(old, now)
	event(EventStatusChanged, old, c.Status, obs.StatusText, nil)
	ch.Alerts = append(ch.Alerts, c.statusAlert(old, now, rec))
	switch {
	case c.Status == StatusPended:
		event(EventMoreInfoRequested, old, c.Status, c.infoRequested(), nil)
	case c.Status.Decided():
		event(EventDeterminationReceived, old, c.Status, obs.StatusText, c.Determination)
	}
	return ch
}

// ApplySubmission records the payer's answer to a submit (or to a find
// during reconciliation, evType EventReconciled) on a case in submitting:
// submitting → submitted, a case_submitted alert, then what the answer
// says beyond that (a decision given at once, letters) through Apply.
// letters are the sha256 digests of documents stored from the answer; now
// is in the practice's zone, as for Apply. A case no longer in submitting
// is an ErrConflict and is left as it is.
func (c *Case) ApplySubmission(sub Submission, letters []string, evType EventType, actor, rec string, now time.Time) (Changes, error) {
	if c.Status != StatusSubmitting {
		return Changes{}, fmt.Errorf("case %s is %s, not submitting: %w", c.ID, c.Status, ErrConflict)
	}
	local := now
	now = now.UTC()
	c.PayerRef = sub.PayerRef
	c.SubmittedAt = &now
	c.LastError = ""
	c.Status = StatusSubmitted
	c.StatusText = sub.StatusText
	detail, _ := json.Marshal(map[string]string{"payer_ref": sub.PayerRef})
	ch := Changes{
		Events: []Event{{Type: evType, Actor: actor, From: StatusSubmitting,
			To: StatusSubmitted, RawText: sub.StatusText, Recording: rec, At: now, Detail: detail}},
		Alerts: []Alert{c.NewAlert(AlertCaseSubmitted, SeverityInfo,
			"Request submitted to the payer", "Nothing to do; authpilot polls for the decision", now, rec,
			"submitted:"+c.ID)},
	}
	ch.Alerts[0].PrevStatus = StatusSubmitting
	if sub.Status != "" && sub.Status != StatusSubmitted {
		more := c.Apply(Observation{CaseID: c.ID, Status: sub.Status, StatusText: sub.StatusText,
			Determination: sub.Determination}, letters, actor, rec, local)
		ch.Events = append(ch.Events, more.Events...)
		ch.Alerts = append(ch.Alerts, more.Alerts...)
	} else if len(letters) > 0 {
		more := c.Apply(Observation{CaseID: c.ID}, letters, actor, rec, local)
		ch.Events = append(ch.Events, more.Events...)
	}
	return ch, nil
}

// NoOp reports whether applying o would leave the case as it is (the
// payer shows the same status, nothing to store, no error to set or
// clear), so a poll need not rewrite it.
func (c *Case) NoOp(o Observation) bool {
	return o.Err == nil && o.Unchanged && o.Status == c.Status && o.PayerRef == "" &&
		len(o.Files) == 0 && c.LastError == ""
}

// portalChanged records a page about one case that no longer matches the
// flow — above all status wording missing from status_map — as a
// portal_changed event on the case and a portal_changed alert naming the
// step, the exact text and the case; the case keeps its status. The event
// is written when the problem changes (LastError carries the wording, so a
// new unknown word is a new problem); the alert's dedup key is the
// problem's own (connector, step, wording or error), so one unknown word
// raises one alert, not one per poll and not one per case showing it.
func (c *Case) portalChanged(obs Observation, event func(EventType, Status, Status, string, any), ch *Changes, rec string, now time.Time) {
	msg := ErrorText(obs.Err)
	step := ""
	var ce *Error
	if errors.As(obs.Err, &ce) {
		step = ce.Step
	}
	unmapped := errors.Is(obs.Err, ErrUnmappedStatus)
	text := ""
	if unmapped {
		text = obs.StatusText
		msg += fmt.Sprintf(": %q", text)
	}
	if c.LastError == msg {
		return
	}
	c.LastError = msg
	event(EventPortalChanged, "", "", text, map[string]string{"error": msg, "class": ErrorClass(obs.Err), "step": step})
	title := "A page about this case no longer matches the connector's flow"
	action := "Open the recording, then update the connector's flow config; the case keeps its status"
	reason := msg
	problem := msg
	if unmapped {
		title = "The portal shows a status wording its status_map does not know"
		action = "Add the wording to the connector's status_map; the case keeps its status until then"
		reason, problem = text, strings.ToLower(text)
	}
	if step != "" {
		title += " (" + step + ")"
	}
	if len(problem) > 200 {
		sum := sha256.Sum256([]byte(problem))
		problem = hex.EncodeToString(sum[:12])
	}
	a := c.NewAlert(AlertPortalChanged, SeverityCritical, title, action, now, rec,
		"portal_changed:"+c.ConnectorID+":"+step+":"+problem)
	a.Reason = reason
	ch.Alerts = append(ch.Alerts, a)
}

func (c *Case) mergeDetermination(d *Determination, st Status) {
	if c.Determination == nil {
		c.Determination = &Determination{}
	}
	cur := c.Determination
	cur.Status = st
	if d.AuthNumber != "" {
		cur.AuthNumber = d.AuthNumber
	}
	if len(d.ApprovedLines) > 0 {
		cur.ApprovedLines = d.ApprovedLines
	}
	if !d.ValidFrom.IsZero() {
		cur.ValidFrom = d.ValidFrom
	}
	if !d.ValidTo.IsZero() {
		cur.ValidTo = d.ValidTo
	}
	if d.DenialReason != "" {
		cur.DenialReason = d.DenialReason
	}
	if d.InfoRequested != "" {
		cur.InfoRequested = d.InfoRequested
	}
	if !d.ResponseDue.IsZero() {
		cur.ResponseDue = d.ResponseDue
	}
	if d.Source != "" {
		cur.Source = d.Source
	}
	if d.DecidedAt != nil {
		cur.DecidedAt = d.DecidedAt
	}
	if !d.NoticeDate.IsZero() {
		cur.NoticeDate = d.NoticeDate
	}
	for _, l := range d.Letters {
		if !slices.Contains(cur.Letters, l) {
			cur.Letters = append(cur.Letters, l)
		}
	}
}

func (c *Case) infoRequested() string {
	if c.Determination != nil {
		return c.Determination.InfoRequested
	}
	return ""
}

// statusAlert is the one alert a status change raises, of the most
// specific type: a determination, a request for information, or a plain
// status change.
func (c *Case) statusAlert(old Status, now time.Time, rec string) Alert {
	typ, sev := AlertStatusChanged, SeverityInfo
	title := fmt.Sprintf("Status changed: %s → %s", old, c.Status)
	action := ""
	switch c.Status {
	case StatusPended:
		typ, sev = AlertMoreInfoRequested, SeverityWarning
		title = "Payer requests more information"
		action = "Send the requested clinical documentation to the payer"
	case StatusApproved:
		typ = AlertDeterminationReceived
		title = "Authorization approved"
		action = "Schedule the service within the authorization's validity"
	case StatusPartiallyApproved, StatusModified:
		typ, sev = AlertDeterminationReceived, SeverityWarning
		title = "Authorization " + map[Status]string{StatusPartiallyApproved: "partially approved", StatusModified: "approved with modifications"}[c.Status]
		action = "Compare what was authorized with what was ordered; consider a peer-to-peer"
	case StatusDenied:
		typ, sev = AlertDeterminationReceived, SeverityCritical
		title = "Authorization denied"
		action = "Review the denial reason and request a peer-to-peer before the window closes"
	case StatusNotRequired:
		typ = AlertDeterminationReceived
		title = "No authorization required"
		action = "Keep the determination letter with the case"
	case StatusContactPayer:
		sev = SeverityWarning
		title = "Payer asks the practice to call"
		action = "Call the payer's utilization management line"
	case StatusCancelled:
		sev = SeverityWarning
		title = "Request cancelled by the payer"
		action = "Confirm with the payer and resubmit if needed"
	}
	if old.Watched() && c.Status != old {
		// The payer changed a decision it had given (an overturn, a
		// rescission, a modification), seen by the watch of decided cases.
		typ = AlertStatusChanged
		title = fmt.Sprintf("Payer changed its decision: %s → %s", old, c.Status)
		if sev == SeverityInfo {
			sev = SeverityWarning
		}
	}
	a := c.NewAlert(typ, sev, title, action, now, rec, "")
	a.PrevStatus = old
	if d := c.Determination; d != nil {
		a.AuthNumber = d.AuthNumber
		a.Reason = d.DenialReason
		if a.Reason == "" && c.Status == StatusPended {
			a.Reason = d.InfoRequested
		}
	}
	return a
}

// NewAlert is an alert about the case: its identifiers (never its PHI),
// track and status, with the given type, severity, title, action, time,
// recording and dedup key (empty: the store keeps every such alert).
func (c *Case) NewAlert(typ AlertType, sev Severity, title, action string, now time.Time, rec, dedup string) Alert {
	return Alert{
		Type: typ, Severity: sev, At: now, DedupKey: dedup,
		CaseID: c.ID, ExternalRef: c.ExternalRef, Payer: c.Payer, ConnectorID: c.ConnectorID,
		Track: c.Track, Status: c.Status, Title: title, Action: action, Recording: rec,
	}
}
