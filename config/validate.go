package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/config/secrets"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/internal/didyoumean"
	"github.com/authpilot/authpilot/internal/yamlx"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/schedules"
)

// validator checks a decoded Config in one place: values, then
// cross-references, resolving relative paths and decoding each
// connector's options through its kind on the way.
type validator struct {
	cfg    *Config
	d      *decoder // the main file's decoder, for lines
	errs   *collector
	dir    string // absolute directory of the main file
	lookup func(string) (string, bool)
	loc    *time.Location
}

func (v *validator) errorf(path, format string, args ...any) {
	if v.d.Failed(path) {
		return
	}
	v.errs.add(v.d.file, v.d.Line(path), path, fmt.Sprintf(format, args...))
}

func (v *validator) warnf(path, format string, args ...any) {
	if v.d.Failed(path) {
		return
	}
	v.errs.warn(v.d.file, v.d.Line(path), path, fmt.Sprintf(format, args...))
}

func (v *validator) q(path, value string) string { return v.d.QuoteAt(path, value) }

func (v *validator) run() {
	v.practice()
	v.paths()
	c := v.cfg
	v.enum("log.level", c.Log.Level, []string{"debug", "info", "warn", "error"})
	v.enum("log.format", c.Log.Format, []string{"text", "json"})
	v.server()
	v.keyring()
	v.sections()
	v.enum("recordings.capture", c.Recordings.Capture, []string{CaptureAll, CaptureOnFailure})
	v.positive("recordings.retention", c.Recordings.Retention)
	v.cron("schedules.deadlines", c.Schedules.Deadlines)
	v.cron("schedules.digest", c.Schedules.Digest)
	v.deadlines()
	sinks := v.sinks()
	conns := v.connectors(sinks)
	payers := v.payers(conns)
	v.routes(sinks, payers)
}

func (v *validator) practice() {
	p := &v.cfg.Practice
	if strings.TrimSpace(p.Name) == "" {
		v.errorf("practice.name", "required")
	}
	v.loc = time.UTC
	switch tz := p.Timezone; tz {
	case "":
		v.errorf("practice.timezone", "required (an IANA time zone such as America/New_York)")
	default:
		loc, err := time.LoadLocation(tz)
		if err != nil {
			v.errorf("practice.timezone", "unknown time zone %s (want an IANA name such as America/New_York)", v.q("practice.timezone", tz))
			return
		}
		if tz == "Local" {
			v.warnf("practice.timezone", `"Local" follows the machine's time zone; name the practice's zone instead`)
		}
		v.loc = loc
		v.cfg.loc = loc
	}
}

// abs resolves a path against the config file's directory.
func (v *validator) abs(p string) string {
	if p == "" {
		return ""
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(v.dir, p)
}

func (v *validator) paths() {
	c := v.cfg
	if c.DataDir == "" {
		v.errorf("data_dir", "required")
	}
	c.DataDir = v.abs(c.DataDir)
	if c.Keyring.FileDir == "" && c.DataDir != "" {
		c.Keyring.FileDir = filepath.Join(c.DataDir, "keyring")
	} else {
		c.Keyring.FileDir = v.abs(c.Keyring.FileDir)
	}
	c.Keyring.PassphraseFile = v.abs(c.Keyring.PassphraseFile)
}

// enum checks that value is one of allowed.
func (v *validator) enum(path, value string, allowed []string) {
	if value == "" {
		v.errorf(path, "required (one of %s)", strings.Join(allowed, ", "))
		return
	}
	if !slices.Contains(allowed, value) {
		v.errorf(path, "unknown value %s (one of %s)", v.q(path, value), strings.Join(allowed, ", "))
	}
}

func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.errorf(path, "must be more than 0, not %s", d)
	}
}

func (v *validator) nonNegative(path string, d Duration) {
	if d < 0 {
		v.errorf(path, "must not be negative, not %s", d)
	}
}

func (v *validator) atLeast(path string, n, least int) {
	if n < least {
		v.errorf(path, "must be at least %d, not %d", least, n)
	}
}

// cron checks a cron spec; an empty one disables its job.
func (v *validator) cron(path, spec string) {
	if strings.TrimSpace(spec) == "" {
		return
	}
	// The scheduler's own parser, so that a spec check accepts is one run
	// can schedule (it refuses one that never fires, such as "0 0 30 2 *").
	if _, err := schedules.ParseSpec(spec); err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		v.errorf(path, "bad cron spec %s: %v", v.q(path, spec), err)
	}
}

// secretName checks the name of a keyring secret (never its value: the
// config holds only names).
func (v *validator) secretName(path, name string, required bool) {
	if rule := secrets.NameRule(name, required); rule != "" {
		v.errorf(path, "%s", rule)
	}
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// id checks an identifier and that it is unique among seen (id → path).
func (v *validator) id(path, id, what string, seen map[string]string) {
	switch {
	case id == "":
		v.errorf(path, "required")
		return
	case !idPattern.MatchString(id):
		v.errorf(path, "bad %s %s: use a-z, 0-9 and '-', starting with a letter or digit (at most 64)", what, v.q(path, id))
	}
	if first, dup := seen[id]; dup {
		v.errorf(path, "duplicate %s %s (first at line %d)", what, strconv.Quote(id), v.d.Line(first))
		return
	}
	seen[id] = path
}

func (v *validator) server() {
	s := v.cfg.Server
	const path = "server.listen"
	host, port, err := net.SplitHostPort(s.Listen)
	if err != nil {
		v.errorf(path, "bad address %s: want host:port such as 127.0.0.1:8600", v.q(path, s.Listen))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.errorf(path, "bad port %s", v.q(path, port))
	} else if !isLoopback(host) {
		v.warnf(path, "%s is not a loopback address: the API is reachable from the network, guarded only by its bearer token", v.q(path, s.Listen))
	}
	v.secretName("server.token_secret", s.TokenSecret, true)
	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		v.errorf("server.tls", "set both cert_file and key_file, or neither")
	}
	v.cfg.Server.TLS.CertFile, v.cfg.Server.TLS.KeyFile = v.abs(s.TLS.CertFile), v.abs(s.TLS.KeyFile)
	if u := s.ExternalURL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.RawQuery != "" || pu.Fragment != "" {
			v.errorf("server.external_url", "bad URL %s: want http(s)://host[:port][/path]", v.q("server.external_url", u))
		}
	}
	v.positive("server.idle_timeout", s.IdleTimeout)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *validator) keyring() {
	k := v.cfg.Keyring
	v.enum("keyring.backend", k.Backend, secrets.Backends)
	if k.Backend != "file" {
		return
	}
	if !yamlx.IsEnvName(k.PassphraseEnv) {
		v.errorf("keyring.passphrase_env", "bad environment variable name %s", v.q("keyring.passphrase_env", k.PassphraseEnv))
	}
}

// sections decodes every top-level section a registered connector kind
// owns (connectors.Section) with the file's decoder over the kind's
// defaults, then has the kind check it.
func (v *validator) sections() {
	v.cfg.Sections = map[string]connectors.SectionOptions{}
	for _, name := range connectors.Kinds() {
		k, _ := connectors.Lookup(name)
		if k.Section == nil {
			continue
		}
		sec := k.Section.Name
		opts := k.Section.New()
		before := len(v.errs.errs)
		if node := v.cfg.sectionNodes[sec]; node != nil && !yamlx.IsNull(node) {
			v.d.Decode(node, reflect.ValueOf(opts).Elem(), sec)
		}
		if len(v.errs.errs) > before {
			continue
		}
		if err := opts.Check(v.dir); err != nil {
			var fes connectors.FieldErrors
			if !errors.As(err, &fes) {
				v.errorf(sec, "%v", err)
				continue
			}
			for _, fe := range fes {
				v.errorf(join(sec, fe.Path), "%s", fe.Msg)
			}
			continue
		}
		v.cfg.Sections[sec] = opts
	}
}

func (v *validator) deadlines() {
	d := v.cfg.Deadlines
	lt := d.LeadTimes
	leads := func(path string, ls []Duration) {
		seen := map[Duration]bool{}
		for i, l := range ls {
			p := fmt.Sprintf("%s[%d]", path, i)
			v.positive(p, l)
			if l > 0 && seen[l] {
				v.errorf(p, "%s is listed twice", l)
			}
			seen[l] = true
		}
	}
	if lt.list {
		leads("deadlines.lead_times", lt.Default)
	} else {
		leads("deadlines.lead_times.default", lt.Default)
		leads("deadlines.lead_times.decision_due", lt.DecisionDue)
		leads("deadlines.lead_times.service_date_at_risk", lt.ServiceDateAtRisk)
		leads("deadlines.lead_times.peer_to_peer", lt.PeerToPeer)
		leads("deadlines.lead_times.appeal_filing", lt.AppealFiling)
		leads("deadlines.lead_times.info_response_due", lt.InfoResponseDue)
		leads("deadlines.lead_times.peer_to_peer_call", lt.PeerToPeerCall)
		leads("deadlines.lead_times.appeal_decision_due", lt.AppealDecisionDue)
	}
	v.positive("deadlines.follow_up_every", d.FollowUpEvery)
	if d.FollowUpEvery > 0 && d.FollowUpEvery < Duration(time.Hour) {
		// An overdue follow-up alert more often than hourly is noise.
		v.errorf("deadlines.follow_up_every", "must be at least 1h, not %s", d.FollowUpEvery)
	}
	v.atLeast("deadlines.service_date_risk_business_days", d.ServiceDateRiskBusinessDays, 0)
	v.nonNegative("deadlines.auth_expiry_warning", d.AuthExpiryWarning)
}

// sinks checks the sinks, decodes each one's own keys through its kind,
// and returns their names.
func (v *validator) sinks() []string {
	var names []string
	seen := map[string]string{}
	for i, s := range v.cfg.Notify.Sinks {
		p := fmt.Sprintf("notify.sinks[%d]", i)
		v.id(p+".name", s.Name, "sink name", seen)
		names = append(names, s.Name)
		v.sinkOptions(p, s)
	}
	v.nonNegative("notify.retry.for", v.cfg.Notify.Retry.For)
	v.nonNegative("notify.retry.max_backoff", v.cfg.Notify.Retry.MaxBackoff)
	v.nonNegative("notify.retry.failing_after", v.cfg.Notify.Retry.FailingAfter)
	if len(v.cfg.Notify.Sinks) > 0 && len(v.cfg.Notify.Routes) == 0 {
		v.warnf("notify", "sinks but no routes: only connectors' notify lists send alerts")
	}
	return names
}

// sinkOptions decodes a sink's own keys through its kind (notify.Lookup).
func (v *validator) sinkOptions(p string, s *Sink) {
	if !v.registered(p+".type", "sink type", s.Type, notify.Kinds(), "none linked in") {
		return
	}
	kind, _ := notify.Lookup(s.Type)
	opts, err := decodeSinkOptions(kind, s.Sink, s.Own(v.d.Line(p)))
	fieldErr := func(fe *notify.FieldError, warn bool) {
		if v.d.Failed(join(p, fe.Path)) {
			return
		}
		l := fe.Line
		if l <= 0 {
			l = v.d.Line(join(p, fe.Path))
		}
		if warn {
			v.errs.warn(v.d.file, l, join(p, fe.Path), fe.Msg)
		} else {
			v.errs.add(v.d.file, l, join(p, fe.Path), fe.Msg)
		}
	}
	var fes notify.FieldErrors
	switch {
	case err == nil && opts == nil:
		v.errorf(p, "sink type %q returned no options", kind.Name)
	case errors.As(err, &fes) && len(fes) > 0:
		for _, fe := range fes {
			fieldErr(fe, false)
		}
	case err != nil:
		v.errorf(p, "%v", err)
	default:
		s.Options = opts
		if w, ok := opts.(notify.Warner); ok {
			for _, fe := range w.Warnings() {
				fieldErr(fe, true)
			}
		}
	}
}

// registered checks the kind a sink's type or a connector's kind names
// at path (what: "sink type", "connector kind"): required, and one of the
// registered kinds (with a did-you-mean; none when there are none). It
// reports whether name is one.
func (v *validator) registered(path, what, name string, kinds []string, none string) bool {
	list := none
	if len(kinds) > 0 {
		list = strings.Join(kinds, ", ")
	}
	switch {
	case name == "":
		v.errorf(path, "required (one of %s)", list)
		return false
	case !slices.Contains(kinds, name):
		v.errorf(path, "unknown %s %s%s (registered: %s)", what, v.q(path, name), didyoumean.Suggest(name, kinds), list)
		return false
	}
	return true
}

// decodeSinkOptions runs a sink kind's decoder, turning a panic into an
// error.
func decodeSinkOptions(k notify.Kind, common notify.Sink, n *yaml.Node) (opts notify.SinkOptions, err error) {
	defer func() {
		if r := recover(); r != nil {
			opts, err = nil, fmt.Errorf("sink type %q failed to decode its options: %v", k.Name, r)
		}
	}()
	return k.Decode(common, n)
}

// connectors checks the connectors, decodes their options and returns
// their ids.
func (v *validator) connectors(sinks []string) []string {
	var ids []string
	seen := map[string]string{}
	for i, cn := range v.cfg.Connectors {
		p := fmt.Sprintf("connectors[%d]", i)
		v.id(p+".id", cn.ID, "connector id", seen)
		ids = append(ids, cn.ID)
		v.connectorOptions(p, cn)
		v.cron(p+".schedule.submit", cn.Schedule.Submit)
		v.cron(p+".schedule.poll", cn.Schedule.Poll)
		v.nonNegative(p+".schedule.jitter", cn.Schedule.Jitter)
		v.nonNegative(p+".watch.every", cn.Watch.Every)
		v.nonNegative(p+".watch.tail", cn.Watch.Tail)
		l := cn.Limits
		v.atLeast(p+".limits.pages", l.Pages, 0)
		v.pagesWithinCap(p, cn)
		v.positive(p+".limits.timeout", l.Timeout)
		v.handOffWithinTimeout(p, cn)
		v.atLeast(p+".limits.retries", l.Retries, 0)
		v.atLeast(p+".limits.requests_per_minute", l.RequestsPerMinute, 0)
		v.atLeast(p+".limits.logins_per_hour", l.LoginsPerHour, 1)
		v.positive(p+".limits.pause", l.Pause)
		v.positive(p+".limits.max_retry_after", l.MaxRetryAfter)
		if l.PauseMax < l.Pause {
			v.errorf(p+".limits.pause_max", "must be at least limits.pause (%s), not %s", l.Pause, l.PauseMax)
		}
		for j, s := range cn.Notify {
			v.ref(fmt.Sprintf("%s.notify[%d]", p, j), s, "sink", sinks)
		}
	}
	return ids
}

// ref checks that name is one of known.
func (v *validator) ref(path, name, what string, known []string) {
	if name == "" {
		v.errorf(path, "required (the name of a %s)", what)
		return
	}
	if !slices.Contains(known, name) {
		v.errorf(path, "unknown %s %s%s", what, v.q(path, name), didyoumean.Suggest(name, known))
	}
}

// connectorOptions loads a connector's options (flow file or inline) and
// decodes them through its kind.
func (v *validator) connectorOptions(p string, cn *Connector) {
	var (
		node *yaml.Node
		file = v.d.file
	)
	switch {
	case cn.Flow != "" && cn.optionsNode != nil:
		v.errorf(p+".options", "give flow or options, not both")
	case cn.Flow == "" && cn.optionsNode == nil:
		if !v.d.Failed(p + ".flow") {
			v.errorf(p, "one of flow (a file of options) or options is required")
		}
	case cn.Flow != "":
		node, file = v.loadFlow(p, cn)
	default:
		node = cn.optionsNode
		if yamlx.IsNull(node) {
			node = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: node.Line, Column: node.Column}
		}
	}

	if !v.registered(p+".kind", "connector kind", cn.Kind, connectors.Kinds(), "none") {
		return
	}
	kind, _ := connectors.Lookup(cn.Kind)
	if node == nil {
		return
	}
	opts, err := decodeOptions(kind, node)
	if err != nil {
		v.optionErrors(file, p, node, err)
		return
	}
	if opts == nil {
		v.errs.add(file, node.Line, p, fmt.Sprintf("connector kind %q returned no options", kind.Name))
		return
	}
	cn.Options = opts
	if w, ok := opts.(connectors.Warner); ok {
		for _, fe := range w.Warnings() {
			line := fe.Line
			if line <= 0 {
				line = node.Line
			}
			v.errs.warn(file, line, join(p, fe.Path), fe.Msg)
		}
	}
}

// pagesWithinCap warns about a connector's limits.pages above the cap of
// the resource its kind shares (browser.max_pages): the connector waits
// for pages the other connectors hold rather than open more.
func (v *validator) pagesWithinCap(p string, cn *Connector) {
	kind, ok := connectors.Lookup(cn.Kind)
	if !ok || kind.Section == nil || cn.Limits.Pages <= 0 {
		return
	}
	pc, ok := v.cfg.Sections[kind.Section.Name].(connectors.PageCapper)
	if !ok {
		return
	}
	if n, key := pc.PageCap(); n > 0 && cn.Limits.Pages > n {
		v.warnf(p+".limits.pages", "%d is more than %s.%s (%d), which every %s connector shares: no more than %d pages open at once",
			cn.Limits.Pages, kind.Section.Name, key, n, kind.Name, n)
	}
}

// handOffWithinTimeout warns about a connector whose run ends
// (limits.timeout) before a person could answer one of its visits'
// hand-offs: the run would stop the visit that waits.
func (v *validator) handOffWithinTimeout(p string, cn *Connector) {
	w, ok := cn.Options.(connectors.HandOffWaiter)
	if !ok || cn.Limits.Timeout <= 0 {
		return
	}
	if wait := w.HandOffWait(); wait > time.Duration(cn.Limits.Timeout) {
		v.warnf(p+".limits.timeout", "%s is shorter than the %s a visit may wait for a person (an ask step): the run stops it first (raise limits.timeout)",
			time.Duration(cn.Limits.Timeout), wait)
	}
}

// decodeOptions runs a kind's decoder, turning a panic into an error.
func decodeOptions(k connectors.Kind, n *yaml.Node) (opts connectors.Options, err error) {
	defer func() {
		if r := recover(); r != nil {
			opts, err = nil, fmt.Errorf("connector kind %q failed to decode its options: %v", k.Name, r)
		}
	}()
	return k.Decode(n)
}

// optionErrors maps a kind's decode errors to file:line errors under the
// connector's path.
func (v *validator) optionErrors(file, p string, node *yaml.Node, err error) {
	v.fieldErrors(file, p, node.Line, err)
}

// fieldErrors maps a kind's FieldErrors to file:line errors under path p;
// an error without a line gets line.
func (v *validator) fieldErrors(file, p string, line int, err error) {
	add := func(fe *connectors.FieldError) {
		if fe == nil {
			return
		}
		l := fe.Line
		if l <= 0 {
			l = line
		}
		v.errs.add(file, l, join(p, fe.Path), fe.Msg)
	}
	var fes connectors.FieldErrors
	var fe *connectors.FieldError
	switch {
	case errors.As(err, &fes):
		for _, e := range fes {
			add(e)
		}
		if len(fes) == 0 {
			v.errs.add(file, line, p, "options rejected without a reason")
		}
	case errors.As(err, &fe):
		add(fe)
	default:
		v.errs.add(file, line, p, err.Error())
	}
}

// loadFlow reads a connector's flow file: relative to the config file,
// named in errors as the config file's directory joined with it.
func (v *validator) loadFlow(p string, cn *Connector) (*yaml.Node, string) {
	written := cn.Flow
	shown := written
	if !filepath.IsAbs(written) {
		shown = filepath.Join(filepath.Dir(v.d.file), written)
	}
	cn.Flow = v.abs(written)
	data, err := readFile(cn.Flow)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			msg = "does not exist"
		}
		v.errorf(p+".flow", "%s: %s", shown, msg)
		return nil, ""
	}
	fd := newDecoder(shown, v.errs)
	fd.Base = p
	before := len(v.errs.errs)
	root := fd.Parse(data)
	if len(v.errs.errs) > before {
		return nil, ""
	}
	if root == nil {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1, Column: 1}, shown
	}
	fd.ExpandEnv(root, v.lookup)
	if len(v.errs.errs) > before {
		return nil, ""
	}
	return root, shown
}

// payers checks the payers and returns their ids.
func (v *validator) payers(conns []string) []string {
	var ids []string
	seen := map[string]string{}
	plans := make([]string, len(authpilot.PlanTypes))
	for i, pt := range authpilot.PlanTypes {
		plans[i] = string(pt)
	}
	for i, py := range v.cfg.Payers {
		p := fmt.Sprintf("payers[%d]", i)
		v.id(p+".id", py.ID, "payer id", seen)
		ids = append(ids, py.ID)
		if py.Name == "" {
			py.Name = py.ID
		}
		if py.PlanType == "" {
			v.errorf(p+".plan_type", "required (one of %s)", strings.Join(plans, ", "))
		} else if !slices.Contains(authpilot.PlanTypes, py.PlanType) {
			v.errorf(p+".plan_type", "unknown plan type %s%s (one of %s)", v.q(p+".plan_type", string(py.PlanType)), didyoumean.Suggest(string(py.PlanType), plans), strings.Join(plans, ", "))
		}
		v.ref(p+".connector", py.Connector, "connector", conns)
		dl := py.Deadlines
		for _, f := range []struct {
			name   string
			d      *Duration
			zeroOK bool
		}{
			{"decision_standard", dl.DecisionStandard, false},
			{"decision_expedited", dl.DecisionExpedited, false},
			{"appeal", dl.Appeal, false},
			{"auth_expiry_warning", dl.AuthExpiryWarning, true},
		} {
			switch {
			case f.d == nil:
			case f.zeroOK:
				v.nonNegative(p+".deadlines."+f.name, *f.d)
			default:
				v.positive(p+".deadlines."+f.name, *f.d)
			}
		}
		if dl.Appeal != nil && *dl.Appeal > 0 && *dl.Appeal%Duration(schedules.Day) != 0 {
			// An appeal window is counted in calendar days.
			v.errorf(p+".deadlines.appeal", "must be whole days, not %s", *dl.Appeal)
		}
		if dl.PeerToPeerBusinessDays != nil {
			v.atLeast(p+".deadlines.peer_to_peer_business_days", *dl.PeerToPeerBusinessDays, 0)
		}
	}
	return ids
}

// routes checks the routes' references.
func (v *validator) routes(sinks, payers []string) {
	types := make([]string, len(authpilot.AlertTypes))
	for i, t := range authpilot.AlertTypes {
		types[i] = string(t)
	}
	tracks := make([]string, len(authpilot.Tracks))
	for i, t := range authpilot.Tracks {
		tracks[i] = string(t)
	}
	severities := []string{string(authpilot.SeverityInfo), string(authpilot.SeverityWarning), string(authpilot.SeverityCritical)}
	for i, r := range v.cfg.Notify.Routes {
		p := fmt.Sprintf("notify.routes[%d]", i)
		if len(r.Sinks) == 0 {
			v.errorf(p+".sinks", "at least one sink is required")
		}
		for j, s := range r.Sinks {
			v.ref(fmt.Sprintf("%s.sinks[%d]", p, j), s, "sink", sinks)
		}
		for j, t := range r.Match.Types {
			v.ref(fmt.Sprintf("%s.match.types[%d]", p, j), string(t), "alert type", types)
		}
		for j, t := range r.Match.Tracks {
			v.ref(fmt.Sprintf("%s.match.tracks[%d]", p, j), string(t), "track", tracks)
		}
		for j, py := range r.Match.Payers {
			v.ref(fmt.Sprintf("%s.match.payers[%d]", p, j), py, "payer", payers)
		}
		if r.Match.Severity != "" {
			v.enum(p+".match.severity", string(r.Match.Severity), severities)
		}
	}
}
