package web_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/store"
)

// BenchmarkPages measures the server time of the worklist (the home page:
// 50 rows of 5,000 open cases, ordered by their next deadline) and of a
// denied case's page (determination, deadlines, timeline), requested by a
// signed-in client on loopback (issue 12, acceptance 4). Server time is the
// workspace handler's, from the request to the last byte written (session
// check and access-log write included; the client's reading is not):
// reported as server-ms/p50 and server-ms/p90. ns/op is the client's round
// trip.
//
//	go test ./web -run '^$' -bench Pages -benchtime 200x
func BenchmarkPages(b *testing.B) {
	tm := &timings{}
	w := newWorldWith(b, worldOptions{wrap: tm.wrap})
	denied := seedCases(b, w.a, w.clock.Now(), 5000)
	w.addUser(b, "casey", store.RoleCoordinator)
	c, code, _ := w.httpSignIn(b, "casey", password)
	if code != http.StatusSeeOther {
		b.Fatalf("sign-in: %d", code)
	}
	for _, page := range []struct{ name, path string }{
		{"worklist", "/"},
		{"case", "/cases/" + denied},
	} {
		b.Run(page.name, func(b *testing.B) {
			tm.reset()
			for b.Loop() {
				if code, _ := w.getPage(b, c, page.path); code != http.StatusOK {
					b.Fatalf("%s: %d", page.path, code)
				}
			}
			p50, p90 := tm.percentiles()
			b.ReportMetric(p50, "server-ms/p50")
			b.ReportMetric(p90, "server-ms/p90")
		})
	}
}

// timings keeps how long each request took the workspace's handler.
type timings struct {
	mu sync.Mutex
	d  []time.Duration
}

func (t *timings) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		d := time.Since(start)
		t.mu.Lock()
		t.d = append(t.d, d)
		t.mu.Unlock()
	})
}

func (t *timings) reset() {
	t.mu.Lock()
	t.d = t.d[:0]
	t.mu.Unlock()
}

// percentiles returns the median and the 90th percentile in milliseconds.
func (t *timings) percentiles() (p50, p90 float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.d) == 0 {
		return 0, 0
	}
	s := slices.Clone(t.d)
	slices.Sort(s)
	at := func(q float64) float64 {
		return float64(s[int(q*float64(len(s)-1))]) / float64(time.Millisecond)
	}
	return at(0.5), at(0.9)
}

// seedCases stores n open Summit cases as the portal would have left them
// (through the domain's own ApplySubmission and Apply, so each has its
// status history, payer ref and determination): a fifth each ready,
// submitted, pended with a response due, denied (a peer-to-peer window)
// and partially approved; then the deadline check gives every case its
// deadlines. Every other case carries a staff note. It returns the last
// denied case, whose page the benchmarks read (with a few more notes).
func seedCases(tb testing.TB, a *agent.Agent, now time.Time, n int) (denied string) {
	tb.Helper()
	ctx := context.Background()
	st := a.Store()
	for i := range n {
		codes := []authpilot.ServiceLine{{Code: "72148", Units: 1}, {Code: "72149", Units: 1}}
		c, err := a.Intake().Create(ctx, &agent.NewCase{Case: authpilot.Case{
			ExternalRef: fmt.Sprintf("ORD-%05d", i), Payer: "summit-ma", Track: authpilot.TrackImaging,
			Patient: authpilot.Patient{FirstName: firstNames[i%len(firstNames)], LastName: lastNames[(i/len(firstNames))%len(lastNames)],
				DOB: authpilot.NewDate(1940+i%50, time.Month(1+i%12), 1+i%28), MemberID: fmt.Sprintf("SHP%09d", (i*7919+104729)%1000000000)},
			OrderingProvider: authpilot.Provider{NPI: "1245319599", Name: "Lakeside Spine"},
			ServiceLines:     codes, Diagnoses: []string{"M54.16"},
			ServiceDate:   authpilot.NewDate(2027, 1, 1+i%28),
			ClinicalNotes: "Radicular pain despite 8 weeks of PT and NSAIDs.",
		}}, "bench")
		if err != nil {
			tb.Fatal(err)
		}
		at := now.Add(-time.Duration(n-i) * time.Minute)
		var obs *authpilot.Observation
		switch i % 5 {
		case 0:
			continue // ready, not yet submitted
		case 2:
			obs = &authpilot.Observation{Status: authpilot.StatusPended, StatusText: "Pended: clinical notes requested",
				Determination: &authpilot.Determination{InfoRequested: "Office notes of the last 6 weeks and the PT record",
					ResponseDue: authpilot.DateOf(at.AddDate(0, 0, 3+i%10))}}
		case 3:
			obs = &authpilot.Observation{Status: authpilot.StatusDenied, StatusText: "Denied",
				Determination: &authpilot.Determination{DenialReason: "Conservative therapy not documented for 6 weeks"}}
			denied = c.ID
		case 4:
			obs = &authpilot.Observation{Status: authpilot.StatusPartiallyApproved, StatusText: "Partially approved",
				Determination: &authpilot.Determination{AuthNumber: fmt.Sprintf("A%07d", i),
					ApprovedLines: []authpilot.ApprovedLine{{Code: "72148", Units: 1}}}}
		}
		if _, err := st.UpdateCase(ctx, c.ID, func(c *authpilot.Case) (authpilot.Changes, error) {
			from := c.Status
			c.Status = authpilot.StatusSubmitting
			return authpilot.Changes{Events: []authpilot.Event{{Type: authpilot.EventStatusChanged, Actor: "bench",
				From: from, To: authpilot.StatusSubmitting, At: at.UTC()}}}, nil
		}); err != nil {
			tb.Fatal(err)
		}
		if _, err := st.UpdateCase(ctx, c.ID, func(c *authpilot.Case) (authpilot.Changes, error) {
			ch, err := c.ApplySubmission(authpilot.Submission{PayerRef: fmt.Sprintf("SUM-%06d", i), StatusText: "Received"},
				nil, authpilot.EventSubmitted, "bench", "", at)
			if err != nil {
				return ch, err
			}
			if obs != nil {
				obs.CaseID = c.ID
				more := c.Apply(*obs, nil, "bench", "", at.Add(time.Hour))
				ch.Events = append(ch.Events, more.Events...)
			}
			ch.Alerts = nil // not the benchmark's business: no deliveries
			return ch, nil
		}); err != nil {
			tb.Fatal(err)
		}
		if i%2 == 1 {
			note(tb, a, c.ID, "Called the payer's line; they have the request.")
		}
	}
	for range 4 {
		note(tb, a, denied, "Surgeon's office asked to schedule the peer-to-peer.")
	}
	if _, err := a.CheckDeadlines(ctx); err != nil {
		tb.Fatal(err)
	}
	return denied
}

// Names of the seeded patients: 5,000 cases give 1,000 different names.
var (
	firstNames = []string{"Ada", "Bert", "Carmen", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Imani", "Jonas",
		"Keiko", "Luis", "Maya", "Nnamdi", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tariq"}
	lastNames = []string{"Okafor", "Lindqvist", "Moreau", "Castillo", "Nakamura", "Brennan", "Haddad", "Kowalski",
		"Fitzgerald", "Abernathy", "Delacroix", "Ivanova", "Mbeki", "Quintero", "Rasmussen", "Schreiber", "Thornton",
		"Underwood", "Vasquez", "Whitaker", "Yamamoto", "Zielinski", "Achebe", "Bjornsson", "Carvalho", "Dunleavy",
		"Esposito", "Fairbanks", "Gallagher", "Holloway", "Ibarra", "Jablonski", "Kirkpatrick", "Lombardi", "Mcallister",
		"Novak", "Oyelaran", "Petrakis", "Rutherford", "Sandoval", "Tremblay", "Valentini", "Wojcik", "Xiong", "Yilmaz",
		"Zamora", "Ashworth", "Beaumont", "Crawford", "Dominguez"}
)

// note adds a staff note to case id through the actions service.
func note(tb testing.TB, a *agent.Agent, id, text string) {
	tb.Helper()
	if _, err := a.Actions().Do(context.Background(), agent.ActionRequest{CaseID: id, Name: "note",
		Input: []byte(fmt.Sprintf(`{"text": %q}`, text)), Actor: "casey"}); err != nil {
		tb.Fatal(err)
	}
}
