package chaos

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/payersim/pas"
	"github.com/authpilot/authpilot/store"
)

// collect gathers the records the checks read, once the daemon is gone:
// the simulators' requests, the store's cases, events, documents and
// outbox, and what the API and the receiver saw.
func collect(ctx context.Context, dir string, payer, rbm *payersim.Portal, pasSim *pas.Server, cl *client, rc *receiver, tp *taps, seen *seenEvents) (*Records, error) {
	r := &Records{SeenEvents: seen.all(), Letters: tp.lettersServed(), Received: rc.received(), Sink: hookSink,
		Cases: map[string]*StoredCase{}, Alerts: map[string]*StoredAlert{}}
	for sim, p := range map[string]*payersim.Portal{"payer": payer, "rbm": rbm} {
		for _, q := range p.Requests() {
			sr := SimRequest{Sim: sim, Ref: q.Reference, AuthNumber: q.AuthNumber, MemberID: q.MemberID, ServiceDate: q.ServiceDate}
			for _, l := range q.Lines {
				sr.Codes = append(sr.Codes, l.Code)
			}
			r.Requests = append(r.Requests, sr)
		}
	}
	for _, q := range pasSim.Requests() {
		r.Requests = append(r.Requests, SimRequest{Sim: "pas", Ref: q.Reference, AuthNumber: q.AuthNumber, MemberID: q.MemberID,
			Codes: q.Codes, ServiceDate: q.ServiceDate})
	}
	cl.mu.Lock()
	r.Acked = append([]Acked(nil), cl.acked...)
	cl.mu.Unlock()

	dataDir := filepath.Join(dir, "data")
	st, err := store.Open(ctx, dataDir, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, fmt.Errorf("open the store: %w", err)
	}
	defer st.Close()
	cases, err := st.ListCases(ctx, authpilot.CaseFilter{})
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	for _, c := range cases {
		sc := &StoredCase{ID: c.ID, Status: string(c.Status), Sim: connectorSim[c.ConnectorID], PayerRef: c.PayerRef,
			MemberID: c.Patient.MemberID, ServiceDate: c.ServiceDate.String(), LastError: c.LastError,
			Events: map[int64]string{}, Docs: map[string]map[string]bool{}}
		if c.ServiceDate.IsZero() {
			sc.ServiceDate = ""
		}
		for _, l := range c.ServiceLines {
			sc.Codes = append(sc.Codes, l.Code)
		}
		if c.Determination != nil {
			sc.AuthNumber = c.Determination.AuthNumber
		}
		evs, err := st.Events(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("events of %s: %w", c.ID, err)
		}
		for _, e := range evs {
			sc.Events[e.ID] = string(e.Type)
		}
		docs, err := st.Documents(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("documents of %s: %w", c.ID, err)
		}
		for _, doc := range docs {
			if sc.Docs[doc.Kind] == nil {
				sc.Docs[doc.Kind] = map[string]bool{}
			}
			sc.Docs[doc.Kind][doc.SHA256] = true
		}
		r.Cases[c.ID] = sc
	}
	// Acknowledged cases that ListCases did not return are looked up one
	// by one (a list may be bounded).
	for _, a := range r.Acked {
		if r.Cases[a.CaseID] != nil {
			continue
		}
		if _, err := st.GetCase(ctx, a.CaseID); err == nil {
			return nil, fmt.Errorf("case %s is stored but not listed: the list is bounded; raise the filter's limit", a.CaseID)
		}
	}

	// The outbox, read directly: the Store interface has no list of all
	// alerts.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "authpilot.db")+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT a.id, a.case_id, a.type, a.routed, COALESCE(d.sink, ''), COALESCE(d.state, '')
		FROM alerts a LEFT JOIN deliveries d ON d.alert_seq = a.seq ORDER BY a.seq`)
	if err != nil {
		return nil, fmt.Errorf("read the outbox: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, caseID, typ, sink, state string
		var routed int
		if err := rows.Scan(&id, &caseID, &typ, &routed, &sink, &state); err != nil {
			return nil, err
		}
		a := r.Alerts[id]
		if a == nil {
			a = &StoredAlert{ID: id, CaseID: caseID, Type: typ, Routed: routed != 0, Deliveries: map[string]string{}}
			r.Alerts[id] = a
		}
		if sink != "" {
			a.Deliveries[sink] = state
		}
	}
	return r, rows.Err()
}
