package agent

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/authpilot/authpilot"
)

// requestStatuses are the statuses of cases that still stand for a request
// (see authpilot.Status.Closed).
func requestStatuses() []authpilot.Status {
	var out []authpilot.Status
	for _, s := range authpilot.Statuses {
		if !s.Closed() {
			out = append(out, s)
		}
	}
	return out
}

// refuseDuplicates keeps out of a submit run every ready case that is the
// same request (payer, member, codes, service date; see
// authpilot.Case.RequestKey) as another open case that is already past
// ready (rejected excepted: that request never reached the payer) or is
// ready and was stored first: such a case is never submitted. It goes back
// to draft with a needs_human alert naming the other case, so a person
// withdraws one of them (or readies it again once the other is closed). It
// returns the cases left to run.
func (r *runner) refuseDuplicates(ctx context.Context, todo []*authpilot.Case) ([]*authpilot.Case, error) {
	payers := map[string]bool{}
	for _, c := range todo {
		if c.Status == authpilot.StatusReady {
			payers[c.Payer] = true
		}
	}
	// first[key] is the open case that holds the request: the first past
	// ready, else the first stored (ListCases is in stored order).
	first := map[string]*authpilot.Case{}
	for p := range payers {
		open, err := r.a.store.ListCases(ctx, authpilot.CaseFilter{Payer: p, Statuses: requestStatuses()})
		if err != nil {
			return todo, fmt.Errorf("list open cases of a payer: %w", err)
		}
		for _, c := range open {
			// A draft is parked and a rejected request never reached the
			// payer: neither holds the request.
			if c.Status == authpilot.StatusDraft || c.Status == authpilot.StatusRejected {
				continue
			}
			k := c.RequestKey()
			holder, ok := first[k]
			past := c.Status != authpilot.StatusReady
			heldPast := ok && holder.Status != authpilot.StatusReady
			if !ok || (past && !heldPast) {
				first[k] = c
			}
		}
	}
	var keep []*authpilot.Case
	var errs error
	for _, c := range todo {
		holder := first[c.RequestKey()]
		if c.Status != authpilot.StatusReady || holder == nil || holder.ID == c.ID {
			keep = append(keep, c)
			continue
		}
		r.log.Warn("duplicate request not submitted", "case", c.ID, "other_case", holder.ID)
		if err := r.refuseDuplicate(ctx, c, holder.ID); err != nil {
			errs = fmt.Errorf("refuse duplicate case %s: %w", c.ID, err)
		}
	}
	return keep, errs
}

func (r *runner) refuseDuplicate(ctx context.Context, c *authpilot.Case, other string) error {
	now := r.a.now().UTC()
	title := "Duplicate request not submitted: case " + other + " is the same request"
	_, err := r.a.store.UpdateCase(ctx, c.ID, func(cc *authpilot.Case) (authpilot.Changes, error) {
		if cc.Status != authpilot.StatusReady {
			return authpilot.Changes{}, fmt.Errorf("case %s is %s, not ready: %w", cc.ID, cc.Status, authpilot.ErrConflict)
		}
		cc.Status = authpilot.StatusDraft
		cc.LastError = "duplicate of open case " + other + " (same payer, member, codes and service date); not submitted"
		detail, _ := json.Marshal(map[string]string{"duplicate_of": other})
		return authpilot.Changes{
			Events: []authpilot.Event{{Type: authpilot.EventNeedsHuman, Actor: "agent:" + r.id, From: authpilot.StatusReady,
				To: authpilot.StatusDraft, RawText: title, At: now, Detail: detail}},
			Alerts: []authpilot.Alert{cc.NewAlert(authpilot.AlertNeedsHuman, authpilot.SeverityCritical, title,
				"Withdraw one of the two cases; if this one is a separate request, mark it ready once case "+other+" is closed",
				now, "", "duplicate:"+cc.ID+":"+other)},
		}, nil
	})
	r.a.kickDispatcher()
	return err
}
