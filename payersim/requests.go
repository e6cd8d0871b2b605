package payersim

import (
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/authpilot/authpilot/internal/spinecodes"
)

// Status is a request's state in the simulator. Each portal shows its own
// wording for it (see README.md).
type Status string

// The statuses a simulated request goes through.
const (
	StatusInReview          Status = "in_review"
	StatusPended            Status = "pended"
	StatusApproved          Status = "approved"
	StatusPartiallyApproved Status = "partially_approved"
	StatusModified          Status = "modified"
	StatusDenied            Status = "denied"
	StatusCancelled         Status = "cancelled"
	StatusNotRequired       Status = "not_required"
	// StatusWithdrawn: the provider withdrew the request on the portal.
	StatusWithdrawn Status = "withdrawn"
)

// payerWording and rbmWording are the portals' status texts.
var (
	payerWording = map[Status]string{
		StatusInReview:          "In Review",
		StatusPended:            "Pending - Additional Information Requested",
		StatusApproved:          "Approved",
		StatusPartiallyApproved: "Partially Approved",
		StatusModified:          "Approved - Modified",
		StatusDenied:            "Denied",
		StatusCancelled:         "Cancelled",
		StatusNotRequired:       "No Authorization Required",
		StatusWithdrawn:         "Withdrawn by Provider",
	}
	rbmWording = map[Status]string{
		StatusInReview:          "In Clinical Review",
		StatusPended:            "Additional Clinical Information Needed",
		StatusApproved:          "Authorized",
		StatusPartiallyApproved: "Partially Authorized",
		StatusModified:          "Authorized as Modified",
		StatusDenied:            "Not Authorized",
		StatusCancelled:         "Case Withdrawn",
		StatusNotRequired:       "No Authorization Required",
		StatusWithdrawn:         "Withdrawn by Ordering Provider",
	}
)

// hasLetter reports whether a determination letter exists for the status.
func (s Status) hasLetter() bool {
	switch s {
	case StatusApproved, StatusPartiallyApproved, StatusModified, StatusDenied, StatusNotRequired:
		return true
	}
	return false
}

// ServiceLine is one requested service.
type ServiceLine struct {
	Code   string `json:"code"`             // CPT or HCPCS
	Units  int    `json:"units"`            // 0 is read as 1
	Detail string `json:"detail,omitempty"` // spinal level / laterality text
}

// Document is an uploaded clinical document.
type Document struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Submission is what a request is made of: the wizard's or the order form's
// fields, or a request seeded directly with AddRequest.
type Submission struct {
	MemberID     string        `json:"member_id"`
	DOB          string        `json:"dob,omitempty"` // YYYY-MM-DD
	OrderingNPI  string        `json:"ordering_npi,omitempty"`
	ServicingNPI string        `json:"servicing_npi,omitempty"`
	Lines        []ServiceLine `json:"lines"`
	Diagnoses    []string      `json:"diagnoses,omitempty"`
	ServiceDate  string        `json:"service_date,omitempty"` // YYYY-MM-DD
	Urgency      string        `json:"urgency,omitempty"`      // standard (default) or expedited
	Notes        string        `json:"notes,omitempty"`        // clinical notes / clinical question
	Documents    []Document    `json:"documents,omitempty"`
	// SubmittedAt backdates a seeded request; zero is now.
	SubmittedAt time.Time `json:"submitted_at,omitzero"`
	// Outcome overrides the scenario for this request; nil matches the
	// scenario's rules.
	Outcome *Outcome `json:"outcome,omitempty"`
}

func (s *Submission) freeText() string {
	parts := []string{s.Notes}
	for _, l := range s.Lines {
		parts = append(parts, l.Detail)
	}
	for _, d := range s.Documents {
		parts = append(parts, d.Name)
	}
	return strings.Join(parts, "\n")
}

var (
	memberIDPattern = regexp.MustCompile(`^[A-Z0-9]{6,15}$`)
	codePattern     = regexp.MustCompile(`^([0-9]{4}[0-9A-Z]|[A-Z][0-9]{4})$`)
	icdPattern      = regexp.MustCompile(`^[A-TV-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$`)
	npiPattern      = regexp.MustCompile(`^[0-9]{10}$`)
)

// validate normalizes s and reports what is wrong with it.
func (s *Submission) validate() error {
	var errs []error
	s.MemberID = strings.ToUpper(strings.TrimSpace(s.MemberID))
	if !memberIDPattern.MatchString(s.MemberID) {
		errs = append(errs, fmt.Errorf("member_id: %q is not 6-15 letters or digits", s.MemberID))
	}
	if len(s.Lines) == 0 || len(s.Lines) > maxLines {
		errs = append(errs, fmt.Errorf("lines: %d service lines, want 1 to %d", len(s.Lines), maxLines))
	}
	for i := range s.Lines {
		l := &s.Lines[i]
		l.Code = strings.ToUpper(strings.TrimSpace(l.Code))
		if !codePattern.MatchString(l.Code) {
			errs = append(errs, fmt.Errorf("lines[%d].code: %q is not a CPT/HCPCS code", i, l.Code))
		}
		if l.Units == 0 {
			l.Units = 1
		}
		if l.Units < 0 || l.Units > 999 {
			errs = append(errs, fmt.Errorf("lines[%d].units: %d not in 1..999", i, l.Units))
		}
	}
	for i, d := range s.Diagnoses {
		s.Diagnoses[i] = strings.ToUpper(strings.TrimSpace(d))
		if !icdPattern.MatchString(s.Diagnoses[i]) {
			errs = append(errs, fmt.Errorf("diagnoses[%d]: %q is not an ICD-10 code", i, d))
		}
	}
	for _, d := range []struct{ field, v string }{{"dob", s.DOB}, {"service_date", s.ServiceDate}} {
		if d.v != "" {
			if _, err := time.Parse(time.DateOnly, d.v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not YYYY-MM-DD", d.field, d.v))
			}
		}
	}
	switch s.Urgency {
	case "":
		s.Urgency = "standard"
	case "standard", "expedited":
	default:
		errs = append(errs, fmt.Errorf("urgency: %q is not standard or expedited", s.Urgency))
	}
	if s.Outcome != nil {
		if err := s.Outcome.validate(); err != nil {
			errs = append(errs, fmt.Errorf("outcome: %w", err))
		} else if s.Outcome.Fate == FateRefuse {
			errs = append(errs, errors.New("outcome: refuse applies only to a submission through the portal"))
		}
	}
	return errors.Join(errs...)
}

// LineDecision is the determination for one service line.
type LineDecision struct {
	Code           string `json:"code"`
	RequestedUnits int    `json:"requested_units"`
	ApprovedCode   string `json:"approved_code"`
	ApprovedUnits  int    `json:"approved_units"`
}

// Request is a snapshot of one request as the simulator holds it.
type Request struct {
	// Reference is the payer's reference number (SHP-2026-004211) or the
	// RBM's tracking number (CV-7F3K9Q2).
	Reference  string `json:"reference"`
	Portal     string `json:"portal"` // payer or rbm
	MemberName string `json:"member_name"`
	Submission
	Status        Status         `json:"status"`
	StatusText    string         `json:"status_text"`
	Checks        int            `json:"checks"`
	AuthNumber    string         `json:"auth_number,omitempty"`
	Decisions     []LineDecision `json:"decisions,omitempty"`
	ValidFrom     time.Time      `json:"valid_from,omitzero"`
	ValidTo       time.Time      `json:"valid_to,omitzero"`
	Reason        string         `json:"reason,omitempty"`
	InfoRequested string         `json:"info_requested,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
	DecidedAt     time.Time      `json:"decided_at,omitzero"`
	// Responses are the additional information the provider uploaded to
	// the pended request (payer portal), oldest first.
	Responses []InfoResponse `json:"responses,omitempty"`
	// PeerToPeers are the peer-to-peer discussions recorded for it
	// (RecordPeerToPeer).
	PeerToPeers []PeerToPeer `json:"peer_to_peers,omitempty"`
	// WithdrawnAt and WithdrawReason are set when the provider withdrew it.
	WithdrawnAt    time.Time `json:"withdrawn_at,omitzero"`
	WithdrawReason string    `json:"withdraw_reason,omitempty"`
}

// InfoResponse is one upload of additional information to a pended
// request: the note and the files, kept by name with size and sha256.
type InfoResponse struct {
	At        time.Time  `json:"at"`
	Note      string     `json:"note,omitempty"`
	Documents []Document `json:"documents"`
}

// PeerToPeer is a peer-to-peer discussion recorded on a request.
type PeerToPeer struct {
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"` // overturned, upheld or modified
}

// request is the simulator's record; next is the outcome still to show.
type request struct {
	Request
	next *Outcome
	// awaiting: a pend with AwaitResponse shows until a response comes.
	awaiting   bool
	phaseStart int // Checks when the current status was shown first
	seq        int
}

func (r *request) snapshot() Request {
	out := r.Request
	out.Lines = slices.Clone(r.Lines)
	out.Diagnoses = slices.Clone(r.Diagnoses)
	out.Documents = slices.Clone(r.Documents)
	out.Decisions = slices.Clone(r.Decisions)
	out.Responses = slices.Clone(r.Responses)
	out.PeerToPeers = slices.Clone(r.PeerToPeers)
	out.Submission.Outcome = nil
	return out
}

// AddRequest creates a request directly, as if it had been submitted through
// the portal (without counting a page load or a submission), and returns its
// reference (payer) or tracking number (RBM).
func (p *Portal) AddRequest(sub Submission) (string, error) {
	sub.Lines = slices.Clone(sub.Lines) // validate normalizes in place
	sub.Diagnoses = slices.Clone(sub.Diagnoses)
	sub.Documents = slices.Clone(sub.Documents)
	if err := sub.validate(); err != nil {
		return "", fmt.Errorf("add request: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.createLocked(sub).Reference, nil
}

// Seed adds many requests with AddRequest and returns their references in
// order. It stops at the first invalid submission.
func Seed(p *Portal, subs ...Submission) ([]string, error) {
	refs := make([]string, 0, len(subs))
	for i, s := range subs {
		ref, err := p.AddRequest(s)
		if err != nil {
			return refs, fmt.Errorf("seed [%d]: %w", i, err)
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// SampleSubmissions returns n plausible spine and imaging submissions with
// distinct member IDs (SIM000001, SIM000002, …), for seeding benchmarks and
// demos. outcome, when not nil, is set on each.
func SampleSubmissions(n int, outcome *Outcome) []Submission {
	samples := []struct {
		lines []ServiceLine
		dx    []string
		note  string
	}{
		{[]ServiceLine{{"22630", 1, "L4-L5"}, {"22840", 1, "L4-L5"}}, []string{"M43.16", "M48.062"}, "Failed 12 weeks of PT and two ESIs."},
		{[]ServiceLine{{"72148", 1, "lumbar"}}, []string{"M54.16"}, "Radiculopathy L5, 6 weeks of conservative care."},
		{[]ServiceLine{{"63047", 1, "L3-L4 bilateral"}}, []string{"M48.062"}, "Neurogenic claudication, failed conservative care."},
		{[]ServiceLine{{"64483", 1, "L5-S1 right"}}, []string{"M54.17"}, "Transforaminal ESI after failed PT."},
		{[]ServiceLine{{"22551", 1, "C5-C6"}, {"22853", 1, "C5-C6"}}, []string{"M50.122"}, "Cervical myelopathy with progressive weakness."},
	}
	out := make([]Submission, n)
	for i := range out {
		s := samples[i%len(samples)]
		out[i] = Submission{
			MemberID:    fmt.Sprintf("SIM%06d", i+1),
			DOB:         fmt.Sprintf("19%02d-%02d-%02d", 40+i%50, 1+i%12, 1+i%28),
			OrderingNPI: "1234567893",
			Lines:       slices.Clone(s.lines),
			Diagnoses:   slices.Clone(s.dx),
			ServiceDate: "",
			Urgency:     "standard",
			Notes:       s.note,
		}
		if outcome != nil {
			o := outcome.clone()
			out[i].Outcome = &o
		}
	}
	return out
}

// refusalLocked returns the banner of a submission the scenario refuses,
// or "" when it is accepted; a refusal is counted. p.mu must be held.
func (p *Portal) refusalLocked(sub *Submission) string {
	o := p.scenario.match(sub)
	if o.Fate != FateRefuse {
		return ""
	}
	p.stats.Refused++
	return orDefault(o.Reason, DefaultRefusal)
}

// createLocked stores a validated submission. p.mu must be held.
func (p *Portal) createLocked(sub Submission) *request {
	now := p.now()
	created := now
	if !sub.SubmittedAt.IsZero() {
		created = sub.SubmittedAt
	}
	var o Outcome
	if sub.Outcome != nil {
		o = sub.Outcome.clone()
	} else {
		o = p.scenario.match(&sub)
	}
	sub.Outcome = nil
	sub.SubmittedAt = created
	p.seq++
	r := &request{seq: p.seq, next: &o}
	r.Submission = sub
	r.Portal = p.kind.String()
	r.MemberName = memberName(sub.MemberID)
	r.Reference = p.newReference(created)
	r.Status = StatusInReview
	r.StatusText = p.wording(StatusInReview)
	r.CreatedAt = created
	r.UpdatedAt = created
	p.requests = append(p.requests, r)
	p.byRef[r.Reference] = r
	// A decision due at once is shown by the first view.
	return r
}

// newReference returns an unused reference or tracking number. p.mu must be
// held.
func (p *Portal) newReference(at time.Time) string {
	for salt := 0; ; salt++ {
		var ref string
		if p.kind == kindRBM {
			ref = "CV-" + code32(uint64(p.seq)*7919+uint64(salt)+0x5bd1e995, 7)
		} else {
			ref = fmt.Sprintf("SHP-%d-%06d", at.Year(), 4200+p.seq+salt)
		}
		if p.byRef[ref] == nil {
			return ref
		}
	}
}

const alphabet32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// code32 spreads v over n characters of a readable base-32 alphabet.
func code32(v uint64, n int) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d", v)
	x := h.Sum64()
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet32[x%32]
		x /= 32
	}
	return string(b)
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// authNumber derives the authorization number from the reference; it never
// equals the reference.
func (p *Portal) authNumber(r *request, at time.Time) string {
	n := hash64("auth:"+r.Reference) % 100000000
	if p.kind == kindRBM {
		return fmt.Sprintf("CVA%02d%08d", at.Year()%100, n)
	}
	return fmt.Sprintf("PA%02d%08d", at.Year()%100, n)
}

var (
	firstNames = []string{"Maria", "James", "Linda", "Robert", "Patricia", "Michael", "Barbara", "William", "Susan", "David", "Dorothy", "Richard"}
	lastNames  = []string{"Garcia", "Johnson", "Williams", "Brown", "Miller", "Davis", "Wilson", "Anderson", "Thomas", "Moore", "Martin", "Clark"}
	payerPlans = []string{"Summit Advantage Plus (HMO)", "Summit Advantage Choice (PPO)", "Summit Dual Complete (HMO D-SNP)"}
	rbmPlans   = []string{"Summit Advantage Plus (HMO)", "Harbor Commercial PPO", "Bluewater Medicaid Managed Care"}
)

// memberName derives a stable name from a member ID.
func memberName(id string) string {
	h := hash64("name:" + id)
	return firstNames[h%uint64(len(firstNames))] + " " + lastNames[(h/97)%uint64(len(lastNames))]
}

func (p *Portal) memberPlan(id string) string {
	plans := payerPlans
	if p.kind == kindRBM {
		plans = rbmPlans
	}
	return plans[hash64("plan:"+id)%uint64(len(plans))]
}

func (p *Portal) wording(s Status) string {
	if p.kind == kindRBM {
		return rbmWording[s]
	}
	return payerWording[s]
}

// checkLocked counts one view of r's status and first shows the next outcome
// when it is due. p.mu must be held.
func (p *Portal) checkLocked(r *request, now time.Time) {
	if o := r.next; o != nil && !(r.awaiting && r.Status == StatusPended) {
		wait := o.AfterChecks
		if r.Status == StatusPended {
			wait = max(wait, 1)
		}
		if r.Checks-r.phaseStart >= wait {
			p.applyLocked(r, o, now)
			r.phaseStart = r.Checks
			r.next = nil
			if o.Fate == FatePend {
				r.next = o.Then
			}
		}
	}
	r.Checks++
	p.stats.Checks++
}

const (
	defaultDenyReason  = "The information submitted does not show that the requested service is medically necessary under Summit Health Plan clinical policy: documentation of at least 6 weeks of failed conservative treatment was not provided. You may request a peer-to-peer discussion or file an appeal."
	defaultInfoRequest = "Please submit physical therapy notes documenting at least 6 weeks of conservative treatment and the most recent imaging report."
	defaultPartialNote = "Approved units were reduced to the quantity supported by the clinical documentation."
	defaultModifyNote  = "The request was approved as modified by the reviewer."
	defaultCancelNote  = "The request was cancelled by the health plan as a duplicate of an existing request."
	defaultNotRequired = "Prior authorization is not required for the requested service(s) under the member's plan."
)

// applyLocked shows outcome o on r. p.mu must be held.
func (p *Portal) applyLocked(r *request, o *Outcome, now time.Time) {
	r.UpdatedAt = now
	r.InfoRequested = ""
	r.Reason = o.Reason
	decided := true
	switch o.Fate {
	case FatePend:
		r.Status = StatusPended
		r.InfoRequested = orDefault(o.InfoRequest, defaultInfoRequest)
		r.awaiting = o.AwaitResponse
		decided = false
	case FateDeny:
		r.Status = StatusDenied
		r.Reason = orDefault(o.Reason, defaultDenyReason)
		r.Decisions = lineDecisions(r.Lines, nil, nil, false)
	case FateCancel:
		r.Status = StatusCancelled
		r.Reason = orDefault(o.Reason, defaultCancelNote)
	case FateNotRequired:
		r.Status = StatusNotRequired
		r.Reason = orDefault(o.Reason, defaultNotRequired)
	case FatePartial:
		r.Status = StatusPartiallyApproved
		r.Reason = orDefault(o.Reason, defaultPartialNote)
		units := o.ApprovedUnits
		if len(units) == 0 {
			units = map[string]int{}
			for _, l := range r.Lines {
				units[l.Code] = l.Units / 2
			}
		}
		r.Decisions = lineDecisions(r.Lines, units, nil, true)
	case FateModify:
		r.Status = StatusModified
		r.Reason = orDefault(o.Reason, defaultModifyNote)
		r.Decisions = lineDecisions(r.Lines, nil, o.ApprovedCodes, true)
	default: // approve
		r.Status = StatusApproved
		r.Decisions = lineDecisions(r.Lines, nil, nil, true)
	}
	r.StatusText = p.wording(r.Status)
	if o.Wording != "" {
		r.StatusText = o.Wording
	}
	if !decided {
		return
	}
	r.DecidedAt = now
	switch r.Status {
	case StatusApproved, StatusPartiallyApproved, StatusModified:
		r.AuthNumber = orDefault(o.AuthNumber, p.authNumber(r, now))
		days := o.ValidityDays
		if days == 0 {
			days = DefaultValidityDays
		}
		from := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
		r.ValidFrom = from
		r.ValidTo = from.AddDate(0, 0, days)
	}
}

func lineDecisions(lines []ServiceLine, units map[string]int, codes map[string]string, approved bool) []LineDecision {
	out := make([]LineDecision, len(lines))
	for i, l := range lines {
		d := LineDecision{Code: l.Code, RequestedUnits: l.Units, ApprovedCode: l.Code}
		if approved {
			d.ApprovedUnits = l.Units
			if u, ok := units[l.Code]; ok {
				d.ApprovedUnits = min(u, l.Units)
			}
			if c, ok := codes[l.Code]; ok {
				d.ApprovedCode = c
			}
		}
		out[i] = d
	}
	return withoutOrphans(out)
}

// withoutOrphans denies an approved add-on code whose primary code is not
// approved (a device code when the fusion is denied): no payer approves
// one, whatever a scenario's units say.
func withoutOrphans(ds []LineDecision) []LineDecision {
	lines := make([]spinecodes.Line, len(ds))
	for i, d := range ds {
		lines[i] = spinecodes.Line{Code: d.ApprovedCode, Units: d.ApprovedUnits}
	}
	for _, code := range spinecodes.Orphans(lines) {
		for i := range ds {
			if strings.EqualFold(ds[i].ApprovedCode, code) {
				ds[i].ApprovedUnits = 0
			}
		}
	}
	return ds
}

// Requests returns every request made on the portal, oldest first. Reading
// them is not a check.
func (p *Portal) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Request, len(p.requests))
	for i, r := range p.requests {
		out[i] = r.snapshot()
	}
	return out
}

// Request returns one request by reference or tracking number.
func (p *Portal) Request(ref string) (Request, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.byRef[ref]
	if r == nil {
		return Request{}, false
	}
	return r.snapshot(), true
}

const maxLines = 5

// Redecide scripts a new outcome for a request the payer already answered
// or still reviews: an overturn after a peer-to-peer, a rescission, a
// modification. Like a scenario's outcome it shows after AfterChecks more
// views of the request (0: the next view). A refusal cannot be scripted
// here.
func (p *Portal) Redecide(ref string, o Outcome) error {
	if err := o.validate(); err != nil {
		return fmt.Errorf("redecide %s: %w", ref, err)
	}
	if o.Fate == FateRefuse {
		return fmt.Errorf("redecide %s: fate refuse applies only at submission", ref)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.byRef[ref]
	if r == nil {
		return fmt.Errorf("redecide %s: no such request", ref)
	}
	o = o.clone()
	r.next = &o
	r.phaseStart = r.Checks
	return nil
}
