package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/authpilot/authpilot"
)

// ConnectorState returns a connector's remembered state, or the zero
// state with its ID.
func (s *Store) ConnectorState(ctx context.Context, id string) (authpilot.ConnectorState, error) {
	st, err := connectorState(ctx, s.r, id)
	if err != nil {
		return st, fmt.Errorf("connector state of %s: %w", id, err)
	}
	return st, nil
}

// ConnectorStates returns every remembered connector state, by ID.
func (s *Store) ConnectorStates(ctx context.Context) ([]authpilot.ConnectorState, error) {
	out, err := queryAll(ctx, s.r, func(rows *sql.Rows) (authpilot.ConnectorState, error) {
		var id, js string
		if err := rows.Scan(&id, &js); err != nil {
			return authpilot.ConnectorState{}, err
		}
		return decodeConnectorState(id, js)
	}, "SELECT connector, state FROM connector_state ORDER BY connector")
	if err != nil {
		return nil, fmt.Errorf("connector states: %w", err)
	}
	return out, nil
}

// UpdateConnectorState changes a connector's state and enqueues fn's
// alerts in one transaction.
func (s *Store) UpdateConnectorState(ctx context.Context, id string, fn func(*authpilot.ConnectorState) ([]authpilot.Alert, error)) (authpilot.ConnectorState, error) {
	if id == "" {
		return authpilot.ConnectorState{}, errors.New("update connector state: empty connector id")
	}
	var out authpilot.ConnectorState
	err := s.write(ctx, func(tx *sql.Tx) error {
		st, err := connectorState(ctx, tx, id)
		if err != nil {
			return err
		}
		alerts, err := fn(&st)
		if err != nil {
			return err
		}
		st.ConnectorID = id
		js, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		now := s.clock()
		if _, err := tx.ExecContext(ctx, `INSERT INTO connector_state (connector, state, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (connector) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
			id, string(js), fmtTime(now)); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if _, err := s.insertAlerts(ctx, tx, alerts, now); err != nil {
			return err
		}
		out = st
		return nil
	})
	if err != nil {
		return authpilot.ConnectorState{}, fmt.Errorf("update connector state of %s: %w", id, err)
	}
	return out, nil
}

func connectorState(ctx context.Context, q queryer, id string) (authpilot.ConnectorState, error) {
	var js string
	err := q.QueryRowContext(ctx, "SELECT state FROM connector_state WHERE connector = ?", id).Scan(&js)
	if errors.Is(err, sql.ErrNoRows) {
		return authpilot.ConnectorState{ConnectorID: id}, nil
	}
	if err != nil {
		return authpilot.ConnectorState{}, fmt.Errorf("read connector state: %w", err)
	}
	return decodeConnectorState(id, js)
}

func decodeConnectorState(id, js string) (authpilot.ConnectorState, error) {
	var st authpilot.ConnectorState
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		return st, fmt.Errorf("decode connector state of %s: %w", id, err)
	}
	st.ConnectorID = id
	st.PausedAt, st.PausedUntil, st.NotBefore, st.ResumedAt = st.PausedAt.UTC(), st.PausedUntil.UTC(), st.NotBefore.UTC(), st.ResumedAt.UTC()
	for i := range st.Logins {
		st.Logins[i] = st.Logins[i].UTC()
	}
	return st, nil
}
