package fhirpas

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/payersim/pas"
	"github.com/authpilot/authpilot/recordings"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

// TestReplayRecordedRuns records three runs of the connector against the
// PAS simulator with the real recordings store — a submit run (one case
// pended, one denied) and two poll runs that reuse the first run's access
// token — stops the simulator, and runs the same steps with a new
// connector against a replay of each recording (what `authpilot replay`
// serves): the connector makes the same observations. A replayed poll
// also answers each case with its own recorded answer when the cases come
// in the other order. No recording holds the client secret, an access
// token or the patients' PHI.
func TestReplayRecordedRuns(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC))
	sim := pas.New(pas.Options{Now: clock.Now, ClientSecret: testSecret, TokenTTL: 30 * 24 * time.Hour})
	if err := sim.SetScenario(pas.Scenario{Rules: []pas.Rule{
		{MemberID: "SHP99887766", Fate: pas.Pend, Reason: "Send PT notes", AfterInquiries: 2, Then: pas.Approve, ValidDays: 60},
		{MemberID: "SHP55500011", Fate: pas.Deny, Reason: "Fewer than 6 weeks of conservative care"},
	}}); err != nil {
		t.Fatal(err)
	}
	var tokensMu sync.Mutex
	var bearers []string // every access token the simulator was shown
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := bearer(r.Header); v != "" {
			tokensMu.Lock()
			bearers = append(bearers, v)
			tokensMu.Unlock()
		}
		sim.ServeHTTP(w, r)
	}))
	conn, _, _ := newTestConnector(t, srv.URL, clock, harnessConfig{})

	pended := testCase()
	denied := testCase()
	denied.ID = "01HZX5T0CASF"
	denied.Patient = authpilot.Patient{FirstName: "Octavia", LastName: "Brandvold", DOB: date("1958-11-03"), MemberID: "SHP55500011"}
	phi := []string{"SHP99887766", "Rosalind", "Quimby", "1961-07-14", "SHP55500011", "Octavia", "Brandvold", "1958-11-03"}

	store, err := recordings.Open(t.TempDir(), recordings.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	// run is one job of the agent: open a session with a recording, act.
	run := func(t *testing.T, conn connectors.Connector, rec connectors.Recorder, job string, cases []*authpilot.Case) outcome {
		t.Helper()
		ctx := context.Background()
		s, err := conn.Open(ctx, rec)
		if err != nil {
			t.Fatalf("%s: open: %v", job, err)
		}
		defer s.Close()
		var out outcome
		if job == "submit" {
			for _, c := range cases {
				sub, err := s.Submit(ctx, c, noCommit)
				if err != nil {
					t.Fatalf("submit %s: %v", c.ID, err)
				}
				out.subs = append(out.subs, sub)
			}
			return out
		}
		if out.obs, err = s.Poll(ctx, cases); err != nil {
			t.Fatalf("poll: %v", err)
		}
		return out
	}

	type recorded struct {
		job   string
		cases []*authpilot.Case
		live  outcome
		rec   *recordings.Recording
	}
	var runs []recorded
	record := func(job string, cases ...*authpilot.Case) outcome {
		rec := store.Start("summit-pas", job)
		out := run(t, conn, rec, job, cases)
		if err := rec.Finish(nil); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, recorded{job, cases, out, rec})
		return out
	}
	subs := record("submit", pended, denied).subs
	if subs[0].Status != authpilot.StatusPended || subs[1].Status != authpilot.StatusDenied {
		t.Fatalf("live submissions: %+v, %+v", subs[0], subs[1])
	}
	pended.Status, pended.PayerRef = subs[0].Status, subs[0].PayerRef
	clock.Advance(24 * time.Hour)
	if obs := record("poll", pended, denied).obs; obs[0].Status != authpilot.StatusPended || obs[1].Err != nil {
		t.Fatalf("live first poll: %+v", obs)
	}
	clock.Advance(48 * time.Hour)
	if obs := record("poll", pended).obs; obs[0].Status != authpilot.StatusApproved || obs[0].Determination == nil {
		t.Fatalf("live second poll: %+v", obs)
	}
	if st := sim.Stats(); st.TokensIssued != 1 {
		t.Fatalf("tokens issued = %d, want 1 (the poll runs reuse it)", st.TokensIssued)
	}
	srv.Close() // the payer is gone: what follows is served from the recordings
	calls := sim.Stats().Calls

	secrets := append([]string{testSecret, base64.StdEncoding.EncodeToString([]byte("authpilot:" + testSecret))}, bearers...)
	for i, r := range runs {
		t.Run(r.job+"-"+string(rune('1'+i)), func(t *testing.T) {
			checkRecording(t, r.rec.Dir(), append(slices.Clone(secrets), phi...))
			// As `authpilot replay DIR` loads and serves it.
			m, err := recordings.Resolve("", r.rec.Dir())
			if err != nil {
				t.Fatal(err)
			}
			rp, err := recordings.NewReplay(m, recordings.ReplayOptions{})
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			replay := httptest.NewServer(rp)
			defer replay.Close()
			rconn, _, _ := newTestConnector(t, replay.URL, clock, harnessConfig{})
			got := run(t, rconn, newRecorder(), r.job, r.cases)
			want := redactedShown(r.live)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("replayed %s differs:\n got %s\nwant %s", r.job, dump(got.subs, got.obs), dump(r.live.subs, r.live.obs))
			}
			if r.job == "poll" && len(r.cases) > 1 {
				// Another order: each case still gets its own answer.
				rp.Reset()
				rev := slices.Clone(r.cases)
				slices.Reverse(rev)
				got := run(t, rconn, newRecorder(), r.job, rev)
				slices.Reverse(got.obs)
				if !reflect.DeepEqual(got.obs, want.obs) {
					t.Errorf("replayed poll in reverse order differs:\n got %s\nwant %s", dump(nil, got.obs), dump(nil, want.obs))
				}
			}
		})
	}
	if !reflect.DeepEqual(sim.Stats().Calls, calls) {
		t.Errorf("the simulator was called during the replays: %v, then %v", calls, sim.Stats().Calls)
	}
}

// outcome is what one run of the connector observed.
type outcome struct {
	subs []*authpilot.Submission
	obs  []authpilot.Observation
}

// redactedShown is what a replay of a run gives: the same, except that the
// member ID and date of birth the payer showed were redacted in the
// recording (the agent's identity check cannot pass on a replay).
func redactedShown(o outcome) outcome {
	redact := func(id *authpilot.Identity) *authpilot.Identity {
		if id == nil {
			return nil
		}
		c := *id
		if c.MemberID != "" {
			c.MemberID = recordings.Redacted
		}
		if c.DOB != "" {
			c.DOB = recordings.Redacted
		}
		return &c
	}
	var out outcome
	for _, s := range o.subs {
		c := *s
		c.Shown = redact(s.Shown)
		out.subs = append(out.subs, &c)
	}
	for _, ob := range o.obs {
		ob.Shown = redact(ob.Shown)
		out.obs = append(out.obs, ob)
	}
	return out
}

// checkRecording fails when any file of a recording holds one of the
// values, in clear or (for network exchanges) in a decoded body.
func checkRecording(t *testing.T, dir string, values []string) {
	t.Helper()
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var network int
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		texts := []string{string(data)}
		if strings.Contains(f.Name(), "-network-") {
			network++
			ex, err := recordings.ParseExchange(data)
			if err != nil {
				t.Errorf("%s is not an exchange: %v", f.Name(), err)
				continue
			}
			texts = append(texts, string(ex.Body))
		}
		for _, text := range texts {
			for _, v := range values {
				if strings.Contains(strings.ToLower(text), strings.ToLower(v)) {
					t.Errorf("%s holds %q", f.Name(), v)
				}
			}
		}
	}
	if network == 0 {
		t.Errorf("recording %s holds no network exchange", dir)
	}
}

func dump(subs []*authpilot.Submission, obs []authpilot.Observation) string {
	var b strings.Builder
	for _, s := range subs {
		j, _ := json.Marshal(s)
		b.Write(j)
		b.WriteString("\n")
	}
	for _, o := range obs {
		j, _ := json.Marshal(o)
		fmt.Fprintf(&b, "%s err=%v\n", j, o.Err)
	}
	return b.String()
}
