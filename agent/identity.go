package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
)

// linkProblem applies the trust rule "a payer record belongs to one case"
// before anything the payer showed of a request is linked to c: it returns
// the identity fields that differ from the case (Case.IdentityMismatch),
// or, when the link must be confirmed (a request found by reconciliation,
// a tracked case's first poll) and the payer showed nothing identifying,
// the single word "unverified".
func linkProblem(c *authpilot.Case, shown *authpilot.Identity, mustConfirm bool) []string {
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

// firstLink reports whether a poll would link a payer record to c for the
// first time: a tracked case (its payer_ref typed in by a person) that
// nothing was read for yet.
func firstLink(c *authpilot.Case) bool {
	return c.Tracked && c.StatusText == "" && c.Determination == nil
}

// identityMessage is the case's error for a refused link. It names the
// fields, never their values.
func identityMessage(fields []string) string {
	if len(fields) == 1 && fields[0] == "unverified" {
		return "the payer's request shows nothing to check it against the case (member ID, codes, service date): not applied"
	}
	return "the payer's request does not match the case (" + strings.Join(fields, ", ") + " differ): not applied"
}

// refuseLink records that a payer record was not linked to the case: a
// needs_human event and a critical alert naming the fields that differ
// (never their values), and the case's last error. Nothing of the record
// (status, payer reference, determination, letters) is applied. A
// repeat of the same refusal adds nothing.
func (r *runner) refuseLink(ctx context.Context, caseID, payerRef, where string, fields []string, rec string) error {
	msg := identityMessage(fields)
	now := r.a.now().UTC()
	r.log.Warn("payer record not linked: identity differs", "case", caseID, "where", where, "fields", strings.Join(fields, ","), "recording", rec)
	_, err := r.a.store.UpdateCase(ctx, caseID, func(c *authpilot.Case) (authpilot.Changes, error) {
		if c.LastError == msg {
			return authpilot.Changes{}, nil
		}
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
		return authpilot.Changes{
			Events: []authpilot.Event{{Type: authpilot.EventNeedsHuman, Actor: "agent:" + r.id, RawText: title,
				Recording: rec, At: now, Detail: detail}},
			Alerts: []authpilot.Alert{c.NewAlert(authpilot.AlertNeedsHuman, authpilot.SeverityCritical, title, action, now, rec,
				fmt.Sprintf("identity:%s:%s:%s", c.ID, where, strings.Join(fields, ",")))},
		}, nil
	})
	r.a.kickDispatcher()
	if err != nil {
		return fmt.Errorf("record identity mismatch of case %s: %w", caseID, err)
	}
	return nil
}

// refuseObservation checks a poll's observation of c before it is applied;
// it reports whether the observation was refused (and recorded as such).
func (r *runner) refuseObservation(ctx context.Context, c *authpilot.Case, o authpilot.Observation, rec string) (bool, error) {
	if o.Err != nil || o.Unchanged {
		return false, nil
	}
	fields := linkProblem(c, o.Shown, firstLink(c))
	if len(fields) == 0 {
		return false, nil
	}
	ref := o.PayerRef
	if ref == "" {
		ref = c.PayerRef
	}
	return true, r.refuseLink(ctx, c.ID, ref, "poll", fields, rec)
}

// intentTime is when the case's latest submission intent was recorded
// (zero when none is).
func (r *runner) intentTime(ctx context.Context, caseID string) (time.Time, error) {
	evs, err := r.a.store.Events(ctx, caseID)
	if err != nil {
		return time.Time{}, fmt.Errorf("read events of case %s: %w", caseID, err)
	}
	var at time.Time
	for _, e := range evs {
		if e.Type == authpilot.EventSubmitIntent {
			at = e.At
		}
	}
	return at, nil
}
