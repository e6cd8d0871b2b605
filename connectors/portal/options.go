package portal

import (
	_ "embed"
	"net/url"
	"regexp"
	"text/template"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
)

// Defaults of the limits section.
const (
	DefaultPages       = 2
	DefaultStepTimeout = 20 * time.Second
	DefaultFlowTimeout = 3 * time.Minute
	// DefaultHandOffTimeout is limits.hand_off_timeout's default.
	DefaultHandOffTimeout = 10 * time.Minute
	DefaultRecycleAfter   = 50
	DefaultMaxListPages   = 50
)

// Options are a decoded, validated portal connector configuration. They are
// built by Decode; the zero value is not useful.
type Options struct {
	// BaseURL is the portal's root; relative goto URLs resolve against it.
	BaseURL *url.URL
	// Secrets maps a role used by templates and totp steps ("password") to
	// the keyring item holding it ("summit-password").
	Secrets map[string]string
	Limits  Limits
	Session SessionOptions
	HandOff HandOffOptions
	// StatusMap turns the payer's wording into a normalized status; the
	// first matching rule wins.
	StatusMap []StatusRule
	// Interrupts are pages that may appear instead of any expected element
	// (an expired session, a CAPTCHA, a maintenance notice).
	Interrupts []*Alternative
	// Flows are named, reusable step lists run by the call step.
	Flows map[string]*Flow

	// Identity names the fields this portal shows that identify a request
	// (authpilot.IdentityFields: member_id, dob, codes, service_date). The
	// find flow and the poll's detail/lookup flow extract them, and the
	// agent checks them against the case before linking the request to it.
	Identity []string

	// Timezone is the zone the portal prints its times in (the flow's
	// timezone: field); nil means the practice's zone (connectors.Env).
	Timezone *time.Location
	// practiceZone is the practice's zone, set on the connector's copy.
	practiceZone *time.Location

	Login    *Flow
	Submit   *SubmitFlow
	Poll     *PollFlow
	Download *DownloadFlow
	Find     *Flow
	// Respond sends additional information (a note and documents) to a
	// pended request; Withdraw withdraws a request. Each is shaped like
	// submit (steps, final, result); their steps open the case's request
	// and read what identifies it, and nothing is sent (an upload, the
	// final step) before it matched the case.
	Respond  *SubmitFlow
	Withdraw *SubmitFlow

	// warnings are findings that do not stop the daemon (config check
	// prints them).
	warnings connectors.FieldErrors
}

// Warnings implements connectors.Warner.
func (o *Options) Warnings() connectors.FieldErrors { return o.warnings }

// Limits bound a connector's use of the browser.
type Limits struct {
	// Pages is the most browser pages open at once for this portal.
	Pages int
	// StepTimeout bounds every step (an element wait, a navigation).
	StepTimeout time.Duration
	// FlowTimeout bounds one run of a flow (a login, one case's detail).
	FlowTimeout time.Duration
	// HandOffTimeout is how long a visit waits for a person (an ask step,
	// a CAPTCHA handed off) unless the step sets its own; the flow timeout
	// still bounds it.
	HandOffTimeout time.Duration
}

// HandOffOptions say when a visit hands its page to a person besides the
// alternatives that name hand_off.
type HandOffOptions struct {
	// UnexpectedPage: an expect step that finds none of its alternatives
	// hands the page to a person in a live view (kind unexpected_page)
	// before it fails as portal_changed; the step runs again when they
	// hand it back.
	UnexpectedPage bool
}

// SessionOptions control login reuse between visits.
type SessionOptions struct {
	// KeepCookies keeps the portal's cookies between visits, so a login
	// flow that recognizes a live session (an expect alternative with
	// done: true) can skip the sign-in.
	KeepCookies bool
}

// StatusRule maps payer wording to a status.
type StatusRule struct {
	Pattern *regexp.Regexp
	Status  authpilot.Status
	Line    int
}

// Flow is a list of steps.
type Flow struct {
	Path  string
	Steps []*Step
}

// SubmitFlow fills the payer's request form. Final is the irreversible
// step: the intent is committed right before it runs.
type SubmitFlow struct {
	Flow
	Final  []*Step
	Result []*Step
}

// PollFlow reads request statuses: from a list page that shows many requests
// (then Detail is opened only for changed rows), or case by case with Lookup.
type PollFlow struct {
	List   *ListSpec
	Detail *Flow
	Lookup *Flow
	// Fetch reads the list, detail (or lookup) and download pages by
	// fetching their HTML from the logged-in tab instead of navigating it
	// (see fetch.go); a page that does not match is read again in a tab.
	Fetch bool
}

// DownloadFlow fetches a decided case's letters, on the page the detail (or
// lookup) flow left open.
type DownloadFlow struct {
	Flow
	// When lists the statuses whose letters are downloaded (default: the
	// decided statuses).
	When []authpilot.Status
}

// ListSpec reads a paginated table of requests.
type ListSpec struct {
	Path string
	Line int
	// Goto is the list page's URL template (optional when Steps navigate).
	Goto *tmpl
	// Steps run after Goto, before the rows are read (filters, tabs).
	Steps []*Step
	// Rows selects one element per request.
	Rows string
	// Key is the row's payer reference, matched to Case.PayerRef.
	Key *FieldSpec
	// Fields are read from each row: status, updated, ...
	Fields map[string]*FieldSpec
	// Next is the next-page link; reading stops when it is absent or
	// disabled, or after MaxPages pages.
	Next     string
	MaxPages int
	// Empty is an element shown instead of rows when the list is empty.
	Empty string
	// PageURL opens list page {{.Page}} directly; with PageCount (read on
	// the first page) the other pages are read side by side instead of
	// following Next one page at a time.
	PageURL   *tmpl
	PageCount *FieldSpec

	// Synthetic steps, so list reading is recorded like any flow.
	gotoStep, rowsStep, nextStep, pageStep *Step
}

// FieldSpec reads one value from an element.
type FieldSpec struct {
	Selector string
	// Attr reads an attribute instead of the text.
	Attr string
	// Regex keeps the first capture group (or the whole match).
	Regex    *regexp.Regexp
	Optional bool
}

// Alternative is one outcome of an expect step or an interrupt.
type Alternative struct {
	Name string
	Line int
	Path string
	// Matchers: all that are set must hold.
	Selector string
	Text     *regexp.Regexp
	URL      *regexp.Regexp
	// Outcome: at most one of Fail, Then, Done, Relogin.
	Fail    error // an authpilot.Err* class
	Message string
	Then    []*Step
	Done    bool
	Relogin bool
	// HandOff, with Fail, hands the paused page to a person in a live
	// view (a CAPTCHA, a page the flow does not know) when the agent has
	// someone to ask; the step runs again when the person hands it back,
	// and Fail stands when nobody does in time.
	HandOff connectors.HandOffKind
}

// Step is one action of a flow.
type Step struct {
	Kind string
	Path string
	Line int
	Name string
	If   *tmpl
	// Optional steps that find no element are skipped instead of failing.
	Optional bool
	Timeout  time.Duration

	action action
}

// tmpl is a parsed template with its source for messages.
type tmpl struct {
	src string
	t   *template.Template
}

// Sample is an example configuration using every step kind; `authpilot
// config check` and the tests decode it through Decode.
//
//go:embed sample.yaml
var Sample []byte

// location is the zone portal times are read in: the flow's timezone, else
// the practice's, else UTC.
func (o *Options) location() *time.Location {
	switch {
	case o.Timezone != nil:
		return o.Timezone
	case o.practiceZone != nil:
		return o.practiceZone
	}
	return time.UTC
}
