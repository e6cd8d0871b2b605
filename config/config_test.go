package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/config/secrets"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/connectors/portal"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/notify/slack"
	"github.com/authpilot/authpilot/notify/webhook"
)

func ptr[T any](v T) *T { return &v }

func days(n int) Duration { return Duration(time.Duration(n) * Day) }

// equal returns a check that reports a value, by its name, unless it
// deeply equals what is wanted.
func equal(t *testing.T) func(name string, got, want any) {
	return func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s =\n  %+v\nwant\n  %+v", name, got, want)
		}
	}
}

// mustLoad loads the config at path, failing the test if it does not load.
func mustLoad(t *testing.T, path string) *Config {
	t.Helper()
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

func TestGoodConfig(t *testing.T) {
	t.Setenv("AUTHPILOT_TEST_SUMMIT_URL", "")
	cfg := mustLoad(t, "testdata/good/authpilot.yaml")
	dir, err := filepath.Abs("testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	check := equal(t)
	check("File", cfg.File, filepath.Join(dir, "authpilot.yaml"))
	check("Warnings", len(cfg.Warnings), 0)
	check("Practice", cfg.Practice, Practice{
		Name:       "Lakeside Spine & Orthopedics",
		Timezone:   "America/Chicago",
		ClosedDays: []authpilot.Date{{Year: 2026, Month: 12, Day: 24}, {Year: 2026, Month: 12, Day: 31}},
	})
	check("Location", cfg.Location().String(), "America/Chicago")
	check("DataDir", cfg.DataDir, filepath.Join(dir, "data"))
	check("Log", cfg.Log, Log{Level: "debug", Format: "json"})
	check("Server", cfg.Server, Server{Listen: "127.0.0.1:8700", TokenSecret: "api-token-2", IdleTimeout: Duration(15 * time.Minute)})
	check("Keyring", cfg.Keyring, Keyring{
		Backend:        "file",
		FileDir:        "/var/lib/authpilot/keyring",
		PassphraseEnv:  "LAKESIDE_KEYRING_PASS",
		PassphraseFile: filepath.Join(dir, "secrets/passphrase"),
	})
	check("Keyring.Options", cfg.Keyring.Options(), secrets.Options{
		Backend:        "file",
		FileDir:        "/var/lib/authpilot/keyring",
		PassphraseEnv:  "LAKESIDE_KEYRING_PASS",
		PassphraseFile: filepath.Join(dir, "secrets/passphrase"),
		ServiceName:    "authpilot",
	})
	check("Sections[browser]", cfg.Sections["browser"], connectors.SectionOptions(&portal.BrowserOptions{Chromium: filepath.Join(dir, "bin/chromium"), MaxPages: 6, RecycleAfter: 25}))
	check("Recordings", cfg.Recordings, Recordings{Capture: CaptureAll, Retention: days(90)})
	check("Schedules", cfg.Schedules, Schedules{Deadlines: "*/10 * * * *", Digest: "30 7 * * 1-5"})
	check("Deadlines", cfg.Deadlines, Deadlines{
		LeadTimes:                   LeadTimes{Default: []Duration{Duration(72 * time.Hour), Duration(36 * time.Hour), Duration(4 * time.Hour)}, list: true},
		FollowUpEvery:               days(5),
		ServiceDateRiskBusinessDays: 7,
		AuthExpiryWarning:           days(21),
	})

	if len(cfg.Payers) != 2 {
		t.Fatalf("%d payers, want 2", len(cfg.Payers))
	}
	check("Payers[0]", *cfg.Payers[0], Payer{
		ID: "summit-ma", Name: "Summit Health Plan", PlanType: authpilot.PlanMedicareAdvantage, Connector: "summit-portal",
		Deadlines: PayerDeadlines{
			DecisionStandard:       ptr(days(7)),
			DecisionExpedited:      ptr(Duration(72 * time.Hour)),
			PeerToPeerBusinessDays: ptr(7),
			Appeal:                 ptr(days(65)),
			AuthExpiryWarning:      ptr(days(14)),
			ClosedDays:             []authpilot.Date{authpilot.NewDate(2026, 11, 27)},
		},
	})
	// Name defaults to the id; unset overrides stay nil.
	check("Payers[1]", *cfg.Payers[1], Payer{ID: "carelon-imaging", Name: "carelon-imaging", PlanType: authpilot.PlanCommercial, Connector: "carelon"})

	if len(cfg.Connectors) != 2 {
		t.Fatalf("%d connectors, want 2", len(cfg.Connectors))
	}
	c0, c1 := cfg.Connectors[0], cfg.Connectors[1]
	check("Connectors[0].ID", c0.ID, "summit-portal")
	check("Connectors[0].Kind", c0.Kind, "testkind")
	check("Connectors[0].Flow", c0.Flow, filepath.Join(dir, "connectors/summit-portal.yaml"))
	check("Connectors[0].Schedule", c0.Schedule, ConnectorSchedule{Submit: "*/15 8-17 * * 1-5", Poll: "0 9,14 * * 1-5", Jitter: Duration(3 * time.Minute)})
	check("Connectors[0].Limits", c0.Limits, Limits{Pages: 2, Timeout: Duration(10 * time.Minute), Retries: 5, RequestsPerMinute: 30,
		LoginsPerHour: 4, Pause: Duration(2 * time.Hour), PauseMax: Duration(24 * time.Hour), MaxRetryAfter: Duration(6 * time.Hour)})
	// watch keys not written keep the defaults.
	check("Connectors[0].Watch", c0.Watch, Watch{Every: Duration(7 * 24 * time.Hour), Tail: Duration(21 * 24 * time.Hour)})
	check("Connectors[0].Notify", c0.Notify, []string{"coordinators"})
	// Options decoded from the flow file; ${VAR:-default} expanded there.
	check("Connectors[0].Options", c0.Options, &testOptions{BaseURL: "https://summit.example.org", Steps: []string{"goto", "fill", "click"}, Line: 2})

	check("Connectors[1].ID", c1.ID, "carelon")
	check("Connectors[1].Flow", c1.Flow, "")
	// Schedule keys not written keep the connector defaults.
	check("Connectors[1].Schedule", c1.Schedule, ConnectorSchedule{Submit: "", Poll: "@every 2h", Jitter: Duration(2 * time.Minute)})
	check("Connectors[1].Limits", c1.Limits, DefaultLimits)
	check("Connectors[1].Watch", c1.Watch, DefaultWatch)
	check("Connectors[1].Notify", len(c1.Notify), 0)
	check("Connectors[1].Options", c1.Options, &testOptions{BaseURL: "https://carelon.example.org", Steps: []string{"goto", "fill", "click"}, Line: 59})

	check("Sinks", cfg.Sinks(), []notify.Sink{
		{Name: "coordinators", Type: "slack", Options: &notify.ChatSink{Kind: slack.KindName, ChatConfig: slack.Config{URLSecret: "slack-coordinators-url"}}},
		{Name: "ehr", Type: "webhook", Options: &webhook.Config{URL: "https://ehr.example.org/hooks/authpilot", Secret: "webhook-ehr"}, IncludePHI: true},
		{Name: "billing", Type: "webhook", Options: &webhook.Config{URLSecret: "billing-webhook-url", Secret: "webhook-billing"}},
	})
	routes := make([]Route, len(cfg.Notify.Routes))
	for i, r := range cfg.Notify.Routes {
		routes[i] = *r
	}
	check("Routes", routes, []Route{
		{
			Match:    Match{Types: []authpilot.AlertType{authpilot.AlertDeadlineMissed, authpilot.AlertPortalChanged}, Severity: authpilot.SeverityWarning},
			Sinks:    []string{"coordinators", "ehr"},
			Continue: true,
		},
		{
			Match: Match{Payers: []string{"summit-ma"}, Tracks: []authpilot.Track{authpilot.TrackSurgery, authpilot.TrackImaging}},
			Sinks: []string{"billing"},
		},
	})
}

func TestLookups(t *testing.T) {
	cfg := mustLoad(t, "testdata/good/authpilot.yaml")
	// Each lookup gives what the test checks of the entry it finds.
	tests := []struct {
		lookup    string
		find      func(key string) (string, bool)
		key, want string
	}{
		{"Connector", func(k string) (string, bool) {
			return field(cfg.Connector(k))(func(c *Connector) string { return c.ID })
		}, "carelon", "carelon"},
		{"Payer", func(k string) (string, bool) { return field(cfg.Payer(k))(func(p *Payer) string { return p.Name }) }, "summit-ma", "Summit Health Plan"},
		{"ConnectorForPayer", func(k string) (string, bool) {
			return field(cfg.ConnectorForPayer(k))(func(c *Connector) string { return c.ID })
		}, "carelon-imaging", "carelon"},
		{"Sink", func(k string) (string, bool) { return field(cfg.Sink(k))(func(s *Sink) string { return s.Type }) }, "ehr", "webhook"},
	}
	for _, tt := range tests {
		t.Run(tt.lookup, func(t *testing.T) {
			if got, ok := tt.find(tt.key); !ok || got != tt.want {
				t.Errorf("%s(%s) = %q, %v; want %q", tt.lookup, tt.key, got, ok, tt.want)
			}
			if _, ok := tt.find("nope"); ok {
				t.Errorf("%s(nope) found", tt.lookup)
			}
		})
	}
}

// field turns a lookup's answer into one field of what it found ("" when
// it found nothing).
func field[T any](v *T, ok bool) func(func(*T) string) (string, bool) {
	return func(f func(*T) string) (string, bool) {
		if !ok {
			return "", false
		}
		return f(v), true
	}
}

func TestDefault(t *testing.T) {
	cfg, err := defaults()
	if err != nil {
		t.Fatalf("the embedded defaults do not validate:\n%v", err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("Warnings = %v, want none", cfg.Warnings)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	check := equal(t)
	d := Default()
	check("Practice.Name", d.Practice.Name, DemoPracticeName)
	check("Location", d.Location().String(), "America/New_York")
	check("DataDir", d.DataDir, filepath.Join(wd, "authpilot-data"))
	check("Log", d.Log, Log{Level: "info", Format: "text"})
	check("Log.SlogLevel", d.Log.SlogLevel().String(), "INFO")
	check("Server", d.Server, Server{Listen: "127.0.0.1:8600", TokenSecret: "api-token", IdleTimeout: Duration(15 * time.Minute)})
	check("Keyring", d.Keyring, Keyring{Backend: "file", FileDir: filepath.Join(wd, "authpilot-data", "keyring"), PassphraseEnv: "AUTHPILOT_KEYRING_PASSPHRASE"})
	check("Sections[browser]", d.Sections["browser"], connectors.SectionOptions(&portal.BrowserOptions{MaxPages: 4, RecycleAfter: 50}))
	check("Recordings", d.Recordings, Recordings{Capture: CaptureOnFailure, Retention: days(30)})
	check("Schedules", d.Schedules, Schedules{Deadlines: "*/15 * * * *", Digest: "0 8 * * 1-5"})
	check("Deadlines", d.Deadlines, Deadlines{
		LeadTimes:                   LeadTimes{Default: []Duration{Duration(48 * time.Hour), Duration(24 * time.Hour)}, list: true},
		FollowUpEvery:               days(7),
		ServiceDateRiskBusinessDays: 5,
		AuthExpiryWarning:           days(14),
	})
	check("Payers", len(d.Payers), 0)
	check("Connectors", len(d.Connectors), 0)
	check("Sinks", len(d.Notify.Sinks), 0)
	check("File", d.File, "")
}

// TestMinimalFileGetsDefaults: a file naming only the practice is the
// defaults, with paths relative to the file.
func TestMinimalFileGetsDefaults(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "authpilot.yaml")
	if err := os.WriteFile(path, []byte("practice:\n  name: Lakeside\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, path)
	def := Default()
	if cfg.DataDir != filepath.Join(dir, "authpilot-data") {
		t.Errorf("DataDir = %q", cfg.DataDir)
	}
	if !reflect.DeepEqual(cfg.Deadlines, def.Deadlines) || cfg.Server != def.Server || !reflect.DeepEqual(cfg.Sections, def.Sections) {
		t.Errorf("defaults not applied: %+v", cfg)
	}
}

// badCases are the files of testdata/bad with every error each must give,
// in order.
var badCases = []struct {
	file string
	want []string
}{
	{"unknown-key.yaml", []string{
		`testdata/bad/unknown-key.yaml:3: practice: unknown key "timezon" (did you mean "timezone"?)`,
		`testdata/bad/unknown-key.yaml:4: unknown key "frobnicate"`,
		`testdata/bad/unknown-key.yaml:10: connectors[0] "summit-portal": limits: unknown key "page" (did you mean "pages"?)`,
	}},
	{"notify-missing-sink.yaml", []string{
		`testdata/bad/notify-missing-sink.yaml:7: connectors[0] "summit-portal": notify[1]: unknown sink "pager"`,
	}},
	{"bad-cron.yaml", []string{
		`testdata/bad/bad-cron.yaml:4: schedules.digest: bad cron spec "0 8 * * mon-fry": failed to parse int from fry: strconv.Atoi: parsing "fry": invalid syntax`,
		`testdata/bad/bad-cron.yaml:10: connectors[0] "carelon": schedule.submit: bad cron spec "TZ=UTC": malformed time-zone prefix: want CRON_TZ=Area/City followed by the schedule`,
		`testdata/bad/bad-cron.yaml:11: connectors[0] "carelon": schedule.poll: bad cron spec "0 25 * * *": end of range (25) above maximum (23): 25`,
	}},
	// check-like-run.yaml: what `config check` passed and `run` refused.
	{"check-like-run.yaml", []string{
		`testdata/bad/check-like-run.yaml:4: schedules.digest: bad cron spec "0 0 30 2 *": never fires`,
		"testdata/bad/check-like-run.yaml:7: notify.sinks[0] \"ehr\": secret is required for a webhook sink (the keyring secret that signs deliveries; set it with `authpilot secrets set`)",
	}},
	// deadline-rules.yaml: what the deadline engine's Rules.Validate
	// refused, which nothing called.
	{"deadline-rules.yaml", []string{
		`testdata/bad/deadline-rules.yaml:4: deadlines.follow_up_every: must be at least 1h, not 30m`,
		`testdata/bad/deadline-rules.yaml:9: payers[0] "summit-ma": deadlines.appeal: must be whole days, not 1d12h`,
	}},
	{"server.yaml", []string{
		`testdata/bad/server.yaml:4: server.external_url: bad URL "ftp://workspace.lakeside.example": want http(s)://host[:port][/path]`,
		`testdata/bad/server.yaml:6: server.tls: set both cert_file and key_file, or neither`,
		`testdata/bad/server.yaml:7: server.idle_timeout: must be more than 0, not 0s`,
	}},
	{"bad-timezone.yaml", []string{
		`testdata/bad/bad-timezone.yaml:3: practice.timezone: unknown time zone "America/New_Yrok" (want an IANA name such as America/New_York)`,
	}},
	{"wrong-type.yaml", []string{
		`testdata/bad/wrong-type.yaml:3: practice.closed_days: expected a list, got "2026-12-24"`,
		`testdata/bad/wrong-type.yaml:5: log.level: expected a string, got a list`,
		`testdata/bad/wrong-type.yaml:6: server: expected a mapping, got "8600"`,
		`testdata/bad/wrong-type.yaml:8: browser.max_pages: expected an integer, got "four"`,
		`testdata/bad/wrong-type.yaml:10: deadlines.lead_times[0]: expected a duration such as 90s, 15m, 48h or 7d, got "48x"`,
		`testdata/bad/wrong-type.yaml:11: deadlines.follow_up_every: expected a duration such as 90s, 15m, 48h or 7d, got a mapping`,
		`testdata/bad/wrong-type.yaml:18: notify.sinks[0] "ehr": include_phi: expected true or false, got "yes"`,
	}},
	{"duplicate-ids.yaml", []string{
		`testdata/bad/duplicate-ids.yaml:3: practice: duplicate key "name" (first at line 2)`,
		`testdata/bad/duplicate-ids.yaml:8: payers[1] "summit-ma": id: duplicate payer id "summit-ma" (first at line 5)`,
		`testdata/bad/duplicate-ids.yaml:15: connectors[1] "summit-portal": id: duplicate connector id "summit-portal" (first at line 12)`,
		`testdata/bad/duplicate-ids.yaml:21: notify.sinks[1] "coordinators": name: duplicate sink name "coordinators" (first at line 20)`,
	}},
	{"missing-flow.yaml", []string{
		`testdata/bad/missing-flow.yaml:6: connectors[0] "summit-portal": flow: testdata/bad/connectors/missing.yaml: does not exist`,
	}},
	{"env-unset.yaml", []string{
		`testdata/bad/env-unset.yaml:7: notify.sinks[0] "ehr": url: environment variable AUTHPILOT_TEST_UNSET_VAR is not set (write ${AUTHPILOT_TEST_UNSET_VAR:-default} for a default)`,
		`testdata/bad/env-unset.yaml:11: data_dir: unterminated "${" (write "$${" for a literal "${")`,
	}},
	{"crossrefs.yaml", []string{
		`testdata/bad/crossrefs.yaml:5: payers[0] "summit-ma": plan_type: unknown plan type "medicare_advantag" (did you mean "medicare_advantage"?) (one of medicare_advantage, medicaid, chip, qhp, commercial, erisa, traditional_medicare)`,
		`testdata/bad/crossrefs.yaml:6: payers[0] "summit-ma": connector: unknown connector "sumit-portal" (did you mean "summit-portal"?)`,
		`testdata/bad/crossrefs.yaml:7: payers[1] "Bad_ID": id: bad payer id "Bad_ID": use a-z, 0-9 and '-', starting with a letter or digit (at most 64)`,
		`testdata/bad/crossrefs.yaml:7: payers[1] "Bad_ID": plan_type: required (one of medicare_advantage, medicaid, chip, qhp, commercial, erisa, traditional_medicare)`,
		`testdata/bad/crossrefs.yaml:18: notify.routes[0].match.types[0]: unknown alert type "deadline_mised" (did you mean "deadline_missed"?)`,
		`testdata/bad/crossrefs.yaml:19: notify.routes[0].match.tracks[1]: unknown track "mri"`,
		`testdata/bad/crossrefs.yaml:20: notify.routes[0].match.payers[1]: unknown payer "carelon"`,
		`testdata/bad/crossrefs.yaml:21: notify.routes[0].match.severity: unknown value "urgent" (one of info, warning, critical)`,
		`testdata/bad/crossrefs.yaml:22: notify.routes[0].sinks[0]: unknown sink "coordinator" (did you mean "coordinators"?)`,
		`testdata/bad/crossrefs.yaml:24: notify.routes[1].sinks: at least one sink is required`,
	}},
	{"options.yaml", []string{
		`testdata/bad/options.yaml:8: connectors[0] "inline": steps[1]: unknown step "clik" (did you mean "click"?)`,
		`testdata/bad/options.yaml:9: connectors[0] "inline": unknown key "colour"`,
		`testdata/bad/options.yaml:16: connectors[2] "both": options: give flow or options, not both`,
		`testdata/bad/options.yaml:17: connectors[3] "neither": one of flow (a file of options) or options is required`,
		`testdata/bad/options.yaml:20: connectors[4] "typo-kind": kind: unknown connector kind "testknd" (did you mean "testkind"?) (registered: fhirpas, panickind, plainkind, portal, testkind)`,
		`testdata/bad/options.yaml:24: connectors[5] "panics": connector kind "panickind" failed to decode its options: assignment to entry in nil map`,
		`testdata/bad/options.yaml:27: connectors[6] "plain": plain failure`,
		// The flow files' errors name the flow file and its lines.
		`testdata/bad/connectors/broken-flow.yaml:2: connectors[1] "from-flow": base_url: required`,
		`testdata/bad/connectors/broken-flow.yaml:4: connectors[1] "from-flow": steps[1]: unknown step "fil" (did you mean "fill"?)`,
		`testdata/bad/connectors/bad-yaml.yaml:1: connectors[7] "bad-yaml-flow": bad YAML: did not find expected ',' or ']'`,
	}},
	// The kinds' own options decode through the same decoder: a portal
	// flow file and inline fhirpas options, every mistake with its line.
	{"flows.yaml", []string{
		`testdata/bad/connectors/portal-flow.yaml:3: connectors[0] "summit-portal": unknown key "timezon" (did you mean "timezone"?)`,
		`testdata/bad/connectors/portal-flow.yaml:4: connectors[0] "summit-portal": limits: pages: expected a whole number, got "many"`,
		`testdata/bad/connectors/portal-flow.yaml:7: connectors[0] "summit-portal": status_map["^Approved$"]: unknown status "aproved" (did you mean "approved"?) (one of submitted, pended, approved, partially_approved, modified, denied, not_required, contact_payer, cancelled, expired, withdrawn)`,
		`testdata/bad/connectors/portal-flow.yaml:11: connectors[0] "summit-portal": login.steps[1]: unknown step "fil" (did you mean "fill"?)`,
		`testdata/bad/connectors/portal-flow.yaml:12: connectors[0] "summit-portal": login.steps[2]: fill: duplicate key "selector" (first at line 12)`,
		`testdata/bad/connectors/portal-flow.yaml:14: connectors[0] "summit-portal": login.steps[3]: unknown key "optinal" (did you mean "optional"?)`,
		`testdata/bad/connectors/portal-flow.yaml:15: connectors[0] "summit-portal": login.steps[4]: fill: unknown key "valeu" (did you mean "value"?)`,
		`testdata/bad/connectors/portal-flow.yaml:15: connectors[0] "summit-portal": login.steps[4]: fill: missing required key "value"`,
		`testdata/bad/connectors/portal-flow.yaml:18: connectors[0] "summit-portal": poll.list: missing required key "key"`,
		`testdata/bad/flows.yaml:13: connectors[1] "keystone-pas": unknown key "retires" (did you mean "retries"?)`,
		`testdata/bad/flows.yaml:14: connectors[1] "keystone-pas": timeout: expected a duration such as 30s or 15m, got "soon"`,
		`testdata/bad/flows.yaml:15: connectors[1] "keystone-pas": scopes: expected a list, got a mapping`,
		`testdata/bad/flows.yaml:17: connectors[1] "keystone-pas": insurer: unknown key "identifer" (did you mean "identifier"?)`,
		`testdata/bad/flows.yaml:18: connectors[1] "keystone-pas": duplicate key "client_id" (first at line 12)`,
	}},
	{"sinks.yaml", []string{
		"testdata/bad/sinks.yaml:7: notify.sinks[0] \"slack-with-url\": url: a Slack webhook URL is a secret: store it with `authpilot secrets set` and name it in url_secret",
		`testdata/bad/sinks.yaml:8: notify.sinks[0] "slack-with-url": unknown key "secret"`,
		`testdata/bad/sinks.yaml:11: notify.sinks[1] "webhook-both": url: give url or url_secret, not both`,
		`testdata/bad/sinks.yaml:14: notify.sinks[2] "webhook-none": one of url or url_secret is required`,
		`testdata/bad/sinks.yaml:19: notify.sinks[3] "webhook-bad-url": url: not an absolute http(s) URL`,
		`testdata/bad/sinks.yaml:20: notify.sinks[3] "webhook-bad-url": secret: invalid secret name: character 1 is an upper-case letter (use 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit)`,
		`testdata/bad/sinks.yaml:22: notify.sinks[4] "teams": type: unknown sink type "msteams" (registered: slack, webhook)`,
		// run refused a webhook without a signing secret that config check
		// passed with a warning: now both refuse it.
		"testdata/bad/sinks.yaml:23: notify.sinks[5] \"webhook-unsigned\": secret is required for a webhook sink (the keyring secret that signs deliveries; set it with `authpilot secrets set`)",
		`testdata/bad/sinks.yaml:26: notify.sinks[6] "slack-typo": url_secret: required for a slack sink (the keyring secret holding the webhook URL)`,
		`testdata/bad/sinks.yaml:28: notify.sinks[6] "slack-typo": unknown key "url_secrte" (did you mean "url_secret"?)`,
	}},
	{"values.yaml", []string{
		`testdata/bad/values.yaml:2: practice.name: required`,
		`testdata/bad/values.yaml:3: practice.timezone: required (an IANA time zone such as America/New_York)`,
		`testdata/bad/values.yaml:4: data_dir: required`,
		`testdata/bad/values.yaml:5: log.level: unknown value "verbose" (one of debug, info, warn, error)`,
		`testdata/bad/values.yaml:5: log.format: unknown value "xml" (one of text, json)`,
		`testdata/bad/values.yaml:7: server.listen: bad address "localhost": want host:port such as 127.0.0.1:8600`,
		`testdata/bad/values.yaml:8: server.token_secret: invalid secret name: character 1 is an upper-case letter (use 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit)`,
		`testdata/bad/values.yaml:10: keyring.backend: unknown value "vault" (one of file, keychain, secret-service, kwallet, pass, keyctl, wincred)`,
		`testdata/bad/values.yaml:12: browser.max_pages: must be at least 1, not 0`,
		`testdata/bad/values.yaml:13: browser.recycle_after: must be at least 0, not -1`,
		`testdata/bad/values.yaml:15: recordings.capture: unknown value "never" (one of all, on_failure)`,
		`testdata/bad/values.yaml:16: recordings.retention: must be more than 0, not 0s`,
		`testdata/bad/values.yaml:18: deadlines.lead_times[0]: must be more than 0, not -1d`,
		`testdata/bad/values.yaml:19: deadlines.follow_up_every: must be more than 0, not 0s`,
		`testdata/bad/values.yaml:20: deadlines.service_date_risk_business_days: must be at least 0, not -2`,
		`testdata/bad/values.yaml:21: deadlines.auth_expiry_warning: must not be negative, not -1d`,
		`testdata/bad/values.yaml:26: connectors[0] "summit-portal": schedule.jitter: must not be negative, not -1m`,
		`testdata/bad/values.yaml:27: connectors[0] "summit-portal": limits.pages: must be at least 0, not -1`,
		`testdata/bad/values.yaml:27: connectors[0] "summit-portal": limits.timeout: must be more than 0, not 0s`,
		`testdata/bad/values.yaml:27: connectors[0] "summit-portal": limits.retries: must be at least 0, not -1`,
		`testdata/bad/values.yaml:27: connectors[0] "summit-portal": limits.requests_per_minute: must be at least 0, not -5`,
		`testdata/bad/values.yaml:28: connectors[0] "summit-portal": watch.every: must not be negative, not -1d`,
		`testdata/bad/values.yaml:28: connectors[0] "summit-portal": watch.tail: must not be negative, not -2d`,
		`testdata/bad/values.yaml:33: payers[0] "summit-ma": deadlines.decision_standard: must be more than 0, not 0s`,
		`testdata/bad/values.yaml:33: payers[0] "summit-ma": deadlines.appeal: must be more than 0, not -1d`,
		`testdata/bad/values.yaml:33: payers[0] "summit-ma": deadlines.peer_to_peer_business_days: must be at least 0, not -1`,
	}},
	{"politeness.yaml", []string{
		`testdata/bad/politeness.yaml:7: connectors[0] "summit-portal": limits.logins_per_hour: must be at least 1, not 0`,
		`testdata/bad/politeness.yaml:8: connectors[0] "summit-portal": limits.pause: must be more than 0, not 0s`,
		`testdata/bad/politeness.yaml:10: connectors[0] "summit-portal": limits.max_retry_after: must be more than 0, not -1h`,
		`testdata/bad/politeness.yaml:14: connectors[1] "clearview": limits: unknown key "paws"`,
		`testdata/bad/politeness.yaml:14: connectors[1] "clearview": limits.pause_max: must be at least limits.pause (2h), not 1h`,
	}},
	{"syntax.yaml", []string{
		`testdata/bad/syntax.yaml:2: bad YAML: did not find expected ',' or ']'`,
	}},
	{"two-docs.yaml", []string{
		`testdata/bad/two-docs.yaml:3: more than one YAML document in the file`,
	}},
	{"not-mapping.yaml", []string{
		`testdata/bad/not-mapping.yaml:1: expected a mapping of settings, got a list`,
	}},
	{"empty.yaml", []string{
		`testdata/bad/empty.yaml: practice.name: required`,
	}},
}

func TestBadConfigs(t *testing.T) {
	for _, v := range []string{"AUTHPILOT_TEST_UNSET_VAR", "AUTHPILOT_TEST_PRACTICE"} {
		if _, set := os.LookupEnv(v); set {
			t.Fatalf("%s must not be set for this test", v)
		}
	}
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, tt := range badCases {
		covered[filepath.Join("testdata/bad", tt.file)] = true
		t.Run(strings.TrimSuffix(tt.file, ".yaml"), func(t *testing.T) {
			cfg, err := Load(filepath.Join("testdata/bad", tt.file))
			if err == nil {
				t.Fatalf("Load succeeded: %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("Load returned a Config with its error")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, want Errors", err)
			}
			got := strings.Split(err.Error(), "\n")
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, e := range es {
				if e.File == "" || e.Msg == "" {
					t.Errorf("error without file or message: %#v", e)
				}
			}
		})
	}
	for _, f := range files {
		if !covered[f] {
			t.Errorf("%s has no expected errors in badCases", f)
		}
	}
}

// TestNoSecretValuesInErrors: a credential written where it does not
// belong (a Slack URL, a token in a webhook URL) is never echoed.
func TestNoSecretValuesInErrors(t *testing.T) {
	_, err := Load("testdata/bad/sinks.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"XXXXSECRETXXXX", "SECRETTOKEN", "hooks.slack.com"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error echoes %q:\n%v", s, err)
		}
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.yaml"), filepath.Join(dir, "nope.yaml") + ": cannot read: no such file or directory"},
		{"directory", dir, dir + ": cannot read: not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.path)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Load: %v\nwant %s", err, tt.want)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Errorf("error is %T, want Errors", err)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	const file = "warn.yaml"
	data := `practice:
  name: Lakeside
  timezone: Local
server:
  listen: 0.0.0.0:8600
browser:
  max_pages: 2
connectors:
  - id: big
    kind: testkind
    options: {base_url: https://x.example.org}
    limits: {pages: 3}
  - id: portal-big
    kind: portal
    options: {base_url: https://y.example.org}
    limits: {pages: 3}
  - id: portal-ask
    kind: portal
    options:
      base_url: https://z.example.org
      login:
        steps:
          - ask: {selector: "#code", question: "Type the texted code."}
    limits: {timeout: 2m}
notify:
  sinks:
    - name: chat
      type: slack
      url_secret: slack-url
      include_phi: true
    - name: ehr
      type: webhook
      url: http://ehr.example.org/hook
      secret: webhook-ehr
    - name: chat-refs
      type: slack
      url_secret: slack-url-2
      include_order_ref: true
`
	cfg, err := Parse(file, []byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []string{
		`warn.yaml:3: practice.timezone: "Local" follows the machine's time zone; name the practice's zone instead`,
		`warn.yaml:5: server.listen: "0.0.0.0:8600" is not a loopback address: the API is reachable from the network, guarded only by its bearer token`,
		// A testkind connector shares no browser: its pages are its own.
		`warn.yaml:16: connectors[1] "portal-big": limits.pages: 3 is more than browser.max_pages (2), which every portal connector shares: no more than 2 pages open at once`,
		// An ask step waits longer than the flow that bounds its visit.
		`warn.yaml:23: connectors[2] "portal-ask": login.steps[0]: ask: limits.hand_off_timeout 10m0s is longer than limits.flow_timeout 3m0s, which bounds the visit: a person has 3m0s to answer (raise limits.flow_timeout, and the connector's limits.timeout)`,
		// ... and the connector's run ends before the flow's time does.
		`warn.yaml:24: connectors[2] "portal-ask": limits.timeout: 2m0s is shorter than the 3m0s a visit may wait for a person (an ask step): the run stops it first (raise limits.timeout)`,
		`warn.yaml:26: notify: sinks but no routes: only connectors' notify lists send alerts`,
		`warn.yaml:30: notify.sinks[0] "chat": include_phi: sends patient details to Slack`,
		`warn.yaml:33: notify.sinks[1] "ehr": url: plain http: deliveries are not encrypted`,
		`warn.yaml:38: notify.sinks[2] "chat-refs": include_order_ref: sends order references (often MRNs) to Slack`,
	}
	if !slices.Equal(cfg.Warnings, want) {
		t.Errorf("Warnings:\n%s\nwant:\n%s", strings.Join(cfg.Warnings, "\n"), strings.Join(want, "\n"))
	}
}

func TestEnvExpansion(t *testing.T) {
	env := map[string]string{
		"NAME":   "Lakeside",
		"PAGES":  "3",
		"EMPTY":  "",
		"SECRET": "s3cr3t-do-not-show",
		"LISTEN": "127.0.0.1:9000",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name    string
		yaml    string
		check   func(*Config) any
		want    any
		wantErr string
	}{
		{name: "plain", yaml: "practice:\n  name: ${NAME}", check: func(c *Config) any { return c.Practice.Name }, want: "Lakeside"},
		{name: "inside text", yaml: "practice:\n  name: Clinic ${NAME} East", check: func(c *Config) any { return c.Practice.Name }, want: "Clinic Lakeside East"},
		{name: "two refs", yaml: "practice:\n  name: ${NAME}-${PAGES}", check: func(c *Config) any { return c.Practice.Name }, want: "Lakeside-3"},
		{name: "default unused", yaml: "practice:\n  name: ${NAME:-Other}", check: func(c *Config) any { return c.Practice.Name }, want: "Lakeside"},
		{name: "default for unset", yaml: "practice:\n  name: ${NOPE:-Other Clinic}", check: func(c *Config) any { return c.Practice.Name }, want: "Other Clinic"},
		{name: "default for empty", yaml: "practice:\n  name: ${EMPTY:-Other}", check: func(c *Config) any { return c.Practice.Name }, want: "Other"},
		{name: "literal", yaml: "practice: {name: \"Cost $${NAME}\"}", check: func(c *Config) any { return c.Practice.Name }, want: "Cost ${NAME}"},
		{name: "plain scalar becomes int", yaml: "practice: {name: x}\nbrowser:\n  max_pages: ${PAGES}", check: func(c *Config) any { return c.Sections["browser"].(*portal.BrowserOptions).MaxPages }, want: 3},
		{name: "empty keeps default", yaml: "practice: {name: x}\nbrowser:\n  max_pages: ${EMPTY}", check: func(c *Config) any { return c.Sections["browser"].(*portal.BrowserOptions).MaxPages }, want: 4},
		{name: "listen", yaml: "practice: {name: x}\nserver: {listen: \"${LISTEN}\"}", check: func(c *Config) any { return c.Server.Listen }, want: "127.0.0.1:9000"},
		{name: "keys are not expanded", yaml: "practice: {name: x}\n${NAME}: 1", wantErr: `env.yaml:2: unknown key "${NAME}"`},
		{name: "unset", yaml: "practice:\n  name: ${NOPE}", wantErr: "env.yaml:2: practice.name: environment variable NOPE is not set (write ${NOPE:-default} for a default)"},
		{name: "bad name", yaml: "practice:\n  name: ${1X}", wantErr: `env.yaml:2: practice.name: bad environment reference "${1X}"`},
		{name: "type error shows the reference, not the value", yaml: "practice: {name: x}\nbrowser:\n  max_pages: ${SECRET}", wantErr: `env.yaml:3: browser.max_pages: expected an integer, got "${SECRET}"`},
		{name: "quoted stays a string", yaml: "practice: {name: x}\nbrowser:\n  max_pages: \"${PAGES}\"", wantErr: `env.yaml:3: browser.max_pages: expected an integer, got "${PAGES}"`},
		{name: "unset int is one error", yaml: "practice: {name: x}\nbrowser:\n  max_pages: ${NOPE}", wantErr: "env.yaml:3: browser.max_pages: environment variable NOPE is not set (write ${NOPE:-default} for a default)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse("env.yaml", []byte(tt.yaml), lookup)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v\nwant %s", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), env["SECRET"]) {
					t.Errorf("error shows a value from the environment")
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := tt.check(cfg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestEnvExpansionViaOS(t *testing.T) {
	t.Setenv("AUTHPILOT_TEST_PRACTICE", "From Env")
	cfg, err := Parse("env.yaml", []byte("practice:\n  name: ${AUTHPILOT_TEST_PRACTICE}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Practice.Name != "From Env" {
		t.Errorf("Practice.Name = %q", cfg.Practice.Name)
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	data := `practice: {name: x}
x-common: &common
  kind: testkind
  schedule: {poll: "0 10 * * *"}
connectors:
  - <<: *common
    id: a
    options: {base_url: https://a.example.org}
  - <<: *common
    id: b
    schedule: {poll: "0 11 * * *"}
    options: {base_url: https://b.example.org}
`
	// "x-common" is not a config key: anchors must live inside known keys.
	_, err := Parse("merge.yaml", []byte(data))
	if err == nil || err.Error() != `merge.yaml:2: unknown key "x-common"` {
		t.Fatalf("err = %v", err)
	}
	data = `practice: {name: x}
connectors:
  - &a
    id: a
    kind: testkind
    schedule: {poll: "0 10 * * *", jitter: 1m}
    options: {base_url: https://a.example.org}
  - <<: *a
    id: b
    schedule: {poll: "0 11 * * *"}
`
	cfg, err := Parse("merge.yaml", []byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	b, _ := cfg.Connector("b")
	if b == nil || b.Kind != "testkind" || b.Schedule.Poll != "0 11 * * *" {
		t.Fatalf("merged connector b = %+v", b)
	}
	// Nested mappings merge key by key (as over the defaults): b keeps
	// a's jitter.
	if b.Schedule.Jitter != Duration(time.Minute) {
		t.Errorf("b jitter = %v, want 1m from a", b.Schedule.Jitter)
	}
	if o, ok := b.Options.(*testOptions); !ok || o.BaseURL != "https://a.example.org" {
		t.Errorf("b options = %+v", b.Options)
	}
}

func TestAliasBomb(t *testing.T) {
	// One list of 3000 payer names, referenced by 3000 routes: nine
	// million values to walk. The step budget stops it.
	var b strings.Builder
	b.WriteString("practice: {name: x}\nnotify:\n  sinks: [{name: s, type: slack, url_secret: u}]\n  routes:\n")
	b.WriteString("    - sinks: [s]\n      match:\n        payers: &big [")
	for i := range 3000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("p" + strconv.Itoa(i))
	}
	b.WriteString("]\n")
	for range 3000 {
		b.WriteString("    - {sinks: [s], match: {payers: *big}}\n")
	}
	done := make(chan error, 1)
	go func() { _, err := Parse("bomb.yaml", []byte(b.String())); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "document too large or too deeply aliased") {
			t.Fatalf("err = %.300v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Parse did not finish")
	}
}

// TestRouter checks the config's routes through the one router,
// notify.Router.
func TestRouter(t *testing.T) {
	cfg := mustLoad(t, "testdata/good/authpilot.yaml")
	tests := []struct {
		name  string
		alert authpilot.Alert
		want  []string
	}{
		{
			name:  "first route continues to the second",
			alert: authpilot.Alert{Type: authpilot.AlertDeadlineMissed, Severity: authpilot.SeverityCritical, Payer: "summit-ma", Track: authpilot.TrackSurgery},
			want:  []string{"coordinators", "ehr", "billing"},
		},
		{
			name:  "below the minimum severity",
			alert: authpilot.Alert{Type: authpilot.AlertDeadlineMissed, Severity: authpilot.SeverityInfo, Payer: "other"},
			want:  nil,
		},
		{
			name:  "second route only",
			alert: authpilot.Alert{Type: authpilot.AlertStatusChanged, Severity: authpilot.SeverityInfo, Payer: "summit-ma", Track: authpilot.TrackImaging},
			want:  []string{"billing"},
		},
		{
			name:  "track does not match",
			alert: authpilot.Alert{Type: authpilot.AlertStatusChanged, Payer: "summit-ma", Track: authpilot.TrackDME},
			want:  nil,
		},
		{
			name:  "connector's extra sinks, once",
			alert: authpilot.Alert{Type: authpilot.AlertPortalChanged, Severity: authpilot.SeverityWarning, ConnectorID: "summit-portal"},
			want:  []string{"coordinators", "ehr"},
		},
		{
			name:  "connector's extra sinks alone",
			alert: authpilot.Alert{Type: authpilot.AlertConnectorFailing, Severity: authpilot.SeverityWarning, ConnectorID: "summit-portal"},
			want:  []string{"coordinators"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cfg.Router().Route(tt.alert, nil); !slices.Equal(got, tt.want) {
				t.Errorf("Route = %v, want %v", got, tt.want)
			}
		})
	}
	// First match wins without continue.
	cfg.Notify.Routes[0].Continue = false
	a := authpilot.Alert{Type: authpilot.AlertDeadlineMissed, Severity: authpilot.SeverityCritical, Payer: "summit-ma", Track: authpilot.TrackSurgery}
	if got := cfg.Router().Route(a, nil); !slices.Equal(got, []string{"coordinators", "ehr"}) {
		t.Errorf("without continue: Route = %v", got)
	}
}

// TestLeadTimesPerKind: deadlines.lead_times is one list for every kind
// or a list per kind with a default; the mapping is decoded strictly and
// its errors name file:line and the path.
func TestLeadTimesPerKind(t *testing.T) {
	cfg, err := Parse("kinds.yaml", []byte(`practice: {name: P}
deadlines:
  lead_times:
    default: [48h, 24h]
    appeal_filing: [7d, 2d]
    peer_to_peer_call: [24h, 2h]
`))
	if err != nil {
		t.Fatal(err)
	}
	lt := cfg.Deadlines.LeadTimes
	if !reflect.DeepEqual(lt.Default, []Duration{Duration(48 * time.Hour), Duration(24 * time.Hour)}) ||
		!reflect.DeepEqual(lt.ByKind(), map[authpilot.DeadlineKind][]Duration{authpilot.DeadlineAppeal: {days(7), days(2)},
			authpilot.DeadlinePeerToPeerCall: {Duration(24 * time.Hour), Duration(2 * time.Hour)}}) {
		t.Errorf("lead times = %+v, by kind %v", lt, lt.ByKind())
	}
	for _, tc := range []struct{ yaml, want string }{
		{"    follow_up: [1h]\n", `kinds.yaml:4: deadlines.lead_times: unknown key "follow_up"`},
		{"    appeal_filing: [7d, 7d]\n", "kinds.yaml:4: deadlines.lead_times.appeal_filing[1]: 7d is listed twice"},
		{"    decision_due: [48h, -1h]\n", "kinds.yaml:4: deadlines.lead_times.decision_due[1]: must be more than 0"},
		{"    peer_to_peer: 2d\n", "kinds.yaml:4: deadlines.lead_times.peer_to_peer"},
		{"    appeal_decision_due: [0s]\n", "kinds.yaml:4: deadlines.lead_times.appeal_decision_due[0]: must be more than 0"},
	} {
		_, err := Parse("kinds.yaml", []byte("practice: {name: P}\ndeadlines:\n  lead_times:\n"+tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
