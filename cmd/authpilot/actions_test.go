package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/agent/agenttest"
	"github.com/authpilot/authpilot/payersim/pas"
)

// setStatus walks a stored case through statuses, as the agent would (a
// submission, a payer's answer), so an action can follow.
func setStatus(t *testing.T, cfg, id string, det *authpilot.Determination, path ...authpilot.Status) {
	t.Helper()
	st := openTestStore(t, cfg)
	for _, s := range path {
		if _, err := st.UpdateCase(context.Background(), id, func(c *authpilot.Case) (authpilot.Changes, error) {
			c.Status = s
			if s == authpilot.StatusSubmitted || s == authpilot.StatusPended {
				c.PayerRef = "SUM-" + id[len(id)-6:]
				now := time.Now().UTC()
				c.SubmittedAt = &now
			}
			if det != nil && s == det.Status {
				c.Determination = det
			}
			return authpilot.Changes{}, nil
		}); err != nil {
			t.Fatalf("%s → %s: %v", id, s, err)
		}
	}
}

func getCase(t *testing.T, cfg, id string) *authpilot.Case {
	t.Helper()
	c, err := openTestStore(t, cfg).GetCase(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func events(t *testing.T, cfg, id string) []authpilot.Event {
	t.Helper()
	ev, err := openTestStore(t, cfg).Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestCaseAttachConfined: files given to an action verb are read as a
// case file's attachments are (readConfined): never from inside the data
// or keyring directory, only regular files; nothing is stored otherwise.
func TestCaseAttachConfined(t *testing.T) {
	dir, cfg := exampleSetup(t)
	id := addCase(t, cfg, writeFile(t, filepath.Join(dir, "case.yaml"), caseYAML("MRN-1-ORD-1", "")))
	keyringFile := writeFile(t, filepath.Join(dir, "authpilot-data", "keyring", "summit-password"), "eyJhbGciOi...")
	writeFile(t, filepath.Join(dir, "docs", "pt.pdf"), "%PDF-1.4\n")
	tests := []struct{ name, file, want string }{
		{"keyring", keyringFile, "data or keyring directory; files are never read from there"},
		{"missing", filepath.Join(dir, "nope.pdf"), "nope.pdf: no such file"},
		{"a directory", filepath.Join(dir, "docs"), "docs is not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, "", "case", "attach", "--config", cfg, id, tt.file)
			if code != 1 || !strings.Contains(errs, tt.want) {
				t.Fatalf("case attach: %d %q %q, want %q", code, out, errs, tt.want)
			}
			if c := getCase(t, cfg, id); len(c.Attachments) != 0 {
				t.Fatalf("attachments stored: %+v", c.Attachments)
			}
		})
	}
}

// TestCaseActionVerbs: each `authpilot case <action>` verb carries out its
// action through agent.Actions on a real store, with the person as the
// actor; files given as arguments are stored under their names.
func TestCaseActionVerbs(t *testing.T) {
	dir, cfg := exampleSetup(t)
	n := 0
	newCase := func(t *testing.T) string {
		t.Helper()
		n++
		return addCase(t, cfg, writeFile(t, filepath.Join(dir, fmt.Sprintf("c%d.yaml", n)), caseYAML(fmt.Sprintf("MRN-%d-ORD-1", n), "")))
	}
	pdf := func(name string) string { return writeFile(t, filepath.Join(dir, "docs", name), "%PDF-1.4 "+name+"\n") }
	day := func(d int) string { return time.Now().AddDate(0, 0, d).Format(time.DateOnly) }
	denied := &authpilot.Determination{Status: authpilot.StatusDenied, DenialReason: "Not medically necessary"}
	toDenied := []authpilot.Status{authpilot.StatusSubmitting, authpilot.StatusSubmitted, authpilot.StatusDenied}
	tests := []struct {
		verb  string
		setup func(t *testing.T, id string)
		args  func(id string) []string
		check func(t *testing.T, c *authpilot.Case)
		event authpilot.EventType
	}{
		{verb: "note", args: func(id string) []string { return []string{id, "called", "the", "payer"} },
			event: authpilot.EventNote},
		{verb: "attach", args: func(id string) []string {
			return []string{id, "--kind", "pt_notes", pdf("pt-notes.pdf"), pdf("mri-report.pdf")}
		},
			check: func(t *testing.T, c *authpilot.Case) {
				if len(c.Attachments) != 2 || c.Attachments[0].Name != "pt-notes.pdf" || c.Attachments[1].Name != "mri-report.pdf" || c.Attachments[0].Kind != "pt_notes" {
					t.Fatalf("attachments %+v", c.Attachments)
				}
			}},
		{verb: "respond",
			setup: func(t *testing.T, id string) {
				setStatus(t, cfg, id, &authpilot.Determination{Status: authpilot.StatusPended, InfoRequested: "PT notes"},
					authpilot.StatusSubmitting, authpilot.StatusPended)
			},
			args: func(id string) []string {
				return []string{id, "--via", "fax", "--sent-at", day(0), "--note", "PT notes faxed", pdf("pt-6-weeks.pdf")}
			},
			check: func(t *testing.T, c *authpilot.Case) {
				if c.Status != authpilot.StatusSubmitted || len(c.Attachments) != 1 {
					t.Fatalf("after respond: %s %+v", c.Status, c.Attachments)
				}
			}},
		{verb: "decide",
			setup: func(t *testing.T, id string) {
				setStatus(t, cfg, id, nil, authpilot.StatusSubmitting, authpilot.StatusSubmitted)
			},
			args: func(id string) []string {
				return []string{id, "--source", "phone", "--notice-date", day(0), "--status", "approved", "--auth-number", "A123456",
					"--valid-from", day(0), "--valid-to", day(90), "--line", "64483x1", pdf("letter.pdf")}
			},
			check: func(t *testing.T, c *authpilot.Case) {
				d := c.Determination
				if c.Status != authpilot.StatusApproved || d == nil || d.AuthNumber != "A123456" || len(d.Letters) != 1 ||
					!slices.Equal(d.ApprovedLines, []authpilot.ApprovedLine{{Code: "64483", Units: 1}}) {
					t.Fatalf("after decide: %s %+v", c.Status, d)
				}
			}},
		{verb: "update", args: func(id string) []string {
			return []string{id, "--service-date", day(30), "--facility-name", "Summit Surgery Center"}
		},
			check: func(t *testing.T, c *authpilot.Case) {
				if c.ServiceDate.String() != day(30) || c.Facility.Name != "Summit Surgery Center" {
					t.Fatalf("after update: %s %+v", c.ServiceDate, c.Facility)
				}
			}},
		{verb: "withdraw",
			setup: func(t *testing.T, id string) {
				setStatus(t, cfg, id, nil, authpilot.StatusSubmitting, authpilot.StatusSubmitted)
			},
			args: func(id string) []string {
				return []string{id, "--reason", "patient declined surgery", "--via", "phone"}
			},
			check: func(t *testing.T, c *authpilot.Case) {
				if c.Status != authpilot.StatusWithdrawn {
					t.Fatalf("after withdraw: %s", c.Status)
				}
			}},
		{verb: "requeue",
			setup: func(t *testing.T, id string) { setStatus(t, cfg, id, nil, authpilot.StatusRejected) },
			args:  func(id string) []string { return []string{id, "--note", "member ID corrected"} },
			check: func(t *testing.T, c *authpilot.Case) {
				if c.Status != authpilot.StatusReady {
					t.Fatalf("after requeue: %s", c.Status)
				}
			}},
		{verb: "p2p",
			setup: func(t *testing.T, id string) { setStatus(t, cfg, id, denied, toDenied...) },
			args: func(id string) []string {
				return []string{id, "--op", "schedule", "--scheduled-at", time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339),
					"--with", "Dr. Reviewer", "--phone", "800-555-0100"}
			},
			check: func(t *testing.T, c *authpilot.Case) {
				if len(c.PeerToPeers) != 1 || c.PeerToPeers[0].WithWhom != "Dr. Reviewer" {
					t.Fatalf("after p2p: %+v", c.PeerToPeers)
				}
			}},
		{verb: "appeal",
			setup: func(t *testing.T, id string) { setStatus(t, cfg, id, denied, toDenied...) },
			args: func(id string) []string {
				return []string{id, "--op", "file", "--level", "reconsideration", "--filed-at", day(0), "--method", "fax"}
			},
			check: func(t *testing.T, c *authpilot.Case) {
				if len(c.Appeals) != 1 || c.Appeals[0].Level != authpilot.AppealReconsideration {
					t.Fatalf("after appeal: %+v", c.Appeals)
				}
			}},
		{verb: "extension",
			setup: func(t *testing.T, id string) {
				setStatus(t, cfg, id, nil, authpilot.StatusSubmitting, authpilot.StatusSubmitted)
			},
			args: func(id string) []string {
				return []string{id, "--decision-due", day(20), "--reason", "awaiting records"}
			},
			check: func(t *testing.T, c *authpilot.Case) {
				if len(c.Extensions) != 1 {
					t.Fatalf("after extension: %+v", c.Extensions)
				}
			}},
		{verb: "deadline",
			setup: func(t *testing.T, id string) {
				setStatus(t, cfg, id, nil, authpilot.StatusSubmitting, authpilot.StatusSubmitted)
			},
			args: func(id string) []string { return []string{id, "--op", "acknowledge", "--kind", "decision_due"} },
			check: func(t *testing.T, c *authpilot.Case) {
				if len(c.DeadlineAcks) != 1 {
					t.Fatalf("after deadline: %+v", c.DeadlineAcks)
				}
			}},
	}
	var verbs []string
	for _, tt := range tests {
		verbs = append(verbs, tt.verb)
		t.Run(tt.verb, func(t *testing.T) {
			id := newCase(t)
			if tt.setup != nil {
				tt.setup(t, id)
			}
			before := getCase(t, cfg, id)
			code, out, errs := run(t, "", append([]string{"case", tt.verb, "--config", cfg}, tt.args(id)...)...)
			if code != 0 || !strings.HasPrefix(out, "case "+id+": "+tt.verb+" done") {
				t.Fatalf("case %s: %d %q %s", tt.verb, code, out, errs)
			}
			c := getCase(t, cfg, id)
			if c.Version <= before.Version {
				t.Fatalf("version %d → %d", before.Version, c.Version)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
			ev := events(t, cfg, id)
			last := ev[len(ev)-1]
			if !strings.HasPrefix(last.Actor, "cli") || (tt.event != "" && !slices.ContainsFunc(ev, func(e authpilot.Event) bool { return e.Type == tt.event })) {
				t.Fatalf("events %+v", ev)
			}
		})
	}
	if !slices.Equal(verbs, actionNames()) || !slices.Equal(verbs, agent.ActionNames) {
		t.Fatalf("tested %v, the CLI has %v, agent.Actions has %v", verbs, actionNames(), agent.ActionNames)
	}
}

func actionNames() []string {
	var out []string
	for _, v := range actionVerbs {
		out = append(out, v.name)
	}
	return out
}

// TestCaseActionErrorsAndInput: a broken rule names the field and the
// rule and changes nothing; a stale --if-match is refused; --json takes
// the whole input from a file or stdin, flags over it; every action has
// a verb, and each verb's -h explains it.
func TestCaseActionErrorsAndInput(t *testing.T) {
	dir, cfg := exampleSetup(t)
	id := addCase(t, cfg, writeFile(t, filepath.Join(dir, "c.yaml"), caseYAML("MRN-5-ORD-1", "")))
	setStatus(t, cfg, id, nil, authpilot.StatusSubmitting, authpilot.StatusSubmitted)
	v := getCase(t, cfg, id).Version

	code, _, errs := run(t, "", "case", "decide", "--config", cfg, id, "--source", "pigeon", "--status", "approved")
	if code != 1 || !strings.Contains(errs, "nothing changed") || !strings.Contains(errs, "source: is required (one of portal, api, fax, phone, mail)") {
		t.Fatalf("bad source: %d %s", code, errs)
	}
	code, _, errs = run(t, "", "case", "decide", "--config", cfg, id, "--line", "22612xx")
	if code != 2 || !strings.Contains(errs, "--line") {
		t.Fatalf("bad line: %d %s", code, errs)
	}
	code, _, errs = run(t, "", "case", "note", "--config", cfg, "--if-match", fmt.Sprint(v-1), id, "late")
	if code != 1 || !strings.Contains(errs, fmt.Sprintf("is at version %d, not %d", v, v-1)) {
		t.Fatalf("stale if-match: %d %s", code, errs)
	}
	if got := getCase(t, cfg, id).Version; got != v {
		t.Fatalf("a refused action changed the case: version %d → %d", v, got)
	}

	in := writeFile(t, filepath.Join(dir, "ext.json"), `{"decision_due": "`+time.Now().AddDate(0, 0, 20).Format(time.DateOnly)+`", "reason": "from the file"}`)
	code, out, errs := run(t, "", "case", "extension", "--config", cfg, "--if-match", fmt.Sprint(v), "--json", in, "--reason", "from the flag", id)
	if code != 0 {
		t.Fatalf("--json file: %d %s %s", code, out, errs)
	}
	if c := getCase(t, cfg, id); len(c.Extensions) != 1 || c.Extensions[0].Reason != "from the flag" {
		t.Fatalf("extension %+v", c.Extensions)
	}
	code, out, errs = run(t, `{"text": "from stdin"}`, "case", "note", "--config", cfg, "--json", "-", "MRN-5-ORD-1")
	if code != 0 {
		t.Fatalf("--json -: %d %s %s", code, out, errs)
	}
	if ev := events(t, cfg, id); ev[len(ev)-1].Type != authpilot.EventNote || !strings.Contains(string(ev[len(ev)-1].Detail)+ev[len(ev)-1].RawText, "from stdin") {
		t.Fatalf("note event %+v", ev[len(ev)-1])
	}
	for _, v := range actionVerbs {
		code, out, errs := run(t, "", "case", v.name, "-h")
		if code != 0 || !strings.Contains(errs, "Usage: authpilot case "+v.name) || !strings.Contains(errs, "-if-match") || !strings.Contains(errs, "-json") {
			t.Fatalf("case %s -h: %d %s %s", v.name, code, out, errs)
		}
	}
}

// TestCaseRespondThroughConnector: `case respond --via api` sends the
// response through the case's connector from the CLI process — here a
// PAS Claim Update to the PAS simulator on loopback, which receives the
// file by its name — and waits for the send before it answers.
func TestCaseRespondThroughConnector(t *testing.T) {
	sim, srv := agenttest.StartPAS(t,
		pas.Rule{MemberID: "KPPPEND0001", Fate: pas.Pend, Reason: "Attach the EMG report.", AwaitUpdate: true, Then: pas.Approve, ValidDays: 90},
		pas.Rule{MemberID: "KPPPEND0002", Fate: pas.Pend, Reason: "Attach the MRI report.", AwaitUpdate: true},
	)
	dir := t.TempDir()
	t.Setenv("AUTHPILOT_TEST_KEYRING", "correct horse battery staple")
	cfg := writeFile(t, filepath.Join(dir, "authpilot.yaml"), fmt.Sprintf(`
practice: {name: Test Spine, timezone: America/New_York}
data_dir: %s/data
keyring: {backend: file, file_dir: %[1]s/keyring, passphrase_env: AUTHPILOT_TEST_KEYRING}
schedules: {deadlines: "", digest: ""}
`, dir)+agenttest.KeystonePAS(srv.URL, "{retries: 0}"))
	if code, out, errs := run(t, pas.DefaultClientSecret, "secrets", "set", "pas-secret", "--config", cfg); code != 0 {
		t.Fatalf("secrets set: %d %s %s", code, out, errs)
	}
	pasCase := func(ref, member string) string {
		return addCase(t, cfg, writeFile(t, filepath.Join(dir, ref+".yaml"), fmt.Sprintf(`external_ref: %s
patient: {first_name: Ola, last_name: Berg, dob: 1966-03-30, member_id: %s}
payer: keystone-ppo
track: surgery
ordering_provider: {npi: "1245319599"}
service_lines: [{code: "22551", units: 1}]
diagnoses: [M50.121]
service_date: %s
`, ref, member, time.Now().AddDate(0, 1, 0).Format(time.DateOnly))))
	}
	id := pasCase("MRN-7-ORD-1", "KPPPEND0001")
	other := pasCase("MRN-8-ORD-1", "KPPPEND0002")
	if code, out, errs := run(t, "", "submit", "--now", "--config", cfg); code != 0 {
		t.Fatalf("submit --now: %d %s %s", code, out, errs)
	}
	if c := getCase(t, cfg, id); c.Status != authpilot.StatusPended {
		t.Fatalf("after submit: %s", c.Status)
	}
	emg := writeFile(t, filepath.Join(dir, "emg-report.pdf"), "%PDF-1.4 EMG\n")
	code, out, errs := run(t, "", "case", "respond", "--config", cfg, "MRN-7-ORD-1", "--via", "api", "--note", "EMG attached", emg)
	if code != 0 || !strings.Contains(out, "respond done") {
		t.Fatalf("case respond: %d %s %s", code, out, errs)
	}
	reqs := sim.Requests()
	if len(reqs) != 2 || reqs[0].MemberID != "KPPPEND0001" || len(reqs[0].Updates) != 1 || len(reqs[1].Updates) != 0 || len(reqs[0].Updates[0].Attachments) != 1 ||
		reqs[0].Updates[0].Attachments[0].Title != "emg-report.pdf" {
		t.Fatalf("the simulator received %+v", reqs)
	}
	c := getCase(t, cfg, id)
	ir := c.OpenInfoRequest()
	if len(c.InfoRequests) != 1 || c.InfoRequests[0].Response == nil || c.InfoRequests[0].Response.State != authpilot.SendSent || ir != nil {
		t.Fatalf("after respond: %s %+v", c.Status, c.InfoRequests)
	}

	// The PAS connector cannot withdraw: the field and the rule say so.
	code, _, errs = run(t, "", "case", "withdraw", "--config", cfg, id, "--via", "api", "--reason", "surgery cancelled")
	if code != 1 || !strings.Contains(errs, "via: api goes through the connector, which cannot do this") {
		t.Fatalf("withdraw via PAS: %d %s", code, errs)
	}
	// A payer that cannot be reached: the send fails, and the command says so.
	srv.Close()
	code, _, errs = run(t, "", "case", "respond", "--config", cfg, other, "--via", "api", "--note", "MRI attached", emg)
	if code != 1 || !strings.Contains(errs, "the connector could not send it") {
		t.Fatalf("respond to an unreachable payer: %d %s", code, errs)
	}
	if c := getCase(t, cfg, other); c.InfoRequests[len(c.InfoRequests)-1].Response.State != authpilot.SendFailed {
		t.Fatalf("after a failed send: %+v", c.InfoRequests)
	}
}
