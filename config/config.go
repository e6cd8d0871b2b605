// Package config loads authpilot.yaml: embedded defaults first, then the
// file decoded strictly (unknown keys, wrong types and unset ${ENV}
// references are errors), then one validation pass that checks values and
// cross-references and reports every problem with its file, line and field.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	// Time zones are validated with time.LoadLocation; embedding the zone
	// database makes that work in minimal containers without tzdata.
	_ "time/tzdata"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/config/secrets"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/internal/yamlx"
	"github.com/authpilot/authpilot/notify"
)

//go:embed default.yaml
var defaultYAML []byte

// defaultFile names the embedded defaults in (unexpected) errors.
const defaultFile = "(embedded) default.yaml"

// DemoPracticeName is the practice name of Default(), which has no file to
// name one.
const DemoPracticeName = "authpilot demo practice"

// maxFileSize bounds a config or flow file.
const maxFileSize = 4 << 20

// Config is a loaded, validated authpilot.yaml. Relative paths in it are
// resolved against the directory of the file.
type Config struct {
	Practice Practice `yaml:"practice"`
	// DataDir holds the store, documents and recordings (absolute).
	DataDir    string       `yaml:"data_dir"`
	Log        Log          `yaml:"log"`
	Server     Server       `yaml:"server"`
	Keyring    Keyring      `yaml:"keyring"`
	Recordings Recordings   `yaml:"recordings"`
	Schedules  Schedules    `yaml:"schedules"`
	Deadlines  Deadlines    `yaml:"deadlines"`
	Payers     []*Payer     `yaml:"payers"`
	Connectors []*Connector `yaml:"connectors"`
	Notify     Notify       `yaml:"notify"`

	// Sections are the top-level sections connector kinds own (the
	// portal kind's browser:), decoded by their kinds, by section name;
	// every registered kind's section is here, with its defaults when the
	// file has none.
	Sections map[string]connectors.SectionOptions `yaml:"-"`

	// File is the absolute path of the loaded file; empty for Default().
	File string `yaml:"-"`
	// Warnings are findings that do not stop the daemon, formatted like
	// errors; `config check` prints them.
	Warnings []string `yaml:"-"`

	loc          *time.Location
	sectionNodes map[string]*yaml.Node
}

// KeepNode keeps a top-level section a connector kind owns for the kind
// to decode (connectors.Section).
func (c *Config) KeepNode(key, n *yaml.Node) bool {
	if _, ok := connectors.SectionOwner(key.Value); !ok {
		return false
	}
	if c.sectionNodes == nil {
		c.sectionNodes = map[string]*yaml.Node{}
	}
	c.sectionNodes[key.Value] = n
	return true
}

var _ yamlx.NodeKeeper = (*Config)(nil)

// Practice is the medical practice authpilot works for.
type Practice struct {
	Name string `yaml:"name"`
	// Timezone is an IANA zone; schedules and business days follow it.
	Timezone string `yaml:"timezone"`
	// ClosedDays are practice closed days besides weekends and US federal
	// holidays.
	ClosedDays []authpilot.Date `yaml:"closed_days"`
}

// Log configures the process logger.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// SlogLevel returns the level as a slog.Level.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Server configures the HTTP API.
type Server struct {
	// Listen is host:port; loopback by default.
	Listen string `yaml:"listen"`
	// TokenSecret names the keyring secret holding the API bearer token.
	TokenSecret string `yaml:"token_secret"`
	// ExternalURL is the workspace's address as people reach it (a
	// reverse proxy's); alerts link to their case page under it. Empty:
	// http(s)://Listen.
	ExternalURL string `yaml:"external_url"`
	// TLS, when both files are set, serves the API and the workspace
	// over HTTPS.
	TLS TLS `yaml:"tls"`
	// IdleTimeout signs a workspace session out after this long without
	// a request (HIPAA automatic logoff).
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// TLS names a PEM certificate (chain) and its private key.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" && t.KeyFile != "" }

// BaseURL is where people reach the workspace: ExternalURL, else
// http(s)://Listen; without a trailing slash.
func (s Server) BaseURL() string {
	if s.ExternalURL != "" {
		return strings.TrimRight(s.ExternalURL, "/")
	}
	if s.TLS.Enabled() {
		return "https://" + s.Listen
	}
	return "http://" + s.Listen
}

// Keyring says where secrets live.
type Keyring struct {
	Backend string `yaml:"backend"` // one of secrets.Backends
	// FileDir is the file keyring's directory; default <data_dir>/keyring.
	FileDir string `yaml:"file_dir"`
	// PassphraseEnv names the variable holding the file keyring passphrase.
	PassphraseEnv string `yaml:"passphrase_env"`
	// PassphraseFile holds the passphrase when the variable is empty.
	PassphraseFile string `yaml:"passphrase_file"`
}

// Options returns the settings for secrets.Open.
func (k Keyring) Options() secrets.Options {
	return secrets.Options{
		Backend:        k.Backend,
		FileDir:        k.FileDir,
		PassphraseEnv:  k.PassphraseEnv,
		PassphraseFile: k.PassphraseFile,
		ServiceName:    secrets.DefaultServiceName,
	}
}

// Recording capture modes.
const (
	CaptureAll       = "all"
	CaptureOnFailure = "on_failure"
)

// Recordings configures the evidence kept of connector runs.
type Recordings struct {
	// Capture is CaptureAll (screenshot and DOM of every step) or
	// CaptureOnFailure.
	Capture   string   `yaml:"capture"`
	Retention Duration `yaml:"retention"`
}

// Schedules are the cron specs of the practice-wide jobs, in the practice
// time zone. An empty spec disables the job.
type Schedules struct {
	Deadlines string `yaml:"deadlines"`
	Digest    string `yaml:"digest"`
}

// Deadlines are the deadline engine's practice-wide settings.
type Deadlines struct {
	// LeadTimes raise deadline_approaching this long before each deadline:
	// one list for every kind, or lists per kind.
	LeadTimes     LeadTimes `yaml:"lead_times"`
	FollowUpEvery Duration  `yaml:"follow_up_every"`
	// ServiceDateRiskBusinessDays flags a service date this many business
	// days away that is not yet authorized.
	ServiceDateRiskBusinessDays int      `yaml:"service_date_risk_business_days"`
	AuthExpiryWarning           Duration `yaml:"auth_expiry_warning"`
}

// LeadTimes are the deadline_approaching lead times, written as one list
// for every deadline kind ("lead_times: [48h, 24h]") or as a mapping with
// a list per kind and a default for the others:
//
//	lead_times:
//	  default: [48h, 24h]
//	  decision_due: [48h, 24h]
//	  appeal_filing: [7d, 2d]
//
// follow_up alerts when due and authorization_expiry uses
// auth_expiry_warning, so neither is a key.
type LeadTimes struct {
	Default           []Duration `yaml:"default"`
	DecisionDue       []Duration `yaml:"decision_due"`
	ServiceDateAtRisk []Duration `yaml:"service_date_at_risk"`
	PeerToPeer        []Duration `yaml:"peer_to_peer"`
	AppealFiling      []Duration `yaml:"appeal_filing"`
	// The escalation path's deadlines (issue 11): the payer's due date for
	// a response to its information request, a scheduled peer-to-peer (a
	// reminder before it), a filed appeal's decision.
	InfoResponseDue   []Duration `yaml:"info_response_due"`
	PeerToPeerCall    []Duration `yaml:"peer_to_peer_call"`
	AppealDecisionDue []Duration `yaml:"appeal_decision_due"`
	// list is set when the file wrote one list (its items' paths are
	// lead_times[i]).
	list bool
}

// leadTimesByKind is LeadTimes written as a mapping, decoded strictly.
type leadTimesByKind LeadTimes

// DecodeYAML accepts a list (every kind) or a mapping per kind.
func (l *LeadTimes) DecodeYAML(d *yamlx.Decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.SequenceNode {
		var list []Duration
		d.Decode(n, reflect.ValueOf(&list).Elem(), path)
		*l = LeadTimes{Default: list, list: true}
		return
	}
	var m leadTimesByKind
	d.Decode(n, reflect.ValueOf(&m).Elem(), path)
	*l = LeadTimes(m)
}

// ByKind returns the per-kind lists that are set, by deadline kind.
func (l LeadTimes) ByKind() map[authpilot.DeadlineKind][]Duration {
	out := map[authpilot.DeadlineKind][]Duration{}
	for k, v := range map[authpilot.DeadlineKind][]Duration{
		authpilot.DeadlineDecisionDue: l.DecisionDue, authpilot.DeadlineServiceAtRisk: l.ServiceDateAtRisk,
		authpilot.DeadlinePeerToPeer: l.PeerToPeer, authpilot.DeadlineAppeal: l.AppealFiling,
		authpilot.DeadlineInfoResponse: l.InfoResponseDue, authpilot.DeadlinePeerToPeerCall: l.PeerToPeerCall,
		authpilot.DeadlineAppealDecision: l.AppealDecisionDue,
	} {
		if len(v) > 0 {
			out[k] = v
		}
	}
	return out
}

// Payer is a health plan or RBM the practice files with.
type Payer struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"` // defaults to ID
	// PlanType selects the default decision-time rules.
	PlanType authpilot.PlanType `yaml:"plan_type"`
	// Connector is the ID of the connector that speaks to this payer.
	Connector string         `yaml:"connector"`
	Deadlines PayerDeadlines `yaml:"deadlines"`
}

// PayerDeadlines override the rule-based deadlines for one payer; nil
// fields keep the rule for the payer's plan type.
type PayerDeadlines struct {
	DecisionStandard       *Duration `yaml:"decision_standard"`
	DecisionExpedited      *Duration `yaml:"decision_expedited"`
	PeerToPeerBusinessDays *int      `yaml:"peer_to_peer_business_days"`
	Appeal                 *Duration `yaml:"appeal"`
	AuthExpiryWarning      *Duration `yaml:"auth_expiry_warning"`
	// ClosedDays are the payer's own closed days beyond the US federal
	// holidays: its business-day windows (peer-to-peer, a business-day
	// decision timeframe) skip them. The practice's closed_days never
	// extend a payer's window.
	ClosedDays []authpilot.Date `yaml:"closed_days"`
}

// Connector is one configured payer portal or API.
type Connector struct {
	ID string `yaml:"id"`
	// Kind is a registered connector kind (connectors.Lookup).
	Kind string `yaml:"kind"`
	// Flow is the absolute path of the file holding the kind's options,
	// when they are not inline.
	Flow string `yaml:"flow"`
	// Options are the kind's decoded, validated options (from the flow
	// file or the inline options mapping).
	Options  connectors.Options `yaml:"options"`
	Schedule ConnectorSchedule  `yaml:"schedule"`
	Limits   Limits             `yaml:"limits"`
	// Watch is how decided cases keep being polled.
	Watch Watch `yaml:"watch"`
	// Notify names extra sinks for this connector's alerts.
	Notify []string `yaml:"notify"`

	optionsNode *yaml.Node
}

// KeepNode keeps the inline options for the kind to decode.
func (c *Connector) KeepNode(key, n *yaml.Node) bool {
	if key.Value != "options" {
		return false
	}
	c.optionsNode = n
	return true
}

// Connector defaults: submit every 15 minutes in business hours, poll at 9
// and 14 on weekdays, 5-minute runs, 3 retries; pages as the connector's
// kind says (a portal flow's limits.pages) and requests unpaced.
var (
	DefaultConnectorSchedule = ConnectorSchedule{
		Submit: "*/15 8-17 * * 1-5",
		Poll:   "0 9,14 * * 1-5",
		Jitter: Duration(2 * time.Minute),
	}
	DefaultLimits = Limits{
		Timeout:       Duration(5 * time.Minute),
		Retries:       3,
		LoginsPerHour: 6,
		Pause:         Duration(time.Hour),
		PauseMax:      Duration(24 * time.Hour),
		MaxRetryAfter: Duration(6 * time.Hour),
	}
)

func (c *Connector) SetDefaults() {
	c.Schedule = DefaultConnectorSchedule
	c.Limits = DefaultLimits
	c.Watch = DefaultWatch
}

// Watch sets how a connector keeps polling decided cases (approved,
// partially approved, modified, denied) so overturns, rescissions and
// modifications are seen: a decided case rides along a regular poll
// only once Every has passed since it was last watched (or decided), and
// only until Tail after its service date.
type Watch struct {
	// Every is the watch cadence; 0 stops watching decided cases.
	Every Duration `yaml:"every"`
	// Tail is how long after the service date a decided case is still
	// watched.
	Tail Duration `yaml:"tail"`
}

// DefaultWatch watches decided cases weekly until 14 days after the
// service date.
var DefaultWatch = Watch{Every: Duration(7 * 24 * time.Hour), Tail: Duration(14 * 24 * time.Hour)}

// ConnectorSchedule holds a connector's cron specs in the practice time
// zone; an empty spec disables the job (a status-only portal has no
// submit).
type ConnectorSchedule struct {
	Submit string `yaml:"submit"`
	Poll   string `yaml:"poll"`
	// Jitter delays each run by a random amount up to this.
	Jitter Duration `yaml:"jitter"`
}

// Limits bound one connector's use of its payer.
type Limits struct {
	// Pages caps the browser pages a portal connector has open at once
	// (a flow's own limits.pages, default 2, is lowered to it); 0 leaves
	// the flow's.
	Pages int `yaml:"pages"`
	// Timeout bounds one run (a poll cycle or a submit batch).
	Timeout Duration `yaml:"timeout"`
	Retries int      `yaml:"retries"`
	// RequestsPerMinute paces the connector's requests to the payer (page
	// loads, fetches and downloads of a portal; HTTP attempts of an API,
	// retries and token requests included), evenly spaced 60/N seconds
	// apart; 0 (the default) is unpaced.
	RequestsPerMinute int `yaml:"requests_per_minute"`
	// LoginsPerHour caps login attempts in any hour (retries included; a
	// visit that reuses a live session does not count).
	LoginsPerHour int `yaml:"logins_per_hour"`
	// Pause is how long logins stop after one that needs a person (auth
	// failure, refused MFA code, CAPTCHA) unless a person resumes the
	// connector first; it doubles with each pause in a row, up to PauseMax.
	Pause    Duration `yaml:"pause"`
	PauseMax Duration `yaml:"pause_max"`
	// MaxRetryAfter caps how long a payer's Retry-After (maintenance page,
	// 503) keeps the connector from logging in.
	MaxRetryAfter Duration `yaml:"max_retry_after"`
}

// Notify is where alerts go.
type Notify struct {
	Sinks  []*Sink  `yaml:"sinks"`
	Routes []*Route `yaml:"routes"`
	Retry  Retry    `yaml:"retry"`
}

// Retry bounds the redelivery of alerts to a failing sink. Zero fields
// take the defaults: retried for 24 h, backoff doubling from 5 s up to
// 1 h, sink_failing after 15 min of failures.
type Retry struct {
	// For is how long a delivery is retried after it was queued (or its
	// sink re-enabled) before it is given up; it is always tried once.
	For Duration `yaml:"for"`
	// MaxBackoff caps the wait between two attempts.
	MaxBackoff Duration `yaml:"max_backoff"`
	// FailingAfter is how long a sink may fail before a sink_failing
	// alert goes to the other sinks.
	FailingAfter Duration `yaml:"failing_after"`
}

// Sink is one alert destination: the fields common to every sink kind,
// and its kind's options (notify.Sink.Options), decoded by the kind from
// the sink's other keys (notify.SinkNode.Own).
type Sink = notify.SinkNode

// Route sends matching alerts to sinks. Routes are tried in order; the
// first match wins unless it says Continue.
type Route struct {
	Match    Match    `yaml:"match"`
	Sinks    []string `yaml:"sinks"`
	Continue bool     `yaml:"continue"`
}

// Match selects alerts. Empty lists match everything; Severity is a
// minimum.
type Match struct {
	Types    []authpilot.AlertType `yaml:"types"`
	Payers   []string              `yaml:"payers"`
	Tracks   []authpilot.Track     `yaml:"tracks"`
	Severity authpilot.Severity    `yaml:"severity"`
}

// Sinks returns the configured sinks, for notify.Build.
func (c *Config) Sinks() []notify.Sink {
	out := make([]notify.Sink, len(c.Notify.Sinks))
	for i, s := range c.Notify.Sinks {
		out[i] = s.Sink
	}
	return out
}

// Router returns the alert router of the routes, the connectors' extra
// sinks and the sinks.
func (c *Config) Router() *notify.Router {
	r := &notify.Router{ExtraSinks: map[string][]string{}}
	for _, rt := range c.Notify.Routes {
		r.Routes = append(r.Routes, notify.Route{Types: rt.Match.Types, Payers: rt.Match.Payers, Tracks: rt.Match.Tracks,
			MinSeverity: rt.Match.Severity, Sinks: rt.Sinks, Continue: rt.Continue})
	}
	for _, cn := range c.Connectors {
		if len(cn.Notify) > 0 {
			r.ExtraSinks[cn.ID] = cn.Notify
		}
	}
	r.Sinks = notify.Names(c.Sinks())
	return r
}

// Location returns the practice time zone.
func (c *Config) Location() *time.Location {
	if c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// Connector returns the connector with the given ID.
func (c *Config) Connector(id string) (*Connector, bool) {
	for _, cn := range c.Connectors {
		if cn.ID == id {
			return cn, true
		}
	}
	return nil, false
}

// Payer returns the payer with the given ID.
func (c *Config) Payer(id string) (*Payer, bool) {
	for _, p := range c.Payers {
		if p.ID == id {
			return p, true
		}
	}
	return nil, false
}

// ConnectorForPayer returns the connector of the payer with the given ID.
func (c *Config) ConnectorForPayer(payerID string) (*Connector, bool) {
	p, ok := c.Payer(payerID)
	if !ok {
		return nil, false
	}
	return c.Connector(p.Connector)
}

// Sink returns the sink with the given name.
func (c *Config) Sink(name string) (*Sink, bool) {
	for _, s := range c.Notify.Sinks {
		if s.Name == name {
			return s, true
		}
	}
	return nil, false
}

// Load reads and parses the config file at path. Errors name the file as
// path is written.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	return Parse(path, data)
}

// readFile reads a regular file of at most maxFileSize bytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", unwrapPath(err))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("cannot read: not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", unwrapPath(err))
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("file is larger than %d bytes", maxFileSize)
	}
	return data, nil
}

// unwrapPath drops the *fs.PathError wrapper, whose path the message
// already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Parse parses a config file's contents over the defaults and validates
// it. file names the file in errors and anchors relative paths (data_dir,
// flow files, passphrase_file). On failure the error is Errors.
func Parse(file string, data []byte) (*Config, error) {
	return parse(file, data, os.LookupEnv)
}

func parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	errs := &collector{}
	cfg := base(errs)
	d := newDecoder(file, errs)
	root := d.Parse(data)
	if len(errs.errs) > 0 {
		es, _ := errs.finish(nil)
		return nil, es
	}
	if root != nil {
		d.ExpandEnv(root, lookup)
		if root.Kind != yaml.MappingNode {
			d.Errorf(root, "", "expected a mapping of settings, got %s", d.Describe(root))
			es, _ := errs.finish(nil)
			return nil, es
		}
		d.Decode(root, reflect.ValueOf(cfg).Elem(), "")
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = filepath.Clean(file)
	}
	cfg.File = abs
	v := &validator{cfg: cfg, d: d, errs: errs, dir: filepath.Dir(abs), lookup: lookup}
	v.run()
	es, warnings := errs.finish(cfg.labels())
	if es != nil {
		return nil, es
	}
	cfg.Warnings = warnings
	return cfg, nil
}

// base decodes the embedded defaults.
func base(errs *collector) *Config {
	cfg := &Config{}
	d := newDecoder(defaultFile, errs)
	if root := d.Parse(defaultYAML); root != nil {
		d.Decode(root, reflect.ValueOf(cfg).Elem(), "")
	}
	return cfg
}

// Default returns the embedded defaults, validated, with relative paths
// resolved against the working directory and the practice named
// DemoPracticeName. It has no payers, connectors or sinks.
func Default() *Config {
	cfg, _ := defaults()
	return cfg
}

// defaults is Default with the validation result, for tests.
func defaults() (*Config, error) {
	errs := &collector{}
	cfg := base(errs)
	cfg.Practice.Name = DemoPracticeName
	dir, err := os.Getwd()
	if err != nil {
		dir = "."
	}
	v := &validator{cfg: cfg, d: newDecoder(defaultFile, errs), errs: errs, dir: dir, lookup: os.LookupEnv}
	v.run()
	es, warnings := errs.finish(cfg.labels())
	cfg.Warnings = warnings
	if es != nil {
		return cfg, es
	}
	return cfg, nil
}

// labels maps list items to their ids for error paths.
func (c *Config) labels() map[string]string {
	m := map[string]string{}
	for i, cn := range c.Connectors {
		m[fmt.Sprintf("connectors[%d]", i)] = cn.ID
	}
	for i, p := range c.Payers {
		m[fmt.Sprintf("payers[%d]", i)] = p.ID
	}
	for i, s := range c.Notify.Sinks {
		m[fmt.Sprintf("notify.sinks[%d]", i)] = s.Name
	}
	return m
}
