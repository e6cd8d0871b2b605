// Package connectors is the contract between the agent and the code that
// speaks one payer's or RBM's dialogue, and the registry of connector kinds.
// A kind (portal, fhirpas) registers itself in init; the config loader
// decodes each connector's options through its kind, and the agent builds
// and drives connectors through the interfaces here. The agent owns
// scheduling, timeouts, retries, rate limits, recording and applying results;
// a connector only talks to the payer, waiting on Env.Limiter before each
// request so the agent's rate limit holds. What a connector reports (Observation,
// Submission, File) and its error classes (Error, ErrAuth, …) are the
// domain's, in package authpilot.
package connectors

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/registry"
	"github.com/authpilot/authpilot/internal/yamlx"
)

// Capabilities says what a connector can do; some portals are status-only.
type Capabilities struct {
	Submit bool `json:"submit"`
	Poll   bool `json:"poll"`
	// Find searches the payer for a request already made for a case (used
	// to reconcile after a crash between submit intent and result).
	Find bool `json:"find"`
	// Respond sends additional information (a note and documents) to a
	// request the payer pended (Responder).
	Respond bool `json:"respond"`
	// Withdraw withdraws a request at the payer (Withdrawer).
	Withdraw bool `json:"withdraw"`
}

// ErrUnsupported is the class of an action the connector cannot do (see
// its Capabilities): the agent records the action as done outside the
// payer's portal instead.
var ErrUnsupported = authpilot.ErrUnsupported

// ErrNotThisCase is the cause of a Respond or Withdraw that stopped
// before acting because the payer's page shows a request that is not the
// case's (Case.IdentityMismatch): nothing was sent. A connector wraps it
// in an *authpilot.Error of class ErrNeedsHuman naming the fields that
// differ, never their values.
var ErrNotThisCase = errors.New("the payer's request shown is not this case's")

// NotThisCase is the error of a Respond or Withdraw stopped because the
// payer's page shows a request whose fields (names only, never values)
// differ from the case's.
func NotThisCase(step string, fields []string) error {
	return &authpilot.Error{Class: authpilot.ErrNeedsHuman, Step: step, Err: ErrNotThisCase,
		Msg: "nothing sent: the payer's page shows a request whose " + strings.Join(fields, ", ") + " differ from the case's"}
}

// Response is what the practice sends to a payer's information request:
// a note (the free text of the answer) and the documents, each with its
// original name and media type.
type Response struct {
	Note  string
	Files []authpilot.File
}

// Responder is a Session that can answer a pended request: it opens the
// request of c at the payer, verifies that the page shows c's request
// (Case.IdentityMismatch on what the payer shows) before it sends
// anything, sends r and returns what the payer shows afterwards (back in
// review: StatusSubmitted). A request that is not c's is an error and
// nothing is sent.
type Responder interface {
	Respond(ctx context.Context, c *authpilot.Case, r Response) (authpilot.Observation, error)
}

// Withdrawer is a Session that can withdraw c's request at the payer,
// with the same identity check before it acts; it returns what the payer
// shows afterwards (StatusWithdrawn).
type Withdrawer interface {
	Withdraw(ctx context.Context, c *authpilot.Case, reason string) (authpilot.Observation, error)
}

// Connector is one configured payer or RBM. It is built once and reused;
// Open starts one visit.
type Connector interface {
	Capabilities() Capabilities
	// Open starts a visit (a poll cycle or a submit batch): it logs in once.
	// Every call on the session shares that login. rec captures evidence.
	Open(ctx context.Context, rec Recorder) (Session, error)
	// Close releases what the connector holds (browser context, clients).
	Close() error
}

// Session is one logged-in visit. Its methods are called one at a time.
type Session interface {
	// Submit files c with the payer. Right before the final, irreversible
	// step (the last click, the POST) it calls commit, which records the
	// intent durably; if commit fails Submit must not submit.
	Submit(ctx context.Context, c *authpilot.Case, commit func(context.Context) error) (*authpilot.Submission, error)
	// Poll observes many cases in one visit and returns one observation per
	// case, in any order. A failure of the whole visit is returned as err;
	// a failure about one case goes in its Observation.Err.
	Poll(ctx context.Context, cases []*authpilot.Case) ([]authpilot.Observation, error)
	// Find looks for a request already made for c (member, codes, service
	// date) at or after since, the time the submission intent was recorded:
	// a request the payer shows as made before it is not c's. Where the
	// payer shows several candidates, Find picks the one whose identity
	// matches c (Case.IdentityMismatch). It returns an error wrapping
	// authpilot.ErrRequestNotFound when there is none, and reports in Submission.Shown what
	// the payer showed of the request it found.
	Find(ctx context.Context, c *authpilot.Case, since time.Time) (*authpilot.Submission, error)
	Close() error
}

// LoginReuser is a Session that can tell whether its Open reused a live
// login (kept cookies, a cached access token) instead of presenting the
// credentials; such a visit does not count toward the connector's hourly
// login cap. A Session that does not implement it counts as a login.
type LoginReuser interface {
	ReusedLogin() bool
}

// StreamPoller is a Session that hands over each observation as soon as it
// is made, so the caller stores it while the visit goes on. emit is called
// once per case (calls do not overlap), all before PollEach returns; when
// the whole visit fails, the observations already emitted stand and the
// rest are not emitted.
type StreamPoller interface {
	PollEach(ctx context.Context, cases []*authpilot.Case, emit func(authpilot.Observation)) error
}

// Recorder captures the evidence of one connector run: a step log with
// timings, screenshots, DOM snapshots and network exchanges. Implementations
// redact every value registered with Redact before anything is written, and
// are safe for concurrent use (a visit reads several pages at once).
type Recorder interface {
	// ID names the recording; events link to it.
	ID() string
	// Redact registers values (secrets, PHI) never to be written verbatim.
	Redact(values ...string)
	// Step logs one step: its name, when it started, and its error if any.
	Step(name string, start time.Time, err error)
	// Attach stores an artifact of the current step: kind is "screenshot",
	// "dom" or "network"; name is a file name hint.
	Attach(kind, name, contentType string, data []byte)
	// Wants reports whether an artifact kind is captured for a step that
	// succeeded (per config: every step, or on failure only).
	Wants(kind string, failed bool) bool
}

// TextRedactor is implemented by recorders that can redact a text the way
// they redact what they write: every registered value and every PHI value
// the store knows replaced by "[REDACTED]". A browser connector uses it to
// mask a page's text before a screenshot, which cannot be redacted after.
type TextRedactor interface {
	RedactText(s string) string
}

// Env is what a connector is given when it is built.
type Env struct {
	ID string
	// Logger is the process logger; a connector scopes it with its ID.
	Logger  *slog.Logger
	Secrets authpilot.Secrets
	// Now is the clock; tests inject one.
	Now func() time.Time
	// Location is the practice's time zone (practice.timezone): payer
	// dates and times without an offset are read in it. nil is UTC.
	Location *time.Location
	DataDir  string
	// Resource is what the connector's kind provided from its section of
	// authpilot.yaml at start-up (Kind.Section), shared by every connector
	// of the kind in the process: the portal kind's one headless browser.
	// nil: the connector makes its own.
	Resource io.Closer
	// Limiter spaces the connector's requests to the payer
	// (limits.requests_per_minute): a browser connector waits on it before
	// every page load, fetch and download, an API connector before every
	// HTTP attempt (retries and token requests included). nil: unlimited.
	Limiter Limiter
	// Pages caps the browser pages a connector has open at once
	// (limits.pages); 0 leaves the kind's own setting.
	Pages int
	// HandOffs reaches a person when a visit needs one (a texted code, a
	// CAPTCHA). nil: nobody can be asked, the visit stops with
	// needs_human.
	HandOffs HandOffs
}

// Limiter paces requests. Wait blocks until one more request may be sent
// or ctx ends (then it returns ctx's error).
type Limiter interface {
	Wait(ctx context.Context) error
}

// Options are a connector's decoded, validated kind-specific settings.
type Options interface {
	// New builds the connector. It does no I/O: logins and browser
	// launches happen on first Open.
	New(env Env) (Connector, error)
}

// OptionsDecoder adapts a kind's decoder of its own options type to
// Kind.Decode: a failed decode gives a nil Options, never a typed nil.
func OptionsDecoder[O Options](decode func(*yaml.Node) (O, error)) func(*yaml.Node) (Options, error) {
	return func(n *yaml.Node) (Options, error) {
		o, err := decode(n)
		if err != nil {
			return nil, err
		}
		return o, nil
	}
}

// Warner is implemented by Options that have findings which do not stop
// the daemon (e.g. a flow that reads nothing identifying a request);
// config check prints them as warnings with their lines.
type Warner interface {
	Warnings() FieldErrors
}

// Kind is a registered connector kind.
type Kind struct {
	Name string
	// Decode strictly decodes and validates a connector's options without
	// I/O. Errors name the YAML line: return FieldErrors.
	Decode func(node *yaml.Node) (Options, error)
	// Section, if set, is the top-level section of authpilot.yaml the
	// kind owns (the portal kind owns browser:): the settings of the
	// resource its connectors share, which the kind builds at start-up.
	Section *Section
}

// Section is a top-level config section a kind owns. The config loader
// decodes the section with its own strict decoder (file:line errors,
// did-you-mean, environment references) into the kind's settings, then
// has the kind check them; the agent asks the settings for the shared
// resource once, before it builds the kind's connectors (Env.Resource),
// and closes it after them.
type Section struct {
	// Name is the top-level key, e.g. "browser".
	Name string
	// New returns the section's settings holding their defaults: a
	// pointer to a struct whose yaml tags name its keys.
	New func() SectionOptions
}

// SectionOptions are a kind's section settings.
type SectionOptions interface {
	// Check validates the decoded settings without I/O and resolves
	// relative paths against dir, the config file's directory. It returns
	// FieldErrors whose paths are inside the section (the loader finds
	// their lines).
	Check(dir string) error
	// Provide builds the resource the kind's connectors share. It does no
	// I/O (a browser launches on first use); the caller closes it.
	Provide(log *slog.Logger) (io.Closer, error)
}

// PageCapper is implemented by SectionOptions whose resource caps the
// pages open at once across the kind's connectors (the portal kind's
// browser.max_pages): config check warns about a connector whose
// limits.pages is above the cap, which it can never reach.
type PageCapper interface {
	// PageCap returns the cap and its key in the section.
	PageCap() (pages int, key string)
}

// HandOffWaiter is implemented by Options whose visits may stop and wait
// for a person (the portal kind's ask step): config check warns about a
// connector whose run ends (limits.timeout) before such a wait can.
type HandOffWaiter interface {
	// HandOffWait is the longest a visit may wait for a person, as far
	// as the options themselves let it (zero: never).
	HandOffWait() time.Duration
}

// SectionOwner returns the kind that owns the top-level config section
// name.
func SectionOwner(name string) (Kind, bool) {
	return kinds.Find(func(k Kind) bool { return k.Section != nil && k.Section.Name == name })
}

// FieldError is a problem at a line of a connector's options; kinds'
// decoders return FieldErrors.
type FieldError = yamlx.FieldError

// FieldErrors is a list of option errors.
type FieldErrors = yamlx.FieldErrors

var kinds = registry.New[Kind]("connectors: kind")

// Register adds a kind. It panics on a duplicate or empty name, a kind
// without decoder, or a section another kind claims: those are programming
// errors found at start-up.
func Register(k Kind) {
	if k.Decode == nil {
		panic("connectors: Register of a kind without decoder: " + k.Name)
	}
	if k.Section != nil && (k.Section.Name == "" || k.Section.New == nil) {
		panic("connectors: kind " + k.Name + " claims a section without name or decoder")
	}
	kinds.Add(k.Name, k, func(o Kind) string {
		if k.Section != nil && o.Section != nil && o.Section.Name == k.Section.Name {
			return "claims section " + k.Section.Name + ", which kind " + o.Name + " claimed"
		}
		return ""
	})
}

// Lookup returns a registered kind.
func Lookup(name string) (Kind, bool) { return kinds.Lookup(name) }

// Kinds returns the registered kind names, sorted.
func Kinds() []string { return kinds.Names() }

// ParseRetryAfter reads an HTTP Retry-After value, delay-seconds or an
// HTTP date (relative to now), as a duration; it reports false for an
// empty, malformed or past value.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0, false
		}
		if n > int64(maxRetryAfterSeconds) {
			n = maxRetryAfterSeconds
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d <= 0 {
		return 0, false
	}
	return d, true
}

// maxRetryAfterSeconds keeps a huge delay-seconds from overflowing; the
// agent clamps the wait further (limits.max_retry_after).
const maxRetryAfterSeconds = 366 * 24 * 3600
