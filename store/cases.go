package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
)

// CreateCase inserts c with its creation events and alerts in one
// transaction. It sets c.Version to 1 and c.CreatedAt and c.UpdatedAt to
// the store's clock once the write succeeded. An existing ID fails with an
// error wrapping authpilot.ErrConflict; an open case at the same payer with
// the same external reference fails with a *authpilot.DuplicateError
// naming it (checked inside the write transaction, so two concurrent
// creations cannot both pass). ch.Idempotency is stored in the same
// transaction. Events get c.ID and the current
// time where they have none; alerts get a ULID and the current time, and
// an alert whose DedupKey was seen before is dropped.
func (s *Store) CreateCase(ctx context.Context, c *authpilot.Case, ch authpilot.Changes) error {
	if c == nil {
		return errors.New("create case: nil case")
	}
	if strings.TrimSpace(c.ID) == "" {
		return errors.New("create case: empty id")
	}
	if !c.Status.Valid() {
		return fmt.Errorf("create case %s: invalid status %q", c.ID, c.Status)
	}
	var cp authpilot.Case
	err := s.write(ctx, func(tx *sql.Tx) error {
		// The time is taken inside the serialized write, so creation times
		// follow the order cases are stored in.
		now := s.clock()
		cp = *c
		cp.Version = 1
		cp.CreatedAt = now
		cp.UpdatedAt = now
		data, err := json.Marshal(&cp)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		events, err := prepareEvents(cp.ID, ch.Events, now)
		if err != nil {
			return err
		}
		exists, err := caseExists(ctx, tx, cp.ID)
		if err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("case already exists: %w", authpilot.ErrConflict)
		}
		if cp.ExternalRef != "" {
			var other string
			err := tx.QueryRowContext(ctx, `SELECT id FROM cases WHERE payer = ? AND external_ref = ?
				AND status NOT IN (`+placeholders(len(authpilot.ClosedStatuses))+`) ORDER BY rowid LIMIT 1`,
				append([]any{cp.Payer, cp.ExternalRef}, statusArgs(authpilot.ClosedStatuses)...)...).Scan(&other)
			switch {
			case err == nil:
				return &authpilot.DuplicateError{CaseID: other, Field: "external_ref"}
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("look up external_ref: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO cases
			(id, status, payer, connector, track, episode, external_ref, version, created_at, updated_at, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			cp.ID, string(cp.Status), cp.Payer, cp.ConnectorID, string(cp.Track), cp.Episode, cp.ExternalRef,
			cp.Version, fmtTime(cp.CreatedAt), fmtTime(cp.UpdatedAt), string(data)); err != nil {
			return fmt.Errorf("insert case: %w", err)
		}
		if err := insertEvents(ctx, tx, events); err != nil {
			return err
		}
		if err := insertIdempotency(ctx, tx, ch.Idempotency, cp.ID, now); err != nil {
			return err
		}
		_, err = s.insertAlerts(ctx, tx, ch.Alerts, now)
		return err
	})
	var de *authpilot.DuplicateError
	if errors.As(err, &de) {
		return err
	}
	if err != nil {
		return fmt.Errorf("create case %s: %w", c.ID, err)
	}
	c.Version, c.CreatedAt, c.UpdatedAt = cp.Version, cp.CreatedAt, cp.UpdatedAt
	return nil
}

// GetCase returns the case, or an error wrapping authpilot.ErrNotFound.
func (s *Store) GetCase(ctx context.Context, id string) (*authpilot.Case, error) {
	c, err := getCase(ctx, s.r, id)
	if err != nil {
		return nil, fmt.Errorf("get case %s: %w", id, err)
	}
	return c, nil
}

func getCase(ctx context.Context, q queryer, id string) (*authpilot.Case, error) {
	var data string
	var version int
	err := q.QueryRowContext(ctx, "SELECT data, version FROM cases WHERE id = ?", id).Scan(&data, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, authpilot.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read case: %w", err)
	}
	return decodeCase(data, version)
}

// decodeCase decodes a stored case; the version column is authoritative.
// Times come back in UTC.
func decodeCase(data string, version int) (*authpilot.Case, error) {
	var c authpilot.Case
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return nil, fmt.Errorf("decode case: %w", err)
	}
	c.Version = version
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	c.SubmittedAt = utcPtr(c.SubmittedAt)
	if c.Determination != nil {
		c.Determination.DecidedAt = utcPtr(c.Determination.DecidedAt)
	}
	return &c, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// ListCases returns the cases f selects in the order they were stored
// (rowid order: a case's rowid is taken inside the serialized write, so a
// cursor on it misses nothing inserted later), oldest first. f.After names
// the case a page ended with.
func (s *Store) ListCases(ctx context.Context, f authpilot.CaseFilter) ([]*authpilot.Case, error) {
	where, args := caseWhere(f)
	query := "SELECT data, version FROM cases" + where + " ORDER BY rowid"
	// A search is matched here, in Go (the one definition of a match,
	// Unicode case folding included), so the limit applies after it.
	if f.Limit > 0 && f.Query == "" {
		query += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	defer rows.Close()
	var out []*authpilot.Case
	for rows.Next() {
		var data string
		var version int
		if err := rows.Scan(&data, &version); err != nil {
			return nil, fmt.Errorf("list cases: scan: %w", err)
		}
		c, err := decodeCase(data, version)
		if err != nil {
			return nil, fmt.Errorf("list cases: %w", err)
		}
		if f.Query != "" && c.SearchMatch(f.Query) == nil {
			continue
		}
		out = append(out, c)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return out, nil
}

// caseWhere is the WHERE clause (with a leading space, or empty) and its
// arguments selecting the cases f names, f.Query and f.Limit aside.
func caseWhere(f authpilot.CaseFilter) (string, []any) {
	var where []string
	var args []any
	if len(f.Statuses) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Statuses))+")")
		for _, st := range f.Statuses {
			args = append(args, string(st))
		}
	}
	for _, eq := range []struct{ col, val string }{
		{"payer", f.Payer}, {"connector", f.ConnectorID}, {"track", string(f.Track)}, {"episode", f.Episode},
	} {
		if eq.val != "" {
			where = append(where, eq.col+" = ?")
			args = append(args, eq.val)
		}
	}
	if f.After != "" {
		where = append(where, "rowid > (SELECT rowid FROM cases WHERE id = ?)")
		args = append(args, f.After)
	}
	if !f.DueBefore.IsZero() {
		where = append(where, "EXISTS (SELECT 1 FROM deadlines d WHERE d.case_id = cases.id AND d.due < ?)")
		args = append(args, fmtTime(f.DueBefore))
	}
	switch f.Assignee {
	case "":
	case authpilot.Unassigned:
		where = append(where, "NOT EXISTS (SELECT 1 FROM assignments a WHERE a.case_id = cases.id)")
	default:
		where = append(where, "EXISTS (SELECT 1 FROM assignments a WHERE a.case_id = cases.id AND a.user_name = ?)")
		args = append(args, f.Assignee)
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// WorklistPage returns limit cases from offset of those f selects (its
// Query, After and Limit aside), ordered by their next deadline: the
// soonest first, cases without one last, each tie in the order stored;
// and how many f selects in all. Only the page's cases are read whole.
func (s *Store) WorklistPage(ctx context.Context, f authpilot.CaseFilter, offset, limit int) ([]*authpilot.Case, int, error) {
	f.Query, f.After, f.Limit = "", "", 0
	where, args := caseWhere(f)
	var ids []string
	total := 0
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, COUNT(*) OVER () FROM (SELECT id, rowid AS r,
			(SELECT MIN(due) FROM deadlines d WHERE d.case_id = cases.id) AS next FROM cases`+where+`)
			ORDER BY next IS NULL, next, r LIMIT ? OFFSET ?`, append(args, limit, offset)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id, &total); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("worklist: %w", err)
	}
	if len(ids) == 0 && offset > 0 {
		// Past the end: count what there is.
		if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM cases"+where, args...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("worklist: count: %w", err)
		}
	}
	out := make([]*authpilot.Case, 0, len(ids))
	for _, id := range ids {
		c, err := s.GetCase(ctx, id)
		if err != nil {
			return nil, 0, fmt.Errorf("worklist: %w", err)
		}
		out = append(out, c)
	}
	return out, total, nil
}

func statusArgs(list []authpilot.Status) []any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = string(s)
	}
	return out
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// UpdateCase reads the case inside the write transaction and lets fn
// change it. If fn returns an error, nothing is written and that error is
// returned as is. A status change must be allowed by
// authpilot.CheckTransition; the ID and CreatedAt cannot change. The case
// is written with Version+1 and UpdatedAt from the store's clock, together
// with fn's events and alerts (filled in as by CreateCase).
//
// Writes are serialized, so fn should be quick, and it must not call the
// store's write methods: they would wait for the transaction fn runs in.
func (s *Store) UpdateCase(ctx context.Context, id string, fn func(c *authpilot.Case) (authpilot.Changes, error)) (*authpilot.Case, error) {
	var fnErr error
	var out *authpilot.Case
	err := s.write(ctx, func(tx *sql.Tx) error {
		c, err := getCase(ctx, tx, id)
		if err != nil {
			return err
		}
		old := *c // fn may change c; the scalars read below stay put
		ch, err := fn(c)
		if err != nil {
			fnErr = err
			return err
		}
		if c.ID != old.ID {
			return fmt.Errorf("case id changed to %q", c.ID)
		}
		if c.Status != old.Status {
			if err := authpilot.CheckTransition(old.Status, c.Status); err != nil {
				return err
			}
		}
		now := s.clock()
		c.Version = old.Version + 1
		c.CreatedAt = old.CreatedAt
		c.UpdatedAt = now
		data, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("encode case: %w", err)
		}
		events, err := prepareEvents(id, ch.Events, now)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE cases SET
			status = ?, payer = ?, connector = ?, track = ?, episode = ?, external_ref = ?,
			version = ?, updated_at = ?, data = ?
			WHERE id = ? AND version = ?`,
			string(c.Status), c.Payer, c.ConnectorID, string(c.Track), c.Episode, c.ExternalRef,
			c.Version, fmtTime(c.UpdatedAt), string(data), id, old.Version)
		if err != nil {
			return fmt.Errorf("write case: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("write case: %w", err)
		} else if n != 1 {
			return fmt.Errorf("case changed during update: %w", authpilot.ErrConflict)
		}
		if err := insertEvents(ctx, tx, events); err != nil {
			return err
		}
		if _, err := s.insertAlerts(ctx, tx, ch.Alerts, now); err != nil {
			return err
		}
		if err := insertIdempotency(ctx, tx, ch.Idempotency, id, now); err != nil {
			return err
		}
		out, err = decodeCase(string(data), c.Version)
		return err
	})
	if fnErr != nil {
		return nil, fnErr
	}
	if err != nil {
		return nil, fmt.Errorf("update case %s: %w", id, err)
	}
	return out, nil
}

// MarkWatched implements authpilot.Store.
func (s *Store) MarkWatched(ctx context.Context, at time.Time, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{at.UTC().Format(time.RFC3339Nano)}
	for _, id := range ids {
		args = append(args, id)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE cases SET data = json_set(data, '$.watched_at', ?)
			WHERE id IN (`+placeholders(len(ids))+`)`, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark %d cases watched: %w", len(ids), err)
	}
	return nil
}

// Events returns a case's history, oldest first, or an error wrapping
// authpilot.ErrNotFound for an unknown case.
func (s *Store) Events(ctx context.Context, caseID string) ([]authpilot.Event, error) {
	var out []authpilot.Event
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := caseMustExist(ctx, tx, caseID); err != nil {
			return err
		}
		var err error
		out, err = queryAll(ctx, tx, scanEvent, `SELECT id, case_id, at, type, actor, from_status, to_status,
			raw_text, recording, detail FROM events WHERE case_id = ? ORDER BY id`, caseID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("events of case %s: %w", caseID, err)
	}
	return out, nil
}

func scanEvent(rows *sql.Rows) (authpilot.Event, error) {
	var e authpilot.Event
	var at, typ, from, to string
	var detail sql.NullString
	if err := rows.Scan(&e.ID, &e.CaseID, &at, &typ, &e.Actor, &from, &to, &e.RawText, &e.Recording, &detail); err != nil {
		return e, fmt.Errorf("scan event: %w", err)
	}
	var err error
	if e.At, err = parseTime(at); err != nil {
		return e, err
	}
	e.Type, e.From, e.To = authpilot.EventType(typ), authpilot.Status(from), authpilot.Status(to)
	if detail.Valid {
		e.Detail = json.RawMessage(detail.String)
	}
	return e, nil
}

// prepareEvents copies events, filling CaseID and At, and checks them.
func prepareEvents(caseID string, events []authpilot.Event, now time.Time) ([]authpilot.Event, error) {
	out := make([]authpilot.Event, len(events))
	for i, e := range events {
		switch {
		case e.CaseID == "":
			e.CaseID = caseID
		case e.CaseID != caseID:
			return nil, fmt.Errorf("event %d (%s) names case %s", i, e.Type, e.CaseID)
		}
		if e.Type == "" {
			return nil, fmt.Errorf("event %d: empty type", i)
		}
		if e.At.IsZero() {
			e.At = now
		}
		if len(e.Detail) > 0 && !json.Valid(e.Detail) {
			return nil, fmt.Errorf("event %d (%s): detail is not valid JSON", i, e.Type)
		}
		out[i] = e
	}
	return out, nil
}

func insertEvents(ctx context.Context, tx *sql.Tx, events []authpilot.Event) error {
	for _, e := range events {
		var detail any
		if len(e.Detail) > 0 {
			detail = string(e.Detail)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO events
			(case_id, at, type, actor, from_status, to_status, raw_text, recording, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.CaseID, fmtTime(e.At), string(e.Type), e.Actor, string(e.From), string(e.To),
			e.RawText, e.Recording, detail); err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
	}
	return nil
}
