package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/authpilot/authpilot"
)

// watchDue lists the connector's decided cases whose watch is due now
// (authpilot.Case.WatchDue with the connector's watch config): they ride
// along the regular poll of its pending cases.
func (a *Agent) watchDue(ctx context.Context, connectorID string) ([]*authpilot.Case, error) {
	cn, ok := a.cfg.Connector(connectorID)
	if !ok || cn.Watch.Every <= 0 {
		return nil, nil
	}
	cases, err := a.store.ListCases(ctx, authpilot.CaseFilter{ConnectorID: connectorID, Statuses: authpilot.WatchStatuses})
	if err != nil {
		return nil, fmt.Errorf("list decided cases: %w", err)
	}
	now := a.localNow()
	var due []*authpilot.Case
	for _, c := range cases {
		if c.WatchDue(now, cn.Watch.Every.Std(), cn.Watch.Tail.Std()) {
			due = append(due, c)
		}
	}
	return due, nil
}

// markWatched records that a poll looked at the decided cases among cases,
// so the next watch waits its cadence.
func (a *Agent) markWatched(ctx context.Context, cases []*authpilot.Case) error {
	var ids []string
	for _, c := range cases {
		if c.Status.Watched() {
			ids = append(ids, c.ID)
		}
	}
	return a.store.MarkWatched(ctx, a.now(), ids...)
}

// expireLapsed turns the connector's approvals whose validity ended unused
// into expired (authpilot.Case.Lapse), each with its event and alert.
func (a *Agent) expireLapsed(ctx context.Context, connectorID string) error {
	cases, err := a.store.ListCases(ctx, authpilot.CaseFilter{ConnectorID: connectorID,
		Statuses: []authpilot.Status{authpilot.StatusApproved, authpilot.StatusPartiallyApproved, authpilot.StatusModified}})
	if err != nil {
		return fmt.Errorf("list approved cases: %w", err)
	}
	now := a.localNow()
	var errs error
	expired := false
	for _, c := range cases {
		if _, lapsed := c.Lapse(now); !lapsed {
			continue
		}
		_, err := a.store.UpdateCase(ctx, c.ID, func(c *authpilot.Case) (authpilot.Changes, error) {
			ch, _ := c.Lapse(now)
			return ch, nil
		})
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("expire case %s: %w", c.ID, err))
			continue
		}
		expired = true
		a.log.Info("approval expired unused", "case", c.ID)
	}
	if expired {
		a.kickDispatcher()
	}
	return errs
}
