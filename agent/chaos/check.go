package chaos

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// SimRequest is one request as a simulator holds it.
type SimRequest struct {
	Sim        string // payer, rbm or pas
	Ref        string // reference, tracking number or preAuthRef
	AuthNumber string
	MemberID   string
	Codes      []string
	// ServiceDate as the simulator holds it (normalized to YYYY-MM-DD
	// when it parses).
	ServiceDate string
}

// key is what makes two requests the same request at a payer.
func (r SimRequest) key() string {
	codes := append([]string(nil), r.Codes...)
	for i := range codes {
		codes[i] = strings.ToUpper(strings.TrimSpace(codes[i]))
	}
	sort.Strings(codes)
	return r.Sim + "|" + strings.ToUpper(strings.TrimSpace(r.MemberID)) + "|" + strings.Join(codes, ",") + "|" + normDate(r.ServiceDate)
}

// Acked is an API answer that acknowledged a case (201 or 200 with its ID).
type Acked struct {
	CaseID         string
	Status         int
	IdempotencyKey string
	ExternalRef    string
}

// StoredCase is what the store holds for a case at the end.
type StoredCase struct {
	ID          string
	Status      string
	Sim         string // the simulator its connector talks to
	PayerRef    string
	AuthNumber  string
	MemberID    string
	Codes       []string
	ServiceDate string
	// LastError is the case's last error (a needs_human stop names why).
	LastError string
	// Events are the stored events' IDs and types.
	Events map[int64]string
	// Docs are the sha256s of the case's stored documents, by kind.
	Docs map[string]map[string]bool
}

// StoredAlert is an alert in the store's outbox with its deliveries.
type StoredAlert struct {
	ID     string
	CaseID string
	Type   string
	// Deliveries maps a sink to its delivery state (pending, delivered,
	// dead); an alert not routed yet has none and is still queued.
	Deliveries map[string]string
	Routed     bool
}

// Received is an alert the webhook receiver accepted (signature verified).
type Received struct {
	ID     string
	Type   string
	CaseID string
}

// Records is everything the checks look at: the simulators' own records,
// what the API acknowledged, what the receiver got, and the store.
type Records struct {
	Requests []SimRequest
	Acked    []Acked
	// SeenEvents are event IDs read back through the API during the run
	// (acknowledged history), per case.
	SeenEvents map[string][]int64
	// Letters are the sha256s of every letter a simulator served, by
	// simulator and reference ("payer|SHP-2026-000001").
	Letters  map[string]map[string]bool
	Cases    map[string]*StoredCase
	Alerts   map[string]*StoredAlert
	Received map[string]Received
	// Sink is the name of the webhook sink the receiver stands behind.
	Sink string
}

// Violation is one broken promise.
type Violation struct {
	Check  string
	Detail string
}

func (v Violation) String() string { return v.Check + ": " + v.Detail }

// The checks, in the order they run.
const (
	CheckDuplicate   = "duplicate request at a simulator"
	CheckAckedCase   = "acknowledged case missing"
	CheckAckedEvent  = "acknowledged event missing"
	CheckLetter      = "issued letter not stored"
	CheckAlertLost   = "alert lost"
	CheckAlertGhost  = "delivered alert not in the store"
	CheckForeignRef  = "case attached to another member's request"
	CheckWrongReq    = "case attached to another request"
	CheckUnknownRef  = "payer reference unknown at the simulator"
	CheckSharedRef   = "one request held by two cases"
	CheckForeignAuth = "authorization number of another request"
	CheckOrphan      = "request held by no case"
)

// Check runs every check and returns the violations, grouped by check in
// a stable order.
func Check(r *Records) []Violation {
	var out []Violation
	add := func(check, format string, a ...any) {
		out = append(out, Violation{Check: check, Detail: fmt.Sprintf(format, a...)})
	}
	byRef := map[string]SimRequest{}
	byAuth := map[string]SimRequest{}
	for _, q := range r.Requests {
		byRef[q.Sim+"|"+q.Ref] = q
		if q.AuthNumber != "" {
			byAuth[q.AuthNumber] = q
		}
	}
	holders := map[string][]string{} // sim|ref -> case IDs
	for _, id := range sortedKeys(r.Cases) {
		c := r.Cases[id]
		if c.PayerRef != "" {
			holders[c.Sim+"|"+c.PayerRef] = append(holders[c.Sim+"|"+c.PayerRef], id)
		}
	}

	// How the API answered each case (for the duplicates' details).
	ackOf := map[string]string{}
	for _, id := range sortedKeys(r.Cases) {
		ackOf[id] = "[never acknowledged]"
	}
	for _, a := range r.Acked {
		ackOf[a.CaseID] = fmt.Sprintf("[HTTP %d, Idempotency-Key %s, %s]", a.Status, a.IdempotencyKey, a.ExternalRef)
	}

	// 1. No duplicate request at any simulator.
	groups := map[string][]SimRequest{}
	var keys []string
	for _, q := range r.Requests {
		k := q.key()
		if len(groups[k]) == 0 {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], q)
	}
	for _, k := range keys {
		g := groups[k]
		if len(g) < 2 {
			continue
		}
		var refs []string
		for _, q := range g {
			var hs []string
			for _, id := range holders[q.Sim+"|"+q.Ref] {
				hs = append(hs, id+" "+ackOf[id])
			}
			refs = append(refs, fmt.Sprintf("%s (case %s)", q.Ref, orNone(hs)))
		}
		add(CheckDuplicate, "%s: %d requests for one member, codes and service date: %s", g[0].Sim, len(g), strings.Join(refs, ", "))
	}

	// 2. Every acknowledged case is stored, with its creation event.
	seenAck := map[string]bool{}
	for _, a := range r.Acked {
		if seenAck[a.CaseID] {
			continue
		}
		seenAck[a.CaseID] = true
		c := r.Cases[a.CaseID]
		if c == nil {
			add(CheckAckedCase, "case %s (HTTP %d) is not in the store", a.CaseID, a.Status)
			continue
		}
		created := false
		for _, t := range c.Events {
			created = created || t == "case_created"
		}
		if !created {
			add(CheckAckedEvent, "case %s has no created event", a.CaseID)
		}
	}
	// 3. Every event read back through the API is still stored.
	for _, id := range sortedKeys(r.SeenEvents) {
		c := r.Cases[id]
		var missing []string
		for _, ev := range r.SeenEvents[id] {
			if c == nil {
				missing = append(missing, fmt.Sprint(ev))
				continue
			}
			if _, ok := c.Events[ev]; !ok {
				missing = append(missing, fmt.Sprint(ev))
			}
		}
		if len(missing) > 0 {
			add(CheckAckedEvent, "case %s: events %s were read through the API and are gone", id, strings.Join(missing, ", "))
		}
	}

	// 4. Every letter a simulator issued for a request is stored for the
	// case that holds the request.
	for _, k := range sortedKeys(r.Letters) {
		shas := r.Letters[k]
		ids := holders[k]
		if len(ids) == 0 {
			add(CheckLetter, "%s: a letter was issued for a request no case holds", k)
			continue
		}
		for _, id := range ids {
			c := r.Cases[id]
			found := false
			for sha := range shas {
				found = found || c.Docs["letter"][sha]
			}
			if !found {
				add(CheckLetter, "case %s (%s, status %s): none of the %d letter(s) served for %s is stored", id, c.Sim, c.Status, len(shas), k)
			}
		}
	}

	// 5. Every alert raised is delivered or still queued; every alert the
	// receiver got is in the store.
	for _, id := range sortedKeys(r.Alerts) {
		a := r.Alerts[id]
		st, routed := a.Deliveries[r.Sink]
		switch {
		case routed && st == "dead":
			add(CheckAlertLost, "alert %s (%s, case %s): delivery to %s given up", id, a.Type, orDash(a.CaseID), r.Sink)
		case routed && st == "delivered":
			if _, ok := r.Received[id]; !ok {
				add(CheckAlertLost, "alert %s (%s, case %s): marked delivered to %s but never received", id, a.Type, orDash(a.CaseID), r.Sink)
			}
		case a.Routed && !routed && a.Type != "sink_failing":
			add(CheckAlertLost, "alert %s (%s, case %s): routed, but not to %s (every alert routes there)", id, a.Type, orDash(a.CaseID), r.Sink)
		}
	}
	for _, id := range sortedKeys(r.Received) {
		if _, ok := r.Alerts[id]; !ok {
			rc := r.Received[id]
			add(CheckAlertGhost, "alert %s (%s, case %s) was delivered but is not in the store", id, rc.Type, orDash(rc.CaseID))
		}
	}

	// 6. A case holds only its own member's request, and its own request.
	for _, id := range sortedKeys(r.Cases) {
		c := r.Cases[id]
		if c.PayerRef != "" {
			q, ok := byRef[c.Sim+"|"+c.PayerRef]
			switch {
			case !ok:
				add(CheckUnknownRef, "case %s holds %s, which %s never issued", id, c.PayerRef, c.Sim)
			case !strings.EqualFold(q.MemberID, c.MemberID):
				add(CheckForeignRef, "case %s (status %s) holds %s, a request of another member", id, c.Status, c.PayerRef)
			case q.key() != (SimRequest{Sim: c.Sim, MemberID: c.MemberID, Codes: c.Codes, ServiceDate: c.ServiceDate}).key():
				add(CheckWrongReq, "case %s (status %s) holds %s, the same member's request for %s", id, c.Status, c.PayerRef, differs(q, c))
			}
		}
		if c.AuthNumber != "" {
			q, ok := byAuth[c.AuthNumber]
			own, mine := byRef[c.Sim+"|"+c.PayerRef]
			switch {
			case ok && (q.Sim != c.Sim || q.Ref != c.PayerRef):
				what := CheckForeignAuth
				if !strings.EqualFold(q.MemberID, c.MemberID) {
					what = CheckForeignRef
				}
				add(what, "case %s (status %s) carries authorization %s of %s", id, c.Status, c.AuthNumber, q.Ref)
			case mine && own.AuthNumber != "" && own.AuthNumber != c.AuthNumber:
				add(CheckForeignAuth, "case %s carries an authorization number its request %s does not have", id, c.PayerRef)
			}
		}
	}
	for _, k := range sortedKeys(holders) {
		if ids := holders[k]; len(ids) > 1 {
			add(CheckSharedRef, "%s is held by cases %s", k, strings.Join(ids, ", "))
		}
	}

	// 7. Every request at a simulator is held by a case, or a case of the
	// same member, codes and service date stopped for a person
	// (needs_human) rather than guess.
	stopped := map[string]bool{}
	for _, c := range r.Cases {
		if c.PayerRef == "" {
			stopped[(SimRequest{Sim: c.Sim, MemberID: c.MemberID, Codes: c.Codes, ServiceDate: c.ServiceDate}).key()] = true
		}
	}
	for _, q := range r.Requests {
		if len(holders[q.Sim+"|"+q.Ref]) == 0 && !stopped[q.key()] {
			add(CheckOrphan, "%s %s: no case holds it or waits on a person for it", q.Sim, q.Ref)
		}
	}
	return out
}

// differs names what differs between a request and the case holding it,
// without the values (they are PHI).
func differs(q SimRequest, c *StoredCase) string {
	var d []string
	a := SimRequest{Codes: q.Codes}
	b := SimRequest{Codes: c.Codes}
	if a.key() != b.key() {
		d = append(d, "other codes")
	}
	if normDate(q.ServiceDate) != normDate(c.ServiceDate) {
		d = append(d, "another service date")
	}
	if len(d) == 0 {
		return "the same codes and date"
	}
	return strings.Join(d, " and ")
}

// normDate writes a date in YYYY-MM-DD when it parses.
func normDate(s string) string {
	s = strings.TrimSpace(s)
	for _, l := range []string{time.DateOnly, "01/02/2006", "1/2/2006"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.Format(time.DateOnly)
		}
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func orNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
