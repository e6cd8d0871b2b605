package authpilot

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// PlanType is the kind of coverage; it selects the decision-time rules.
type PlanType string

// Plan types of DESIGN.md.
const (
	PlanMedicareAdvantage   PlanType = "medicare_advantage"
	PlanMedicaid            PlanType = "medicaid"
	PlanCHIP                PlanType = "chip"
	PlanQHP                 PlanType = "qhp"
	PlanCommercial          PlanType = "commercial"
	PlanERISA               PlanType = "erisa"
	PlanTraditionalMedicare PlanType = "traditional_medicare"
)

// PlanTypes lists the valid plan types.
var PlanTypes = []PlanType{PlanMedicareAdvantage, PlanMedicaid, PlanCHIP, PlanQHP, PlanCommercial, PlanERISA, PlanTraditionalMedicare}

// Track is the authorization track of a case within an episode of care.
type Track string

// Tracks of a spine or orthopedic practice.
const (
	TrackSurgery   Track = "surgery"
	TrackImaging   Track = "imaging"
	TrackInjection Track = "injection"
	TrackImplant   Track = "implant"
	TrackDME       Track = "dme"
	TrackTherapy   Track = "therapy"
	TrackOther     Track = "other"
)

// Tracks lists the valid tracks.
var Tracks = []Track{TrackSurgery, TrackImaging, TrackInjection, TrackImplant, TrackDME, TrackTherapy, TrackOther}

// Urgency is standard or expedited (urgent) review.
type Urgency string

// Urgencies.
const (
	UrgencyStandard  Urgency = "standard"
	UrgencyExpedited Urgency = "expedited"
)

// Case is one authorization request for one patient, one payer, one
// service line set. Patient, codes and attachments are PHI: they never go
// to logs, and to alerts only where a sink opts in.
type Case struct {
	ID          string   `json:"id"`
	ExternalRef string   `json:"external_ref,omitempty" yaml:"external_ref"`
	Episode     string   `json:"episode,omitempty" yaml:"episode"`
	Patient     Patient  `json:"patient" yaml:"patient"`
	Payer       string   `json:"payer" yaml:"payer"`
	PlanType    PlanType `json:"plan_type" yaml:"plan_type"`
	ConnectorID string   `json:"connector" yaml:"connector"`
	Track       Track    `json:"track" yaml:"track"`
	Urgency     Urgency  `json:"urgency" yaml:"urgency"`

	OrderingProvider  Provider      `json:"ordering_provider" yaml:"ordering_provider"`
	ServicingProvider Provider      `json:"servicing_provider,omitempty" yaml:"servicing_provider"`
	Facility          Facility      `json:"facility,omitempty" yaml:"facility"`
	ServiceLines      []ServiceLine `json:"service_lines" yaml:"service_lines"`
	Diagnoses         []string      `json:"diagnoses" yaml:"diagnoses"`
	ServiceDate       Date          `json:"service_date" yaml:"service_date"`
	ClinicalNotes     string        `json:"clinical_notes,omitempty" yaml:"clinical_notes"`
	Attachments       []Attachment  `json:"attachments,omitempty" yaml:"attachments"`

	// Status is the normalized state; StatusText is the payer's own words.
	Status     Status `json:"status"`
	StatusText string `json:"status_text,omitempty"`
	// PayerRef is the payer's reference or tracking number, known once
	// submitted. For a tracked case it is given at intake.
	PayerRef string `json:"payer_ref,omitempty" yaml:"payer_ref"`
	// Tracked marks a case opened to follow an authorization submitted
	// elsewhere (phone, fax, another portal): it is polled, never submitted.
	Tracked bool `json:"tracked,omitempty" yaml:"tracked"`

	SubmittedAt *time.Time `json:"submitted_at,omitempty" yaml:"submitted_at"`
	// PayerServiceDate is the service date the payer has on record when
	// the practice moved the case's date after sending the request: the
	// payer's pages still show it, and a request showing it is still this
	// case's (IdentityMismatch). Zero when the dates agree.
	PayerServiceDate Date `json:"payer_service_date,omitzero" yaml:"-"`
	// WatchedAt is when a poll last looked at the case after its decision
	// (see Case.WatchDue); nil until the first watch.
	WatchedAt     *time.Time     `json:"watched_at,omitempty" yaml:"-"`
	Determination *Determination `json:"determination,omitempty"`
	// History holds the determinations a later one replaced (a tracked
	// case's earlier decisions, a decision changed after a peer-to-peer or
	// an appeal), oldest first.
	History []Determination `json:"history,omitempty" yaml:"-"`

	// The escalation path (escalation.go), written by staff actions and by
	// what the payer shows.
	InfoRequests []InfoRequest `json:"info_requests,omitempty" yaml:"-"`
	PeerToPeers  []PeerToPeer  `json:"peer_to_peers,omitempty" yaml:"-"`
	Appeals      []Appeal      `json:"appeals,omitempty" yaml:"-"`
	Extensions   []Extension   `json:"extensions,omitempty" yaml:"-"`
	Withdrawal   *Withdrawal   `json:"withdrawal,omitempty" yaml:"-"`
	DeadlineAcks []DeadlineAck `json:"deadline_acks,omitempty" yaml:"-"`
	// LastError is the latest connector error about this case, cleared on
	// success. It names no PHI.
	LastError string `json:"last_error,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version increments with every write; stores use it to refuse lost
	// updates.
	Version int `json:"version"`
}

// Patient identifies the member. All of it is PHI.
type Patient struct {
	FirstName string `json:"first_name" yaml:"first_name"`
	LastName  string `json:"last_name" yaml:"last_name"`
	DOB       Date   `json:"dob" yaml:"dob"`
	MemberID  string `json:"member_id" yaml:"member_id"`
}

// Provider is a clinician or organization by NPI.
type Provider struct {
	NPI  string `json:"npi" yaml:"npi"`
	Name string `json:"name,omitempty" yaml:"name"`
}

// Facility is where the service takes place.
type Facility struct {
	Name string `json:"name,omitempty" yaml:"name"`
	NPI  string `json:"npi,omitempty" yaml:"npi"`
}

// ServiceLine is one requested procedure.
type ServiceLine struct {
	Code       string   `json:"code" yaml:"code"`
	Units      int      `json:"units" yaml:"units"`
	Modifiers  []string `json:"modifiers,omitempty" yaml:"modifiers"`
	Laterality string   `json:"laterality,omitempty" yaml:"laterality"`
	Level      string   `json:"level,omitempty" yaml:"level"`
}

// Attachment is a clinical document of the conservative-care file. Its
// content is stored content-addressed; SHA256 names it.
type Attachment struct {
	Name        string `json:"name" yaml:"name"`
	Kind        string `json:"kind,omitempty" yaml:"kind"`
	ContentType string `json:"content_type,omitempty" yaml:"content_type"`
	SHA256      string `json:"sha256,omitempty" yaml:"sha256"`
	// Path is a file to read at intake (CLI only); it is not stored.
	Path string `json:"path,omitempty" yaml:"path"`
}

// Codes returns the service-line codes in order.
func (c *Case) Codes() []string {
	out := make([]string, len(c.ServiceLines))
	for i, l := range c.ServiceLines {
		out[i] = l.Code
	}
	return out
}

// Determination is what the payer decided.
type Determination struct {
	Status        Status         `json:"status"`
	AuthNumber    string         `json:"auth_number,omitempty"`
	ApprovedLines []ApprovedLine `json:"approved_lines,omitempty"`
	ValidFrom     Date           `json:"valid_from,omitzero"`
	ValidTo       Date           `json:"valid_to,omitzero"`
	DenialReason  string         `json:"denial_reason,omitempty"`
	// InfoRequested is what a pended request asks for.
	InfoRequested string `json:"info_requested,omitempty"`
	// ResponseDue is the payer's due date for the information asked, if
	// it set one.
	ResponseDue Date `json:"response_due,omitzero"`
	// Source is where a determination recorded by hand came from (phone,
	// fax, mail, portal); empty for one a connector read.
	Source    string     `json:"source,omitempty"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
	// NoticeDate is the date of the determination notice, from which
	// appeal windows run; DecidedAt's date when the payer gives none.
	NoticeDate Date `json:"notice_date,omitzero"`
	// Letters are sha256 digests of stored determination letters.
	Letters []string `json:"letters,omitempty"`
}

// ApprovedLine is an authorized code and its units.
type ApprovedLine struct {
	Code  string `json:"code"`
	Units int    `json:"units"`
}

// Document is stored content (a letter, an attachment, a screenshot),
// addressed by its sha256.
type Document struct {
	SHA256      string    `json:"sha256"`
	CaseID      string    `json:"case_id,omitempty"`
	Kind        string    `json:"kind"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	CreatedAt   time.Time `json:"created_at"`
}

// Document kinds.
const (
	DocLetter     = "letter"
	DocAttachment = "attachment"
)

// Date is a calendar date without a time zone (a DOB, a service date).
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return Date{}, fmt.Errorf("not a date in YYYY-MM-DD form: %q", s)
	}
	return DateOf(t), nil
}

// DateOf returns the date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

// String formats d as YYYY-MM-DD, or "" when unset.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// In returns midnight starting d in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.In(time.UTC).Before(e.In(time.UTC)) }

// After reports whether d is after e.
func (d Date) After(e Date) bool { return e.Before(d) }

// AddDays returns d plus n calendar days.
func (d Date) AddDays(n int) Date { return DateOf(d.In(time.UTC).AddDate(0, 0, n)) }

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; empty is the zero date.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// NewDate returns the date y-m-d.
func NewDate(y int, m time.Month, d int) Date { return Date{y, m, d} }

// RequestKey identifies what c asks one payer for: the payer, member ID,
// service date and procedure codes (sorted, with repeats). Two open cases
// with the same key are the same request and must never both be submitted.
func (c *Case) RequestKey() string {
	codes := make([]string, len(c.ServiceLines))
	for i, l := range c.ServiceLines {
		codes[i] = strings.ToUpper(strings.TrimSpace(l.Code))
	}
	sort.Strings(codes)
	return strings.Join([]string{c.Payer, strings.ToUpper(strings.TrimSpace(c.Patient.MemberID)),
		c.ServiceDate.String(), strings.Join(codes, ",")}, "|")
}

// SameRequest reports whether c and d have the same RequestKey.
func (c *Case) SameRequest(d *Case) bool { return c.RequestKey() == d.RequestKey() }
