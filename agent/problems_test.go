package agent

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

// flakyConnector is a connector kind whose logins fail with whatever error
// the test sets (nil: the visit works and sees nothing new).
type flakyConnector struct {
	mu  sync.Mutex
	err error
}

var flaky = &flakyConnector{}

func (f *flakyConnector) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *flakyConnector) open() (connectors.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return fakeSession{submitErr: authpilot.ErrUnsupported, unchanged: true}, nil
}

func init() {
	registerFakeKind("agenttest-flaky", fakeConnector{caps: connectors.Capabilities{Poll: true}, open: flaky.open})
}

// TestConnectorAlertsPerProblem is the report: connector alerts were
// deduplicated per connector per UTC day, so a second, different outage
// the same day raised nothing. Now: one alert per problem (connector,
// class, message without its numbers and IDs), a resolved alert when the
// connector works again, and the next outage the same day alerts again;
// the same outage going on alerts once.
func TestConnectorAlertsPerProblem(t *testing.T) {
	// 09:00 to 17:00 UTC on one day: one UTC day, one practice day.
	clock := clocktest.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	hook := notifytest.NewEndpoint(t, notifytest.EndpointOptions{Secret: "whsec_dGVzdC1rZXk=", Now: clock.Now})
	cfg := spineConfig(t, t.TempDir(), fmt.Sprintf(`
schedules: {deadlines: "", digest: ""}
payers:
  - {id: summit-ma, plan_type: medicare_advantage, connector: flaky}
connectors:
  - {id: flaky, kind: agenttest-flaky, options: {}, schedule: {submit: "", poll: ""}, limits: {retries: 0}}
notify:
  sinks: [{name: ops, type: webhook, url: %q, secret: hook-secret}]
  routes: [{match: {types: [connector_failing, needs_human, portal_changed]}, sinks: [ops]}]
`, hook.URL))
	a, err := New(cfg, Options{Secrets: authpilot.StaticSecrets{"hook-secret": "whsec_dGVzdC1rZXk="}, Clock: clock, NoAPI: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	c := &authpilot.Case{ID: "01JCASEFLAKY00000000000001", Status: authpilot.StatusSubmitted, Payer: "summit-ma",
		ConnectorID: "flaky", Track: authpilot.TrackSurgery, PayerRef: "REF-1"}
	if err := a.store.CreateCase(ctx, c, authpilot.Changes{}); err != nil {
		t.Fatal(err)
	}

	outage1 := func(i int) error {
		return fmt.Errorf("open portal: timeout after %ds waiting for #login (request 8f3a%04x, %s)",
			30+i, i, clock.Now().Format(time.RFC3339))
	}
	outage2 := func(i int) error {
		return fmt.Errorf("open portal: http %d from /api/session %d", 500+i%3, 1000+i)
	}
	login := func(i int) error {
		return fmt.Errorf("log in: wrong password for account ending %d: %w", i, authpilot.ErrAuth)
	}
	steps := []struct {
		name string
		err  func(int) error
		runs int
		want []string // alerts delivered after these runs: type/resolves
	}{
		{"outage 1, runs 1-2", outage1, 2, nil},
		{"outage 1 reaches 3 runs", outage1, 1, []string{"connector_failing"}},
		{"outage 1 goes on all morning", outage1, 20, nil},
		{"works again", nil, 1, []string{"resolved/connector_failing"}},
		{"works on", nil, 5, nil},
		{"outage 2, another cause the same day", outage2, 3, []string{"connector_failing"}},
		{"outage 2 goes on", outage2, 10, nil},
		// A refused login pauses the connector's logins (polite.go):
		// its needs_human alert is the pause's, and the next runs are
		// held without logging in, until a person resumes it.
		{"and a login problem beside it", login, 1, []string{"needs_human"}},
		{"the login problem again: runs held", login, 4, nil},
		{"a person resumes the connector", nil, 0, []string{"resolved/needs_human"}},
		{"works again: resolved", nil, 1, []string{"resolved/connector_failing"}},
		{"outage 1 again, still the same day", outage1, 3, []string{"connector_failing"}},
	}
	seen := 0
	run := 0
	for _, st := range steps {
		if st.runs == 0 {
			if _, err := a.ResumeConnector(ctx, "flaky", "test"); err != nil {
				t.Fatal(err)
			}
			if err := a.FlushAlerts(ctx, 10*time.Second); err != nil {
				t.Fatal(err)
			}
		}
		for range st.runs {
			run++
			if st.err != nil {
				flaky.fail(st.err(run))
			} else {
				flaky.fail(nil)
			}
			res := a.PollNow(ctx, nil, "flaky")
			if (res[0].Err == nil && res[0].Held == nil) != (st.err == nil) {
				t.Fatalf("%s: run %d: err %v", st.name, run, res[0].Err)
			}
			if err := a.FlushAlerts(ctx, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			clock.Advance(10 * time.Minute)
		}
		got := hook.Alerts()
		var now []string
		for _, al := range got[seen:] {
			s := string(al.Type)
			if al.Resolves != "" {
				s += "/" + string(al.Resolves)
			}
			now = append(now, s)
		}
		seen = len(got)
		if fmt.Sprint(now) != fmt.Sprint(st.want) {
			t.Errorf("%s: alerts %v, want %v", st.name, now, st.want)
		}
	}
	if d := clock.Now().UTC(); d.Day() != 1 {
		t.Fatalf("the test left the day: %v", d)
	}
	flaky.fail(nil)
}
