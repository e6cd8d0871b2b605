package authpilot

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// LinkProblem applies the trust rule "a payer record belongs to one case"
// before anything the payer showed of a request is linked to c: it returns
// the identity fields that differ from the case (IdentityMismatch), or,
// when the link must be confirmed (a request found by reconciliation, a
// tracked case's first poll) and the payer showed nothing identifying, the
// single word "unverified".
func (c *Case) LinkProblem(shown *Identity, mustConfirm bool) []string {
	if shown != nil {
		if diff := c.IdentityMismatch(*shown); len(diff) > 0 {
			return diff
		}
	}
	if mustConfirm && (shown == nil || shown.IsZero()) {
		return []string{"unverified"}
	}
	return nil
}

// FirstLink reports whether a poll would link a payer record to c for the
// first time: a tracked case (its payer_ref typed in by a person) that
// nothing was read for yet.
func (c *Case) FirstLink() bool {
	return c.Tracked && c.StatusText == "" && c.Determination == nil
}

// ObservationLinkProblem is LinkProblem for a poll's observation of c: an
// observation with an error or of an unchanged row links nothing.
func (c *Case) ObservationLinkProblem(o Observation) []string {
	if o.Err != nil || o.Unchanged {
		return nil
	}
	return c.LinkProblem(o.Shown, c.FirstLink())
}

// IdentityMessage is the case's error for a refused link. It names the
// fields, never their values.
func IdentityMessage(fields []string) string {
	if len(fields) == 1 && fields[0] == "unverified" {
		return "the payer's request shows nothing to check it against the case (member ID, codes, service date): not applied"
	}
	return "the payer's request does not match the case (" + strings.Join(fields, ", ") + " differ): not applied"
}

// RefuseLink records on c that a payer record (payerRef, read at where:
// "poll" or "find") was not linked to it because of fields
// (LinkProblem): the case's last error, a needs_human event and a critical
// alert naming the fields (never their values). Nothing of the record
// (status, payer reference, determination, letters) is applied. A repeat
// of the same refusal changes nothing.
func (c *Case) RefuseLink(payerRef, where string, fields []string, actor, rec string, now time.Time) Changes {
	msg := IdentityMessage(fields)
	if c.LastError == msg {
		return Changes{}
	}
	now = now.UTC()
	c.LastError = msg
	detail, _ := json.Marshal(map[string]any{"identity_mismatch": fields, "payer_ref": payerRef, "where": where})
	title := "The payer's request does not match this case (" + strings.Join(fields, ", ") + ")"
	if len(fields) == 1 && fields[0] == "unverified" {
		title = "Cannot confirm the payer's request belongs to this case"
	}
	action := "Compare the payer's request with the case's member, codes and service date and correct the payer reference or the case; nothing from that request was applied"
	if where == "find" {
		action = "Check the payer's portal for this case's request; the case stays in submitting and is not submitted again until a person settles it"
	}
	return Changes{
		Events: []Event{{Type: EventNeedsHuman, Actor: actor, RawText: title, Recording: rec, At: now, Detail: detail}},
		Alerts: []Alert{c.NewAlert(AlertNeedsHuman, SeverityCritical, title, action, now, rec,
			fmt.Sprintf("identity:%s:%s:%s", c.ID, where, strings.Join(fields, ",")))},
	}
}
