package payersim

import (
	"errors"
	"fmt"
	"maps"
	"strings"
)

// Fate is what the payer decides about a request.
type Fate string

// The fates a Scenario can script.
const (
	FateApprove     Fate = "approve"      // approved as requested
	FateDeny        Fate = "deny"         // denied, with Outcome.Reason
	FatePend        Fate = "pend"         // more information requested; Outcome.Then decides later
	FatePartial     Fate = "partial"      // fewer units approved than requested (Outcome.ApprovedUnits)
	FateModify      Fate = "modify"       // approved with another code (Outcome.ApprovedCodes)
	FateCancel      Fate = "cancel"       // cancelled by the payer
	FateNotRequired Fate = "not_required" // no authorization required
	// FateRefuse: the portal refuses the request at its final submit (the
	// payer wizard's review page, the RBM order form shows an error banner
	// with Outcome.Reason) and records nothing; every later submit of a
	// matching request is refused again. Only at submission: a seeded
	// request cannot be refused.
	FateRefuse Fate = "refuse"
)

var fates = []Fate{FateApprove, FateDeny, FatePend, FatePartial, FateModify, FateCancel, FateNotRequired, FateRefuse}

const fateNames = "approve, deny, pend, partial, modify, cancel, not_required, refuse"

// DefaultRefusal is the banner of a refused submission when the rule gives
// no Reason.
const DefaultRefusal = "The request cannot be accepted: the member's coverage is not active on the planned date of service. Verify eligibility and submit a new request."

// DefaultValidityDays is the validity period of an approval when the
// Outcome does not set one.
const DefaultValidityDays = 90

// Outcome is the scripted fate of one request and when it shows.
//
// Timing is counted in checks: one check is one view of the request's status
// — a detail page (payer), a status-lookup result (RBM), or one rendering of a
// list page or order-history page that contains the request's row. The
// current status is shown for AfterChecks views, then the next view shows the
// outcome: AfterChecks 0 shows the decision on the first view, 1 on the
// second. A pend shows for Then.AfterChecks views (at least one) before the
// follow-up outcome Then shows.
type Outcome struct {
	Fate        Fate `json:"fate"`
	AfterChecks int  `json:"after_checks,omitempty"`
	// Reason is the denial reason (deny), the refusal banner (refuse), or
	// the note shown for modify, partial, cancel and not_required. Empty
	// takes a payer-like default.
	Reason string `json:"reason,omitempty"`
	// Wording, when set, is the status text the portal shows for this
	// outcome instead of its usual wording (list and detail pages): a
	// portal that words a status in a way a connector's status_map does
	// not know.
	Wording string `json:"wording,omitempty"`
	// InfoRequest is the "information requested" text of a pend.
	InfoRequest string `json:"info_request,omitempty"`
	// ApprovedUnits maps a requested code to its approved units (partial).
	// Codes not listed keep their requested units; an empty map approves half
	// of every line's units (rounded down, so a 1-unit line gets 0).
	ApprovedUnits map[string]int `json:"approved_units,omitempty"`
	// ApprovedCodes maps a requested code to the code approved instead
	// (modify). Empty keeps the codes and only adds the note.
	ApprovedCodes map[string]string `json:"approved_codes,omitempty"`
	// ValidityDays is the length of the approval; 0 means 90.
	ValidityDays int `json:"validity_days,omitempty"`
	// AuthNumber fixes the authorization number; empty generates one that
	// differs from the reference/tracking number.
	AuthNumber string `json:"auth_number,omitempty"`
	// Then is the follow-up of a pend; nil leaves the request pended.
	Then *Outcome `json:"then,omitempty"`
	// AwaitResponse (pend): the pend shows until the provider uploads
	// additional information (payer portal, PAS update); Then is counted
	// from the response. Without it Then shows after its checks whether
	// or not anything was sent.
	AwaitResponse bool `json:"await_response,omitempty"`
}

// Rule matches requests at submission time. Every non-empty criterion must
// match; a rule with none matches every request.
type Rule struct {
	Name string `json:"name,omitempty"`
	// CPT matches when any service line has this CPT/HCPCS code.
	CPT string `json:"cpt,omitempty"`
	// MemberID matches the member ID exactly (case-insensitive).
	MemberID string `json:"member_id,omitempty"`
	// TextContains matches a case-insensitive substring of the free text:
	// the clinical notes / clinical question, the service lines' level and
	// laterality text, and the uploaded file names.
	TextContains string `json:"text_contains,omitempty"`
	Outcome
}

// Scenario scripts every request's fate: the first matching rule wins, else
// Default, else approve after one check.
type Scenario struct {
	Rules   []Rule   `json:"rules"`
	Default *Outcome `json:"default,omitempty"`
}

// defaultOutcome applies when no rule matches and Scenario.Default is nil.
var defaultOutcome = Outcome{Fate: FateApprove, AfterChecks: 1}

// Validate reports the first invalid rule.
func (sc Scenario) Validate() error {
	var errs []error
	for i, r := range sc.Rules {
		if err := r.Outcome.validate(); err != nil {
			errs = append(errs, fmt.Errorf("rules[%d] %q: %w", i, r.Name, err))
		}
	}
	if sc.Default != nil {
		if err := sc.Default.validate(); err != nil {
			errs = append(errs, fmt.Errorf("default: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (o *Outcome) validate() error {
	if o.Fate == "" {
		return errors.New("fate: missing (one of " + fateNames + ")")
	}
	known := false
	for _, f := range fates {
		known = known || f == o.Fate
	}
	if !known {
		return fmt.Errorf("fate: unknown %q (one of %s)", o.Fate, fateNames)
	}
	if o.AfterChecks < 0 {
		return fmt.Errorf("after_checks: %d is negative", o.AfterChecks)
	}
	if o.ValidityDays < 0 {
		return fmt.Errorf("validity_days: %d is negative", o.ValidityDays)
	}
	for code, u := range o.ApprovedUnits {
		if u < 0 {
			return fmt.Errorf("approved_units[%s]: %d is negative", code, u)
		}
	}
	if o.Fate == FateRefuse && (o.AfterChecks != 0 || o.Then != nil || o.Wording != "") {
		return errors.New("refuse: the portal refuses at once; after_checks, then and wording do not apply")
	}
	if o.AwaitResponse && o.Fate != FatePend {
		return fmt.Errorf("await_response: only a pend awaits a response, not %s", o.Fate)
	}
	if o.Then != nil {
		if o.Fate != FatePend {
			return fmt.Errorf("then: only a pend has a follow-up, not %s", o.Fate)
		}
		if err := o.Then.validate(); err != nil {
			return fmt.Errorf("then: %w", err)
		}
	}
	return nil
}

// match returns a copy of the outcome for a submission.
func (sc *Scenario) match(sub *Submission) Outcome {
	for _, r := range sc.Rules {
		if r.matches(sub) {
			return r.Outcome.clone()
		}
	}
	if sc.Default != nil {
		return sc.Default.clone()
	}
	return defaultOutcome.clone()
}

func (r *Rule) matches(sub *Submission) bool {
	if r.CPT != "" {
		found := false
		for _, l := range sub.Lines {
			found = found || strings.EqualFold(l.Code, r.CPT)
		}
		if !found {
			return false
		}
	}
	if r.MemberID != "" && !strings.EqualFold(r.MemberID, sub.MemberID) {
		return false
	}
	if r.TextContains != "" && !strings.Contains(strings.ToLower(sub.freeText()), strings.ToLower(r.TextContains)) {
		return false
	}
	return true
}

func (o Outcome) clone() Outcome {
	o.ApprovedUnits = maps.Clone(o.ApprovedUnits)
	o.ApprovedCodes = maps.Clone(o.ApprovedCodes)
	if o.Then != nil {
		t := o.Then.clone()
		o.Then = &t
	}
	return o
}

func (sc Scenario) clone() Scenario {
	out := Scenario{Rules: make([]Rule, len(sc.Rules))}
	for i, r := range sc.Rules {
		r.Outcome = r.Outcome.clone()
		out.Rules[i] = r
	}
	if sc.Default != nil {
		d := sc.Default.clone()
		out.Default = &d
	}
	return out
}

// SetScenario replaces the scenario for requests submitted from now on;
// requests already made keep their fate. It returns the validation error and
// changes nothing when sc is invalid.
func (p *Portal) SetScenario(sc Scenario) error {
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("set scenario: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scenario = sc.clone()
	return nil
}

// Scenario returns a copy of the current scenario.
func (p *Portal) Scenario() Scenario {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.scenario.clone()
}
