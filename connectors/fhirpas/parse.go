package fhirpas

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/fhirjson"
)

// errNoClaimResponse says a response held no ClaimResponse: an inquiry that
// matched nothing.
var errNoClaimResponse = errors.New("no ClaimResponse in the response")

// found is one ClaimResponse with the resources of the Bundle it came in.
type found struct {
	cr     claimResponse
	others []json.RawMessage
}

// outcomeError is an OperationOutcome the payer answered with.
type outcomeError struct {
	issues []ooIssue
}

func (e *outcomeError) Error() string { return "operation outcome: " + summarizeIssues(e.issues) }

// summarizeIssues names each issue by severity, code and its text
// (diagnostics, else details), e.g. "error invalid: subscriber not found".
func summarizeIssues(issues []ooIssue) string {
	if len(issues) == 0 {
		return "no issues given"
	}
	var parts []string
	for _, is := range issues {
		s := strings.TrimSpace(is.Severity + " " + is.Code)
		text := strings.TrimSpace(is.Diagnostics)
		if text == "" {
			text = strings.TrimSpace(is.Details.label())
		}
		if text != "" {
			s += ": " + text
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// issueTexts is the payer's own words in an OperationOutcome: each issue's
// diagnostics, else its details text, joined by "; ". It can hold PHI (a
// payer may quote the member) and goes only to authpilot.Error.PayerText.
func issueTexts(issues []ooIssue) string {
	var parts []string
	for _, is := range issues {
		text := strings.TrimSpace(is.Diagnostics)
		if text == "" {
			text = strings.TrimSpace(is.Details.label())
		}
		if text != "" {
			parts = append(parts, text)
		}
	}
	return strings.Join(parts, "; ")
}

// parseOutcome decodes an OperationOutcome body; ok is false when the body
// is not one.
func parseOutcome(data []byte) (*outcomeError, bool) {
	var oo operationOutcome
	if err := json.Unmarshal(data, &oo); err != nil || oo.ResourceType != "OperationOutcome" {
		return nil, false
	}
	return &outcomeError{issues: oo.Issue}, true
}

// extract finds the ClaimResponses of a $submit or $inquire answer: a
// Bundle (its entries, nested Bundles included, as in a subscription
// notification), a Parameters resource whose parameters named "return" or
// "responseBundle" (or any other) carry Bundles, or a bare ClaimResponse.
// An OperationOutcome with an error or fatal issue is returned as an
// *outcomeError.
func extract(data []byte) ([]found, error) {
	var out []found
	if err := extractInto(data, fhirjson.ResourceType(data), &out, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func extractInto(data []byte, rt string, out *[]found, depth int) error {
	if depth > 4 {
		return errors.New("decode response: resources nested too deeply")
	}
	switch rt {
	case "Bundle":
		var b bundle[json.RawMessage]
		if err := json.Unmarshal(data, &b); err != nil {
			return fmt.Errorf("decode Bundle: %w", err)
		}
		var others []json.RawMessage
		var crs []claimResponse
		for i, e := range b.Entry {
			if len(e.Resource) == 0 {
				continue
			}
			switch ert := fhirjson.ResourceType(e.Resource); ert {
			case "":
				return fmt.Errorf("decode Bundle.entry[%d]: no resourceType", i)
			case "ClaimResponse":
				var cr claimResponse
				if err := json.Unmarshal(e.Resource, &cr); err != nil {
					return fmt.Errorf("decode Bundle.entry[%d] ClaimResponse: %w", i, err)
				}
				crs = append(crs, cr)
			case "Bundle", "Parameters":
				if err := extractInto(e.Resource, ert, out, depth+1); err != nil {
					return err
				}
			default:
				others = append(others, e.Resource)
			}
		}
		for _, cr := range crs {
			*out = append(*out, found{cr: cr, others: others})
		}
	case "Parameters":
		var p parameters
		if err := json.Unmarshal(data, &p); err != nil {
			return fmt.Errorf("decode Parameters: %w", err)
		}
		// The OperationDefinition names the output "return"; the IG's own
		// example names it "responseBundle". Both, and any other parameter
		// carrying a resource, are read.
		for _, prm := range p.Parameter {
			if len(prm.Resource) == 0 {
				continue
			}
			prt := fhirjson.ResourceType(prm.Resource)
			if prt == "" {
				return fmt.Errorf("decode Parameters.parameter %q: no resourceType", prm.Name)
			}
			if err := extractInto(prm.Resource, prt, out, depth+1); err != nil {
				return err
			}
		}
	case "ClaimResponse":
		var cr claimResponse
		if err := json.Unmarshal(data, &cr); err != nil {
			return fmt.Errorf("decode ClaimResponse: %w", err)
		}
		*out = append(*out, found{cr: cr})
	case "OperationOutcome":
		oe, ok := parseOutcome(data)
		if !ok {
			return errors.New("decode OperationOutcome: malformed")
		}
		for _, is := range oe.issues {
			if is.Severity == "error" || is.Severity == "fatal" {
				return oe
			}
		}
	case "":
		if !json.Valid(data) {
			return errors.New("decode response: not JSON")
		}
		return errors.New("decode response: no resourceType")
	default:
		return fmt.Errorf("decode response: unexpected resource type %q", rt)
	}
	return nil
}

// line is the review of one requested (or payer-added) service line.
type line struct {
	seq      int   // ClaimResponse.item.itemSequence
	refs     []int // addItem.itemSequence: the requested lines it answers
	added    bool
	action   string // X12 306 review action code
	status   authpilot.Status
	label    string // the code's display
	number   string // review action number (authorization number)
	authNum  string // authorizationNumber extension
	adminRef string
	reasons  []string
	code     string // authorized code, when the payer states it
	units    int    // authorized units, when stated
	from, to authpilot.Date
	issued   authpilot.Date
}

// result is what one ClaimResponse says, normalized.
type result struct {
	status     authpilot.Status
	statusText string
	payerRef   string
	authNumber string
	identifier string
	created    time.Time // with the payer's own offset
	// createdDateOnly: created is a date without a time (midnight UTC).
	createdDateOnly bool
	validFrom       authpilot.Date
	validTo         authpilot.Date
	issued          authpilot.Date
	reason          string
	infoRequested   string
	lines           []line
	errs            []string
	// shown is what the response shows of whose request it is.
	shown *authpilot.Identity
}

// interpret reads one ClaimResponse. A ClaimResponse that carries errors
// (X12 AAA rejections) and no review action returns a rejection error.
func interpret(f found) (*result, error) {
	cr := f.cr
	r := &result{}
	if len(cr.Identifier) > 0 {
		r.identifier = cr.Identifier[0].Value
	}
	r.created = parseInstant(cr.Created)
	r.createdDateOnly = len(strings.TrimSpace(cr.Created)) == len(time.DateOnly)
	notes := map[int]string{}
	var allNotes []string
	for _, n := range cr.ProcessNote {
		if t := strings.TrimSpace(n.Text); t != "" {
			notes[n.Number] = t
			allNotes = append(allNotes, t)
		}
	}
	for _, it := range cr.Item {
		l := line{seq: it.ItemSequence}
		readItemExts(&l, it.Extension)
		readAdjudications(&l, it.Adjudication)
		if l.action != "" {
			r.lines = append(r.lines, l)
		} else if l.adminRef != "" || l.authNum != "" {
			r.lines = append(r.lines, l) // keeps references of undecided lines
		}
	}
	for _, ai := range cr.AddItem {
		l := line{added: true, refs: ai.ItemSequence}
		readItemExts(&l, ai.Extension)
		readAdjudications(&l, ai.Adjudication)
		if ai.ProductOrService != nil {
			l.code = ai.ProductOrService.code("")
		}
		if ai.Quantity != nil && ai.Quantity.Value != nil {
			l.units = int(math.Round(*ai.Quantity.Value))
		}
		r.lines = append(r.lines, l)
	}
	if len(cr.Item) == 0 && len(cr.AddItem) == 0 && len(cr.Adjudication) > 0 {
		l := line{}
		readAdjudications(&l, cr.Adjudication)
		if l.action != "" {
			r.lines = append(r.lines, l)
		}
	}
	for _, e := range cr.Error {
		r.errs = append(r.errs, describeError(e))
	}

	var decided []line
	for i := range r.lines {
		if r.lines[i].action == "" {
			continue
		}
		st, err := authpilot.StatusFromReviewAction(r.lines[i].action)
		if err != nil {
			return r, &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: "response",
				Msg: fmt.Sprintf("item %d: %v", i+1, err)}
		}
		r.lines[i].status = st
		decided = append(decided, r.lines[i])
	}
	if len(decided) == 0 && (cr.Outcome == "error" || len(r.errs) > 0) {
		msg := "request has errors"
		if len(r.errs) > 0 {
			msg += ": " + strings.Join(r.errs, "; ")
		}
		e := rejected("response", msg, nil)
		e.PayerText = strings.TrimSpace(cr.Disposition)
		if e.PayerText == "" {
			e.PayerText = strings.Join(r.errs, "; ")
		}
		return r, e
	}
	st := overallStatus(decided)
	r.status = st

	// Words: the review actions' displays, or the disposition.
	var labels []string
	seen := map[string]bool{}
	for _, l := range decided {
		w := l.label
		if w == "" {
			w = l.action
		}
		if !seen[w] {
			seen[w] = true
			labels = append(labels, w)
		}
	}
	r.statusText = strings.Join(labels, "; ")
	if r.statusText == "" {
		r.statusText = strings.TrimSpace(cr.Disposition)
	}
	if r.statusText == "" && cr.Outcome != "" {
		r.statusText = "outcome " + cr.Outcome
	}

	// References.
	var number, authNum, adminRef string
	for _, l := range r.lines {
		number = first(number, l.number)
		authNum = first(authNum, l.authNum)
		adminRef = first(adminRef, l.adminRef)
		if r.issued.IsZero() {
			r.issued = l.issued
		}
	}
	if st.Authorized() {
		r.authNumber = first(number, authNum, strings.TrimSpace(cr.PreAuthRef))
	}
	r.payerRef = first(strings.TrimSpace(cr.PreAuthRef), adminRef, number, authNum, r.identifier)

	// Validity: the response's preAuthPeriod, else the span of the lines'.
	if cr.PreAuthPeriod != nil {
		r.validFrom, r.validTo = parseDate(cr.PreAuthPeriod.Start), parseDate(cr.PreAuthPeriod.End)
	} else if st.Authorized() {
		for _, l := range decided {
			if !l.status.Authorized() {
				continue
			}
			if !l.from.IsZero() && (r.validFrom.IsZero() || l.from.Before(r.validFrom)) {
				r.validFrom = l.from
			}
			if !l.to.IsZero() && (r.validTo.IsZero() || l.to.After(r.validTo)) {
				r.validTo = l.to
			}
		}
	}

	// Reasons: process notes, then the reason codes of lines not approved.
	why := append([]string(nil), allNotes...)
	for _, l := range decided {
		if l.status == authpilot.StatusApproved {
			continue
		}
		for _, rs := range l.reasons {
			if !slices.Contains(why, rs) {
				why = append(why, rs)
			}
		}
	}
	switch st {
	case authpilot.StatusPended, authpilot.StatusContactPayer:
		for _, o := range f.others {
			if s := describeInfoRequest(o); s != "" && !slices.Contains(why, s) {
				why = append(why, s)
			}
		}
		r.infoRequested = strings.Join(why, "; ")
	case authpilot.StatusDenied, authpilot.StatusPartiallyApproved, authpilot.StatusModified:
		r.reason = strings.Join(why, "; ")
	}
	if st == authpilot.StatusPended && r.infoRequested == "" {
		// X12 A4 "pended" says only that the review goes on; without a
		// request for information (process note or CommunicationRequest)
		// there is nothing for staff to send, so the request is in review
		// (submitted), not pended, and raises no more_info_requested alert.
		// The status text keeps the payer's word.
		r.status = authpilot.StatusSubmitted
	}
	return r, nil
}

func readItemExts(l *line, exts []extension) {
	for i := range exts {
		e := &exts[i]
		switch e.URL {
		case extAdminRefNumber:
			l.adminRef = first(l.adminRef, e.str())
		case extAuthorizationNumber:
			l.authNum = first(l.authNum, e.str())
		case extItemPreAuthPeriod:
			if e.ValuePeriod != nil {
				l.from, l.to = parseDate(e.ValuePeriod.Start), parseDate(e.ValuePeriod.End)
			}
		case extItemPreAuthIssue:
			if e.ValueDate != nil {
				l.issued = parseDate(*e.ValueDate)
			}
		case extItemAuthorizedDet:
			for j := range e.Extension {
				sub := &e.Extension[j]
				switch sub.URL {
				case "productOrServiceCode":
					l.code = first(l.code, sub.ValueCodeableConcept.code(""))
				case "quantity":
					if sub.ValueQuantity != nil && sub.ValueQuantity.Value != nil {
						l.units = int(math.Round(*sub.ValueQuantity.Value))
					}
				}
			}
		}
	}
}

func readAdjudications(l *line, adjs []adjudication) {
	for _, a := range adjs {
		if a.Reason != nil {
			if s := a.Reason.label(); s != "" {
				l.reasons = append(l.reasons, s)
			}
		}
		ra := findExt(a.Extension, extReviewAction)
		if ra == nil {
			continue
		}
		for i := range ra.Extension {
			sub := &ra.Extension[i]
			switch sub.URL {
			case extReviewActionCode, "code":
				if l.action == "" && sub.ValueCodeableConcept != nil {
					l.action = strings.ToUpper(strings.TrimSpace(sub.ValueCodeableConcept.code("")))
					l.label = sub.ValueCodeableConcept.label()
					if l.label == sub.ValueCodeableConcept.code("") {
						l.label = ""
					}
				}
			case subNumber:
				l.number = first(l.number, sub.str())
			case subReasonCode:
				if s := sub.ValueCodeableConcept.label(); s != "" {
					l.reasons = append(l.reasons, s)
				}
			}
		}
	}
}

// overallStatus derives one case status from the review actions of the
// lines (requested items and payer-added items alike). The rule, in order:
//
//  1. no line with a review action → submitted (an unknown code is an
//     error before this rule runs);
//  2. cancelled (C) and not-required (NA) lines are set aside while other
//     lines exist; all C → cancelled, otherwise only C/NA → not_required;
//  3. any pended (A4) → pended: a decision is still owed (interpret turns
//     a pended answer that requests no information into submitted);
//  4. any contact-payer (CT) → contact_payer;
//  5. any modified (A6) → modified; so is a denied requested line next to
//     an approved payer-added line (the payer substituted a service);
//  6. any partial (A2) → partially_approved;
//  7. all approved (A1) → approved; all denied (A3) → denied;
//     approved and denied lines together → partially_approved.
func overallStatus(lines []line) authpilot.Status {
	if len(lines) == 0 {
		return authpilot.StatusSubmitted
	}
	count := map[authpilot.Status]int{}
	addedApproved := false
	requestedDenied := false
	for _, l := range lines {
		count[l.status]++
		if l.added && l.status.Authorized() {
			addedApproved = true
		}
		if !l.added && l.status == authpilot.StatusDenied {
			requestedDenied = true
		}
	}
	setAside := count[authpilot.StatusCancelled] + count[authpilot.StatusNotRequired]
	if setAside == len(lines) {
		if count[authpilot.StatusNotRequired] == 0 {
			return authpilot.StatusCancelled
		}
		return authpilot.StatusNotRequired
	}
	approved, denied := count[authpilot.StatusApproved], count[authpilot.StatusDenied]
	switch {
	case count[authpilot.StatusPended] > 0:
		return authpilot.StatusPended
	case count[authpilot.StatusContactPayer] > 0:
		return authpilot.StatusContactPayer
	case count[authpilot.StatusModified] > 0, requestedDenied && addedApproved:
		return authpilot.StatusModified
	case count[authpilot.StatusPartiallyApproved] > 0:
		return authpilot.StatusPartiallyApproved
	case denied == 0:
		return authpilot.StatusApproved
	case approved == 0:
		return authpilot.StatusDenied
	default:
		return authpilot.StatusPartiallyApproved
	}
}

// approvedLines lists what was authorized: a requested line approved in
// whole or part (the code and units the payer states, else those
// requested), and every approved payer-added line (a modification's
// substitute). Modified lines without a substitute count with the units the
// payer states.
func (r *result) approvedLines(c *authpilot.Case) []authpilot.ApprovedLine {
	var out []authpilot.ApprovedLine
	for _, l := range r.lines {
		if l.action == "" || !l.status.Authorized() {
			continue
		}
		code, units := l.code, l.units
		if !l.added && (code == "" || units == 0) && c != nil && l.seq >= 1 && l.seq <= len(c.ServiceLines) {
			req := c.ServiceLines[l.seq-1]
			if code == "" {
				code = strings.ToUpper(strings.TrimSpace(req.Code))
			}
			if units == 0 && l.status != authpilot.StatusModified {
				units = max(req.Units, 1)
			}
		}
		if l.status == authpilot.StatusModified && !l.added && r.hasSubstitute(l.seq) {
			continue // the added line says what was authorized instead
		}
		if code == "" {
			continue
		}
		out = append(out, authpilot.ApprovedLine{Code: code, Units: units})
	}
	return out
}

func (r *result) hasSubstitute(seq int) bool {
	for _, l := range r.lines {
		if l.added && l.status.Authorized() && slices.Contains(l.refs, seq) {
			return true
		}
	}
	return false
}

// submission is what a $submit or $inquire answer says of c's request;
// now is the practice's local time.
func (r *result) submission(c *authpilot.Case, now time.Time) *authpilot.Submission {
	return &authpilot.Submission{
		PayerRef:      r.payerRef,
		Status:        r.status,
		StatusText:    r.statusText,
		Determination: r.determination(c, now),
		Shown:         r.shown,
	}
}

// determination is what the payer decided, or nil while nothing is decided.
// A pended request that asks for information carries a determination too,
// with status pended and InfoRequested, so staff learn what to send. now is
// in the practice's zone: the notice date is the payer's own (the issue
// date, else the date of created in the payer's offset), a created that is
// a date alone is midnight of that date in the practice's zone, and only
// without either is it today in the practice's zone.
func (r *result) determination(c *authpilot.Case, now time.Time) *authpilot.Determination {
	if !r.status.Decided() && !(r.status == authpilot.StatusPended && r.infoRequested != "") {
		return nil
	}
	d := &authpilot.Determination{
		Status:        r.status,
		AuthNumber:    r.authNumber,
		ApprovedLines: r.approvedLines(c),
		ValidFrom:     r.validFrom,
		ValidTo:       r.validTo,
		DenialReason:  r.reason,
		InfoRequested: r.infoRequested,
	}
	if r.status.Decided() {
		at := r.created
		switch {
		case at.IsZero():
			at = now
		case r.createdDateOnly:
			at = authpilot.DateOf(at).In(now.Location())
		}
		d.NoticeDate = r.issued
		if d.NoticeDate.IsZero() {
			d.NoticeDate = authpilot.DateOf(at) // in the offset the payer wrote
		}
		at = at.UTC()
		d.DecidedAt = &at
	}
	return d
}

// pick chooses the ClaimResponse about the request with trace number
// trace: the one whose identifier matches, else the newest.
func pick(fs []found, trace string) found {
	for _, f := range fs {
		for _, id := range f.cr.Identifier {
			if id.Value == trace {
				return f
			}
		}
	}
	best := fs[0]
	for _, f := range fs[1:] {
		if parseInstant(f.cr.Created).After(parseInstant(best.cr.Created)) {
			best = f
		}
	}
	return best
}

func describeError(e crError) string {
	s := "error"
	if code := e.Code.code(""); code != "" {
		s += " " + code
	}
	if p := findExt(e.Extension, extErrorPath); p != nil && p.str() != "" {
		s += " at " + p.str()
	}
	if el := findExt(e.Extension, extErrorElement); el != nil {
		if sub := findExt(el.Extension, "error"); sub != nil && sub.str() != "" {
			s += " (element " + sub.str() + ")"
		}
	}
	if f := findExt(e.Extension, extErrorFollowup); f != nil && f.ValueCodeableConcept != nil {
		s += " (follow-up " + f.ValueCodeableConcept.code("") + ")"
	}
	return s
}

// describeInfoRequest summarizes a CommunicationRequest (the payer asking
// for documentation) as "category: payload".
func describeInfoRequest(raw json.RawMessage) string {
	var cr communicationRequest
	if err := json.Unmarshal(raw, &cr); err != nil || cr.ResourceType != "CommunicationRequest" {
		return ""
	}
	var cats, loads []string
	for i := range cr.Category {
		if s := cr.Category[i].label(); s != "" {
			cats = append(cats, s)
		}
	}
	for _, p := range cr.Payload {
		if s := strings.TrimSpace(p.ContentString); s != "" {
			loads = append(loads, s)
		}
	}
	s := strings.Join(cats, ", ")
	if len(loads) > 0 {
		if s != "" {
			s += ": "
		}
		s += strings.Join(loads, ", ")
	}
	return s
}

func parseDate(s string) authpilot.Date {
	s = strings.TrimSpace(s)
	if len(s) > 10 {
		s = s[:10]
	}
	d, err := authpilot.ParseDate(s)
	if err != nil {
		return authpilot.Date{}
	}
	return d
}

func parseInstant(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t
	}
	return time.Time{}
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
