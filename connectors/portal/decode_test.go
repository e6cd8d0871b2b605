package portal

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/notify/notifytest"
)

// decodeErrs decodes text and formats every error as "line N: path: msg".
func decodeErrs(t testing.TB, text string) string {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	_, err := Decode(&n)
	if err == nil {
		return ""
	}
	var fe connectors.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not FieldErrors", err)
	}
	var lines []string
	for _, e := range fe {
		lines = append(lines, fmt.Sprintf("line %d: %v", e.Line, e))
	}
	return strings.Join(lines, "\n")
}

const okHead = "base_url: http://127.0.0.1:8701"

// TestFailClassesAreErrorClasses: a flow's fail field takes the names the
// agent's authpilot.ErrorClass gives, each to the class that names it
// back: one table, not a portal copy of it.
func TestFailClassesAreErrorClasses(t *testing.T) {
	for _, name := range authpilot.ErrorClassNames() {
		t.Run(name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(okHead+"\ninterrupts:\n  banner: {selector: \".err\", fail: "+name+"}\n"), &n); err != nil {
				t.Fatal(err)
			}
			o, err := Decode(&n)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			a := o.(*Options).Interrupts[0]
			if got := authpilot.ErrorClass(&authpilot.Error{Class: a.Fail}); got != name {
				t.Errorf("fail: %s is class %q", name, got)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"missing options", ``, `line 0: portal options are missing (base_url, login, ...)`},
		{"unknown top-level field", okHead + "\nlogn:\n  steps: []\n",
			`line 2: unknown key "logn" (did you mean "login"?)`},
		{"base_url relative", "base_url: /login\n",
			`line 1: base_url: expected an absolute http or https URL, got "/login"`},
		{"base_url missing", "limits: {pages: 2}\n",
			`line 1: missing required key "base_url"`},
		{"unknown time zone", okHead + "\ntimezone: America/New_Yrok\n",
			`line 2: timezone: unknown time zone "America/New_Yrok" (use an IANA name such as America/New_York)`},
		{"time zone not a name", okHead + "\ntimezone: [UTC]\n",
			`line 2: timezone: expected a string, got a list`},
		{"time zone misspelt", okHead + "\ntime_zone: UTC\n",
			`line 2: unknown key "time_zone" (did you mean "timezone"?)`},
		{"unknown step", okHead + `
poll:
  lookup:
    steps:
      - goto: /status
      - extract: {selector: "#s", into: status}
      - wait_for: "#s"
      - clik: "#next"
status_map: {"^Approved$": approved}
`, `line 8: poll.lookup.steps[3]: unknown step "clik" (did you mean "click"?)`},
		{"fetch with a step that needs a tab", okHead + `
poll:
  fetch: true
  lookup:
    steps:
      - goto: /status
      - fill: {selector: "#q", value: x}
      - click: "#search"
      - extract: {selector: "#s", into: status}
status_map: {"^Approved$": approved}
`, `line 7: poll.lookup.steps[1]: poll.fetch reads pages without a browser tab and a fill step needs one: remove poll.fetch or this step
line 8: poll.lookup.steps[2]: poll.fetch reads pages without a browser tab and a click that is not navigate: or download: needs one: remove poll.fetch or this step`},
		{"page_url without page_count", okHead + `
poll:
  list:
    goto: /list
    rows: tr
    key: td.ref
    fields: {status: td.status}
    page_url: "/list?page={{.Page}}"
status_map: {"^Approved$": approved}
`, `line 4: poll.list: page_url and page_count go together: page_url opens page {{.Page}}, page_count reads how many pages the first page says there are`},
		{"fill without selector", okHead + `
login:
  steps:
    - fill: {value: x}
`, `line 4: login.steps[0]: fill: missing required key "selector"`},
		{"unknown field of a step body", okHead + `
login:
  steps:
    - fill: {selecter: "#u", value: x}
`, `line 4: login.steps[0]: fill: unknown key "selecter" (did you mean "selector"?)
line 4: login.steps[0]: fill: missing required key "selector"`},
		{"unknown modifier", okHead + `
login:
  steps:
    - click: "#go"
      optinal: true
`, `line 5: login.steps[0]: unknown key "optinal" (did you mean "optional"?)`},
		{"two kinds in one step", okHead + `
login:
  steps:
    - click: "#go"
      goto: /x
`, `line 5: login.steps[0]: a step has one kind: "click" and "goto" given (make them two steps)`},
		{"no kind", okHead + `
login:
  steps:
    - optional: true
`, `line 4: login.steps[0]: missing step kind (one of ask, call, check, click, each, expect, extract, fill, goto, screenshot, select, totp, upload, wait_for)`},
		{"step is a scalar", okHead + `
login:
  steps:
    - click
`, `line 4: login.steps[0]: a step must be a mapping such as {click: "#next"}, got "click"`},
		{"steps not a list", okHead + `
login:
  steps: {click: "#go"}
`, `line 3: login.steps: expected a list, got a mapping`},
		{"bad status regex", okHead + `
status_map:
  "Approved(": approved
`, "line 3: status_map[\"Approved(\"]: invalid regular expression: missing closing ): `Approved(`"},
		{"unknown status", okHead + `
status_map:
  "^Approved$": aproved
`, `line 3: status_map["^Approved$"]: unknown status "aproved" (did you mean "approved"?) (one of submitted, pended, approved, partially_approved, modified, denied, not_required, contact_payer, cancelled, expired, withdrawn)`},
		{"status a payer cannot report", okHead + `
status_map:
  "^Draft$": draft
`, `line 3: status_map["^Draft$"]: unknown status "draft" (one of submitted, pended, approved, partially_approved, modified, denied, not_required, contact_payer, cancelled, expired, withdrawn)`},
		{"template parse error", okHead + `
login:
  steps:
    - fill: {selector: "#u", value: "{{.Case.Patient.MemberID"}
`, `line 4: login.steps[0]: fill: value: invalid template: at 1: unclosed action`},
		{"unknown case field", okHead + `
login:
  steps:
    - fill: {selector: "#u", value: "{{.Case.Patient.MemberId}}"}
`, `line 4: login.steps[0]: fill: value: unknown field "MemberId" in .Case.Patient (did you mean "MemberID"?)`},
		{"secret not declared", okHead + `
secrets: {password: portal-password}
login:
  steps:
    - fill: {selector: "#p", value: '{{secret "pasword"}}'}
`, `line 5: login.steps[0]: fill: value: secret "pasword" is not in the secrets section (did you mean "password"?)`},
		{"secret without a literal", okHead + `
login:
  steps:
    - fill: {selector: "#p", value: '{{secret .Case.ID}}'}
`, `line 4: login.steps[0]: fill: value: secret takes one quoted role name, such as {{secret "password"}}`},
		{"variable never extracted", okHead + `
login:
  steps:
    - goto: "/x/{{.Vars.ref}}"
`, `line 4: login.steps[0]: goto: url: .Vars.ref is never extracted (no extract step or list field has into: ref)`},
		{"line outside each", okHead + `
login:
  steps:
    - fill: {selector: "#c", value: "{{.Line.Code}}"}
`, `line 4: login.steps[0]: fill: value: .Line is only set inside an each step`},
		{"templated selector outside each", okHead + `
login:
  steps:
    - fill: {selector: "#c-{{.Number}}", value: "{{.Item}}"}
`, `line 4: login.steps[0]: fill: value: .Item is only set inside an each step`},
		{"unknown flow", okHead + `
flows:
  accept_terms: [{click: "#ok"}]
login:
  steps:
    - call: accept_term
`, `line 6: login.steps[0]: call: unknown flow "accept_term" (did you mean "accept_terms"?)`},
		{"call cycle", okHead + `
flows:
  a: [{call: b}]
  b: [{call: a}]
`, `line 3: flows.a: call cycle: a -> b -> a`},
		{"totp role not declared", okHead + `
secrets: {password: p}
login:
  steps:
    - totp: {selector: "#otp", secret: otp}
`, `line 5: login.steps[0]: totp: secret: "otp" is not in the secrets section`},
		{"submit reads no reference", okHead + `
submit:
  steps: [{goto: /new}]
  final: {click: "#submit"}
`, `line 2: submit: no step extracts into payer_ref (the payer's reference or tracking number)`},
		{"submit without final", okHead + `
submit:
  steps: [{goto: /new}]
`, `line 3: submit: missing required key "final"`},
		{"fail and then together", okHead + `
login:
  steps:
    - expect:
        error: {selector: ".err", fail: auth, then: [{click: "#x"}]}
`, `line 5: login.steps[0].expect.error: expect: fail and then cannot be combined`},
		{"unknown fail class", okHead + `
login:
  steps:
    - expect:
        error: {selector: ".err", fail: auht}
`, `line 5: login.steps[0].expect.error: expect: unknown fail class "auht" (did you mean "auth"?) (one of auth, needs_human, not_found, portal_changed, rejected, retryable, unsupported)`},
		{"alternative without matcher", okHead + `
login:
  steps:
    - expect:
        error: {fail: auth}
`, `line 5: login.steps[0].expect.error: expect: needs at least one of selector, text or url`},
		{"ask without question", okHead + `
login:
  steps:
    - ask: {selector: "#code"}
`, `line 4: login.steps[0]: ask: missing required key "question"`},
		{"ask with a misspelt key", okHead + `
login:
  steps:
    - ask: {selector: "#code", question: "the texted code", timout: 5m}
`, `line 4: login.steps[0]: ask: unknown key "timout" (did you mean "timeout"?)`},
		{"ask with a bad timeout", okHead + `
login:
  steps:
    - ask: {selector: "#code", question: "the texted code", timeout: 10}
`, `line 4: login.steps[0]: ask: timeout: expected a positive duration such as 20s or 3m, got "10"`},
		{"unknown hand_off", okHead + `
interrupts:
  captcha: {selector: "#captcha", fail: needs_human, hand_off: captca}
`, `line 3: interrupts.captcha: unknown hand_off "captca" (did you mean "captcha"?) (one of captcha, unexpected_page)`},
		{"hand_off without fail", okHead + `
login:
  steps:
    - expect:
        odd: {selector: "#odd", hand_off: unexpected_page, then: [{click: "#x"}]}
`, `line 5: login.steps[0].expect.odd: expect: hand_off needs fail: the outcome when nobody takes the page in time`},
		{"hand_off with a misspelt key", okHead + `
hand_off: {unexpected_pages: true}
`, `line 2: hand_off: unknown key "unexpected_pages" (did you mean "unexpected_page"?)`},
		{"bad hand_off_timeout", okHead + `
limits: {hand_off_timeout: soon}
`, `line 2: limits: hand_off_timeout: expected a positive duration such as 20s or 3m, got "soon"`},
		{"interrupt without outcome", okHead + `
interrupts:
  captcha: {text: "human"}
`, `line 3: interrupts.captcha: an interrupt needs fail or relogin: true`},
		{"interrupt with then", okHead + `
interrupts:
  popup: {selector: "#survey", then: [{click: "#close"}]}
`, `line 3: interrupts.popup: unknown key "then"`},
		{"bad duration", okHead + `
limits: {step_timeout: 20}
`, `line 2: limits: step_timeout: expected a positive duration such as 20s or 3m, got "20"`},
		{"pages out of range", okHead + `
limits: {pages: 0}
`, `line 2: limits: pages: must be between 1 and 16, got 0`},
		{"select value and label", okHead + `
login:
  steps:
    - select: {selector: "#s", value: a, label: A}
`, `line 4: login.steps[0]: select: needs exactly one of value or label`},
		{"empty poll", okHead + `
poll: {}
`, `line 2: poll: needs a list, a detail or a lookup flow`},
		{"poll reads no status", okHead + `
poll:
  lookup: [{goto: /s}]
`, `line 2: poll: nothing extracts into status (a list field or an extract step)`},
		{"status without status_map", okHead + `
poll:
  lookup: [{goto: /s}, {extract: {selector: "#s", into: status}}]
`, `line 1: status_map: status is extracted but status_map is empty: map the payer's wording to statuses`},
		{"list without key", okHead + `
status_map: {"^A$": approved}
poll:
  list: {goto: /list, rows: tr, fields: {status: td}}
`, `line 4: poll.list: missing required key "key"`},
		{"each over unknown list", okHead + `
login:
  steps:
    - each: {over: service_line, steps: [{click: "#x"}]}
`, `line 4: login.steps[0]: each: over: unknown list "service_line" (did you mean "service_lines"?) (one of service_lines, attachments, diagnoses)`},
		{"nested each", okHead + `
login:
  steps:
    - each:
        over: service_lines
        steps:
          - each: {over: diagnoses, steps: [{click: "#x"}]}
`, `line 7: login.steps[0].each.steps[0]: each: cannot be nested in another each`},
		{"extract without into", okHead + `
login:
  steps:
    - extract: {selector: "#ref"}
`, `line 4: login.steps[0]: extract: missing required key "into"`},
		{"extract fields with into", okHead + `
login:
  steps:
    - extract: {fields: {a: "#a"}, into: b}
`, `line 4: login.steps[0]: extract: into is for one value or rows: with fields, each field is its own variable`},
		{"download without a download click", okHead + `
download:
  steps: [{click: "#letter"}]
`, `line 2: download: no click step has download: (the document kind, e.g. letter)`},
		{"navigate and download", okHead + `
login:
  steps:
    - click: {selector: "#a", navigate: true, download: letter}
`, `line 4: login.steps[0]: click: navigate and download cannot be combined`},
		{"upload of unknown files", okHead + `
login:
  steps:
    - upload: {selector: "#f", files: documents}
`, `line 4: login.steps[0]: upload: files: expected "attachments", "response" or a list of file paths, got "documents"`},
		{"duplicate key", okHead + `
login:
  steps:
    - fill: {selector: "#a", selector: "#b", value: x}
`, `line 4: login.steps[0]: fill: duplicate key "selector" (first at line 4)`},
		{"boolean expected", okHead + `
session: {keep_cookies: sometimes}
`, `line 2: session: keep_cookies: expected true or false, got "sometimes"`},
		{"merged keys are checked too", okHead + `
limits:
  <<: {pages: 2, pagez: 1}
`, `line 3: limits: unknown key "pagez" (did you mean "pages"?)`},
		{"recursive alias", okHead + `
flows:
  a: &loop
    - expect: {x: {selector: "#x", then: *loop}}
`, `line 4: flows.a.steps[0].expect.x.then[0].expect.x.then: recursive alias *loop`},
		{"find without identity", okHead + `
find:
  steps:
    - goto: /list
    - extract: {selector: "td.ref", into: payer_ref}
`, `line 2: find: declare identity: the fields the portal shows that identify a request (member_id, dob, codes, service_date), so a request found is checked against the case`},
		{"identity field misspelt", okHead + `
identity: [member_id, servicedate, member_id]
`, `line 2: identity[1]: unknown identity field "servicedate" (did you mean "service_date"?) (one of member_id, dob, codes, service_date)
line 2: identity[2]: "member_id" is listed twice`},
		{"identity not a list", okHead + `
identity: member_id
`, `line 2: identity: expected a list, got "member_id"`},
		{"identity empty", okHead + `
identity: []
`, `line 2: identity: list at least one field the portal shows (member_id, dob, codes, service_date)`},
		{"declared identity not extracted", okHead + `
identity: [member_id, service_date]
status_map: {"^Approved$": approved}
poll:
  lookup:
    steps:
      - goto: /status
      - extract: {fields: {status: "#s", member_id: "#m"}}
find:
  steps:
    - goto: /list
    - extract:
        rows: tr
        fields: {payer_ref: td.ref, service_date: td.date, submitted_at: td.sub}
        into: requests
`, `line 2: identity: field "service_date" is declared but poll.lookup extracts nothing into it
line 9: find: identity field "member_id" is declared but no step extracts it`},
		{"respond: misspelt key and step, unknown upload source", okHead + `
identity: [member_id]
respond:
  stpes:
    - goto: /auth
  final:
    clik: "#send"
  result:
    - upload: {selector: "#f", files: responses}
`, `line 4: respond: unknown key "stpes" (did you mean "steps"?)
line 7: respond.final: unknown step "clik" (did you mean "click"?)
line 9: respond.result[0]: upload: files: expected "attachments", "response" or a list of file paths, got "responses" (did you mean "response"?)`},
		{"respond without final", okHead + `
identity: [member_id]
respond:
  steps:
    - goto: /auth
`, `line 4: respond: missing required key "final"`},
		{"respond without identity", okHead + `
respond:
  steps:
    - goto: /auth
  final: {click: "#send"}
`, `line 2: respond: declare identity: the fields the portal shows that identify a request (member_id, dob, codes, service_date), so the request is checked against the case before anything is sent`},
		{"withdraw reads identity only after final", okHead + `
identity: [member_id, service_date]
withdraw:
  steps:
    - goto: /auth
    - extract: {selector: "#m", into: member_id}
  final: {click: "#withdraw"}
  result:
    - extract: {selector: "#d", into: service_date}
`, `line 3: withdraw.steps: identity field "service_date" is declared but no step before final extracts it: the request must be checked against the case before anything is sent`},
		{"response files outside respond", okHead + `
identity: [member_id]
submit:
  steps:
    - upload: {selector: "#f", files: response}
  final: {click: "#go"}
  result:
    - extract: {selector: "#r", into: payer_ref}
`, `line 5: submit.steps[0]: upload: files: response is only set in the respond flow`},
		{"respond note misspelt", okHead + `
identity: [member_id]
respond:
  steps:
    - extract: {selector: "#m", into: member_id}
    - fill: {selector: "#n", value: "{{.Response.Notes}}"}
  final: {click: "#go"}
`, `line 6: respond.steps[1]: fill: value: unknown field "Notes" in .Response (did you mean "Note"?)`},
		{"several errors at once", okHead + `
limits: {pages: 99, step_timeout: soon}
login:
  steps:
    - clik: "#go"
`, `line 2: limits: pages: must be between 1 and 16, got 99
line 2: limits: step_timeout: expected a positive duration such as 20s or 3m, got "soon"
line 5: login.steps[0]: unknown step "clik" (did you mean "click"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decodeErrs(t, tt.yaml); got != tt.want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestDecodeIdentityWarnings(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"poll without identity", okHead + `
status_map: {"^Approved$": approved}
poll:
  lookup:
    steps:
      - extract: {selector: "#s", into: status}
`, `line 3: poll: no identity declared: detail pages are not checked against their case, and a tracked case stops with needs_human on its first poll`},
		{"find without submitted_at", okHead + `
identity: [member_id]
find:
  steps:
    - extract: {fields: {payer_ref: "#r", member_id: "#m"}}
`, `line 3: find: nothing extracts submitted_at: a request made before the submission intent cannot be told from a new one by its date`},
		{"complete", okHead + `
identity: [member_id]
find:
  steps:
    - extract: {fields: {payer_ref: "#r", member_id: "#m", submitted_at: "#t"}}
`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := decodeYAML(t, tt.yaml)
			var lines []string
			for _, w := range o.Warnings() {
				lines = append(lines, fmt.Sprintf("line %d: %v", w.Line, w))
			}
			if got := strings.Join(lines, "\n"); got != tt.want {
				t.Errorf("warnings:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestDecodeSampleAndExamples(t *testing.T) {
	files := map[string][]byte{"sample.yaml": Sample}
	paths, err := filepath.Glob("../../examples/connectors/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = b
	}
	if len(files) < 3 {
		t.Fatalf("found %d configs, want the sample and the two examples", len(files))
	}
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			// Through the registry, as the config loader does.
			k, ok := connectors.Lookup("portal")
			if !ok {
				t.Fatal("kind portal is not registered")
			}
			var n yaml.Node
			if err := yaml.Unmarshal(b, &n); err != nil {
				t.Fatal(err)
			}
			opts, err := k.Decode(&n)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			o := opts.(*Options)
			if o.Login == nil || o.Poll == nil {
				t.Errorf("login or poll missing")
			}
			c, err := o.New(connectors.Env{ID: name, Secrets: notifytest.Secrets{}})
			if err != nil {
				t.Fatal(err)
			}
			if caps := c.Capabilities(); !caps.Poll || !caps.Submit {
				t.Errorf("capabilities %+v", caps)
			}
			if len(o.Identity) == 0 || len(o.Warnings()) > 0 {
				t.Errorf("identity %v, warnings %v: the examples declare and read what identifies a request", o.Identity, o.Warnings())
			}
		})
	}
	// The sample uses every step kind.
	o := decodeYAML(t, string(Sample))
	used := map[string]bool{}
	for _, f := range o.allFlows() {
		walkSteps(f.Steps, func(st *Step) { used[st.Kind] = true })
	}
	for _, k := range stepKindNames() {
		if !used[k] {
			t.Errorf("sample.yaml does not use step kind %q", k)
		}
	}
}

func TestStatusMapAndDates(t *testing.T) {
	o := decodeYAML(t, okHead+`
status_map:
  "^Approved$": approved
  "Pending.*Additional Information": pended
  "(?i)in review": submitted
`)
	tests := []struct {
		text string
		want authpilot.Status
		ok   bool
	}{
		{"Approved", authpilot.StatusApproved, true},
		{"  Approved \n", authpilot.StatusApproved, true},
		{"Approved - Modified", "", false},
		{"Pending - Additional   Information Requested", authpilot.StatusPended, true},
		{"IN REVIEW", authpilot.StatusSubmitted, true},
		{"", "", false},
		{"Denied", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, ok := o.mapStatus(tt.text)
			if got != tt.want || ok != tt.ok {
				t.Errorf("mapStatus(%q) = %q, %v; want %q, %v", tt.text, got, ok, tt.want, tt.ok)
			}
		})
	}
	dates := []struct {
		in   string
		want authpilot.Date
		ok   bool
	}{
		{"2026-05-30", authpilot.Date{Year: 2026, Month: 5, Day: 30}, true},
		{"05/30/2026", authpilot.Date{Year: 2026, Month: 5, Day: 30}, true},
		{"5/3/2026", authpilot.Date{Year: 2026, Month: 5, Day: 3}, true},
		{"May 30, 2026", authpilot.Date{Year: 2026, Month: 5, Day: 30}, true},
		{"January 2, 2026", authpilot.Date{Year: 2026, Month: 1, Day: 2}, true},
		{"30.05.2026", authpilot.Date{}, false},
	}
	for _, tt := range dates {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDate(tt.in)
			if got != tt.want || (err == nil) != tt.ok {
				t.Errorf("ParseDate(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
	tm, _, err := ParseTime("03/02/2026 09:30 AM", nil)
	if err != nil || !tm.Equal(timeUTC(2026, 3, 2, 9, 30)) {
		t.Errorf("ParseTime = %v, %v", tm, err)
	}
}

// TestParseTimeInThePortalsZone: a portal's wall-clock times are read in
// the practice's (or the flow's) zone, across DST changes; a date alone is
// that day's midnight there; an explicit offset is kept.
func TestParseTimeInThePortalsZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in       string
		loc      *time.Location
		wantUTC  time.Time
		dateOnly bool
	}{
		// The report: "12/01/2026 02:15 PM" is 2:15 PM in New York (EST).
		{"12/01/2026 02:15 PM", ny, timeUTC(2026, 12, 1, 19, 15), false},
		{"12/1/2026 2:15 pm", ny, timeUTC(2026, 12, 1, 19, 15), false},
		{"12/01/2026 2:15p.m.", ny, timeUTC(2026, 12, 1, 19, 15), false},
		{"12/01/2026 14:15", ny, timeUTC(2026, 12, 1, 19, 15), false},
		{"2026-12-01 14:15", ny, timeUTC(2026, 12, 1, 19, 15), false},
		{"2026-12-01 14:15:00", ny, timeUTC(2026, 12, 1, 19, 15), false},
		{"2026-12-01 2:15 PM", ny, timeUTC(2026, 12, 1, 19, 15), false},
		{"Dec 1, 2026 2:15 PM", ny, timeUTC(2026, 12, 1, 19, 15), false},
		{"Dec 1, 2026, 2:15 PM", ny, timeUTC(2026, 12, 1, 19, 15), false},
		{"December 1, 2026 at 2:15 PM", ny, timeUTC(2026, 12, 1, 19, 15), false},
		// Summer: EDT, four hours behind.
		{"07/04/2026 09:00 AM", ny, timeUTC(2026, 7, 4, 13, 0), false},
		// Spring forward, 2026-03-08: 01:59 EST, 02:30 does not exist
		// (moved on by the gap to 03:30 EDT), 03:00 EDT.
		{"03/08/2026 01:59 AM", ny, timeUTC(2026, 3, 8, 6, 59), false},
		{"03/08/2026 02:30 AM", ny, timeUTC(2026, 3, 8, 7, 30), false},
		{"03/08/2026 03:00 AM", ny, timeUTC(2026, 3, 8, 7, 0), false},
		// Fall back, 2026-11-01: 01:30 happens twice (the first, EDT, is
		// taken); 02:30 is EST.
		{"11/01/2026 12:59 AM", ny, timeUTC(2026, 11, 1, 4, 59), false},
		{"11/01/2026 01:30 AM", ny, timeUTC(2026, 11, 1, 5, 30), false},
		{"11/01/2026 02:30 AM", ny, timeUTC(2026, 11, 1, 7, 30), false},
		// A date alone is midnight of that day in the zone, never the
		// evening before.
		{"12/01/2026", ny, timeUTC(2026, 12, 1, 5, 0), true},
		{"2026-07-04", ny, timeUTC(2026, 7, 4, 4, 0), true},
		{"Dec 1, 2026", ny, timeUTC(2026, 12, 1, 5, 0), true},
		// An explicit offset wins over the zone.
		{"2026-12-01T23:30:00-05:00", time.UTC, timeUTC(2026, 12, 2, 4, 30), false},
		{"2026-12-01T14:15:00Z", ny, timeUTC(2026, 12, 1, 14, 15), false},
		{"2026-12-01T14:15:00-08:00", ny, timeUTC(2026, 12, 1, 22, 15), false},
		// No zone at all is UTC.
		{"12/01/2026 02:15 PM", nil, timeUTC(2026, 12, 1, 14, 15), false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, dateOnly, err := ParseTime(tt.in, tt.loc)
			if err != nil {
				t.Fatalf("ParseTime(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.wantUTC) || dateOnly != tt.dateOnly {
				t.Errorf("ParseTime(%q) = %v (date only %v), want %v (date only %v)", tt.in, got.UTC(), dateOnly, tt.wantUTC, tt.dateOnly)
			}
			if tt.dateOnly {
				want, _ := ParseDate(tt.in)
				if d := authpilot.DateOf(got.In(tt.loc)); d != want {
					t.Errorf("date %s in the zone, want %s", d, want)
				}
			}
		})
	}
	for _, bad := range []string{"13/45/2026 10:00 AM", "12/01/2026 25:00", "tomorrow", "12/01/2026 02:15 XM"} {
		if got, _, err := ParseTime(bad, ny); err == nil {
			t.Errorf("ParseTime(%q) = %v, want an error", bad, got)
		}
	}
}

// TestOutcomeDatesInTheZone: decided_at is read in the flow's timezone when
// it has one, else the practice's; a decision date alone is the notice
// date and does not move a day.
func TestOutcomeDatesInTheZone(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	practice := decodeYAML(t, okHead+"\n"+`status_map: {"^Denied$": denied}`)
	practice.practiceZone = ny
	flowTZ := decodeYAML(t, okHead+"\ntimezone: America/Los_Angeles\n"+`status_map: {"^Denied$": denied}`)
	flowTZ.practiceZone = ny
	tests := []struct {
		name       string
		o          *Options
		vars       map[string]any
		wantAt     time.Time
		wantNotice authpilot.Date
	}{
		{"practice zone", practice, map[string]any{"status": "Denied", "decided_at": "12/01/2026 02:15 PM"},
			timeUTC(2026, 12, 1, 19, 15), authpilot.NewDate(2026, 12, 1)},
		{"late evening stays that day", practice, map[string]any{"status": "Denied", "decided_at": "12/01/2026 11:30 PM"},
			timeUTC(2026, 12, 2, 4, 30), authpilot.NewDate(2026, 12, 1)},
		{"date alone", practice, map[string]any{"status": "Denied", "decided_at": "12/01/2026"},
			timeUTC(2026, 12, 1, 5, 0), authpilot.NewDate(2026, 12, 1)},
		{"the flow's timezone overrides the practice's", flowTZ, map[string]any{"status": "Denied", "decided_at": "12/01/2026 02:15 PM"},
			timeUTC(2026, 12, 1, 22, 15), authpilot.NewDate(2026, 12, 1)},
		{"a notice date shown is kept", practice, map[string]any{"status": "Denied", "decided_at": "12/01/2026 02:15 PM", "notice_date": "12/03/2026"},
			timeUTC(2026, 12, 1, 19, 15), authpilot.NewDate(2026, 12, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.o.outcomeOf(nil, tt.vars, "poll.detail")
			if err != nil {
				t.Fatal(err)
			}
			d := out.det
			if d == nil || d.DecidedAt == nil {
				t.Fatalf("determination %+v", d)
			}
			if !d.DecidedAt.Equal(tt.wantAt) || d.NoticeDate != tt.wantNotice {
				t.Errorf("decided at %v, notice %s; want %v, %s", d.DecidedAt.UTC(), d.NoticeDate, tt.wantAt, tt.wantNotice)
			}
			if got := authpilot.DateOf(d.DecidedAt.In(ny)); tt.name == "date alone" && got != tt.wantNotice {
				t.Errorf("a date-only decision is %s in the practice zone, want %s", got, tt.wantNotice)
			}
		})
	}
}

func TestOutcomeUnmappedAndBadValues(t *testing.T) {
	o := decodeYAML(t, okHead+"\n"+`status_map: {"^Approved$": approved}`)
	c := &authpilot.Case{ServiceLines: []authpilot.ServiceLine{{Code: "72148", Units: 1}}}
	tests := []struct {
		name    string
		vars    map[string]any
		wantErr string
		check   func(t *testing.T, out *outcome)
	}{
		{"unmapped wording", map[string]any{"status": "Under Appeal"},
			"poll: portal changed: the status text matches no status_map entry (add it to status_map)",
			func(t *testing.T, out *outcome) {
				if out.statusText != "Under Appeal" || out.hasStatus {
					t.Errorf("outcome %+v: want the raw text and no status", out)
				}
			}},
		{"bad date", map[string]any{"status": "Approved", "valid_to": "soon"},
			`poll: portal changed: field "valid_to": not a date in a known form (2006-01-02, 01/02/2006, Jan 2, 2006)`, nil},
		{"approved units apply to the lines", map[string]any{"status": "Approved", "approved_units": "1 unit"}, "",
			func(t *testing.T, out *outcome) {
				if out.det == nil || len(out.det.ApprovedLines) != 1 || out.det.ApprovedLines[0] != (authpilot.ApprovedLine{Code: "72148", Units: 1}) {
					t.Errorf("determination %+v", out.det)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := o.outcomeOf(c, tt.vars, "poll")
			if (err == nil && tt.wantErr != "") || (err != nil && err.Error() != tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, out)
			}
		})
	}
}

func TestFindChromium(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "chrome")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ChromiumEnv, "")
	if got, err := FindChromium(exe); err != nil || got != exe {
		t.Errorf("configured: %q, %v", got, err)
	}
	if _, err := FindChromium(plain); err == nil || !strings.Contains(err.Error(), "not an executable file") {
		t.Errorf("non-executable: %v", err)
	}
	if _, err := FindChromium(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("missing binary accepted")
	}
	t.Setenv(ChromiumEnv, exe)
	if got, err := FindChromium(""); err != nil || got != exe {
		t.Errorf("from $%s: %q, %v", ChromiumEnv, got, err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(string(Sample))
	for _, p := range []string{"../../examples/connectors/summit-portal.yaml", "../../examples/connectors/clearview-rbm.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add(okHead + "\nflows:\n  a: &x\n    - each: {over: diagnoses, steps: *x}\n")
	f.Add(okHead + "\nlogin: {steps: [{expect: {a: {selector: x, then: [{call: a}]}}}]}\n")
	f.Add("base_url: http://x\nstatus_map: {'(': approved}\n")
	f.Fuzz(func(t *testing.T, text string) {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(text), &n); err != nil {
			return
		}
		o, err := Decode(&n)
		if err == nil && o == nil {
			t.Fatal("nil options without an error")
		}
		if err != nil && o != nil {
			t.Fatal("options with an error")
		}
	})
}

func timeUTC(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

// TestDecodeMutations decodes thousands of deterministic mutations of the
// sample and the examples (inserted YAML punctuation, aliases, cut and
// duplicated spans): Decode must never panic, and returns options exactly
// when it returns no error. FuzzDecode explores further with -fuzz.
func TestDecodeMutations(t *testing.T) {
	seeds := []string{string(Sample)}
	for _, p := range []string{"../../examples/connectors/summit-portal.yaml", "../../examples/connectors/clearview-rbm.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, string(b))
	}
	tokens := []string{"*a", "&a ", "{", "}", "[", "]", ": ", "\n", "  ", "- ", "{{", "}}", "{{.Vars.x}}", "steps: ", "call: a", "each: ", "\"", "'", "(", "~", "<<: "}
	rnd := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		s := []byte(seeds[rnd.IntN(len(seeds))])
		for k := 0; k < 1+rnd.IntN(5); k++ {
			at := rnd.IntN(len(s))
			switch rnd.IntN(3) {
			case 0:
				s = append(s[:at], append([]byte(tokens[rnd.IntN(len(tokens))]), s[at:]...)...)
			case 1:
				s = append(s[:at], s[min(len(s), at+rnd.IntN(60)):]...)
			case 2:
				from := rnd.IntN(len(s))
				span := append([]byte{}, s[from:min(len(s), from+rnd.IntN(300))]...)
				s = append(s[:at], append(span, s[at:]...)...)
			}
			if len(s) == 0 {
				s = []byte("x")
			}
		}
		var node yaml.Node
		if err := yaml.Unmarshal(s, &node); err != nil {
			continue
		}
		o, err := Decode(&node)
		if (err == nil) != (o != nil) {
			t.Fatalf("mutation %d: options %v with error %v:\n%s", i, o != nil, err, s)
		}
	}
}
