package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
)

// refuseLink records that a payer record was not linked to the case
// (Case.RefuseLink: the case's last error, a needs_human event and a
// critical alert naming the fields that differ, never their values).
func (r *runner) refuseLink(ctx context.Context, caseID, payerRef, where string, fields []string, rec string) error {
	now := r.a.now().UTC()
	r.log.Warn("payer record not linked: identity differs", "case", caseID, "where", where, "fields", strings.Join(fields, ","), "recording", rec)
	_, err := r.a.store.UpdateCase(ctx, caseID, func(c *authpilot.Case) (authpilot.Changes, error) {
		return c.RefuseLink(payerRef, where, fields, "agent:"+r.id, rec, now), nil
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
	fields := c.ObservationLinkProblem(o)
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
