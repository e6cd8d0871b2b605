package payersim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// FHIR names of the PAS simulator, as in the Da Vinci PAS 2.2.1 examples.
const (
	pasSD            = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
	pasExtReview     = pasSD + "extension-reviewAction"
	pasExtReviewCode = pasSD + "extension-reviewActionCode"
	pasExtAdminRef   = pasSD + "extension-administrationReferenceNumber"
	pasExtAuthNumber = pasSD + "extension-authorizationNumber"
	pasExtIssueDate  = pasSD + "extension-itemPreAuthIssueDate"
	pasExtPeriod     = pasSD + "extension-itemPreAuthPeriod"
	pasExtAuthDetail = pasSD + "extension-itemAuthorizedDetail"
	pasSysAction     = "https://codesystem.x12.org/005010/306"
	pasSysAdjudicate = "http://terminology.hl7.org/CodeSystem/adjudication"
)

type pasJIdent struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

type pasJRef struct {
	Reference string `json:"reference,omitempty"`
}

type pasJCoding struct {
	System string `json:"system,omitempty"`
	Code   string `json:"code,omitempty"`
}

type pasJCC struct {
	Coding []pasJCoding `json:"coding,omitempty"`
}

type pasJExt struct {
	URL             string     `json:"url"`
	ValueString     *string    `json:"valueString,omitempty"`
	ValueIdentifier *pasJIdent `json:"valueIdentifier,omitempty"`
}

type pasJHead struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id,omitempty"`
}

type pasJBundle struct {
	ResourceType string     `json:"resourceType"`
	Identifier   *pasJIdent `json:"identifier,omitempty"`
	Type         string     `json:"type,omitempty"`
	Entry        []struct {
		FullURL  string          `json:"fullUrl,omitempty"`
		Resource json.RawMessage `json:"resource,omitempty"`
	} `json:"entry,omitempty"`
}

type pasJParameters struct {
	ResourceType string `json:"resourceType"`
	Parameter    []struct {
		Name     string          `json:"name"`
		Resource json.RawMessage `json:"resource,omitempty"`
	} `json:"parameter,omitempty"`
}

type pasJClaim struct {
	ResourceType string          `json:"resourceType"`
	Identifier   []pasJIdent     `json:"identifier,omitempty"`
	Type         json.RawMessage `json:"type,omitempty"`
	Use          string          `json:"use,omitempty"`
	Patient      pasJRef         `json:"patient"`
	Insurer      pasJRef         `json:"insurer"`
	Provider     pasJRef         `json:"provider"`
	Insurance    []struct {
		Coverage pasJRef `json:"coverage"`
	} `json:"insurance,omitempty"`
	Item []struct {
		Sequence         int       `json:"sequence"`
		ProductOrService pasJCC    `json:"productOrService"`
		ServicedDate     string    `json:"servicedDate,omitempty"`
		Extension        []pasJExt `json:"extension,omitempty"`
		Quantity         *struct {
			Value *float64 `json:"value,omitempty"`
		} `json:"quantity,omitempty"`
	} `json:"item,omitempty"`
}

// pasEntry is one entry of a request Bundle.
type pasEntry struct {
	fullURL string
	head    pasJHead
	raw     json.RawMessage
}

// pasLine is one requested service line.
type pasLine struct {
	seq    int
	system string
	code   string
	units  int
	date   string // servicedDate, as written
}

// pasRequest is a parsed $submit or $inquire Bundle.
type pasRequest struct {
	bundleID  pasJIdent
	trace     pasJIdent // Claim.identifier
	claimType json.RawMessage
	refs      []string // item administrationReferenceNumber / authorizationNumber
	patient   string   // Claim references, as written
	insurer   string
	provider  string
	echo      []pasEntry // the referenced Patient, insurer and provider
	memberID  string
	lines     []pasLine
}

// pasSub is one accepted request.
type pasSub struct {
	n           int
	ref         string // preAuthRef and administration reference number
	authNumber  string
	rule        PASRule
	req         *pasRequest
	inquiries   int
	submittedAt time.Time
	decidedAt   time.Time
}

// pasParse reads a request Bundle (bare, or as the "resource" parameter of
// a Parameters) and checks what the simulator needs; problem names what is
// wrong.
func pasParse(body []byte, inquiry bool) (*pasRequest, string) {
	rt := pasResourceType(body)
	if rt == "" {
		return nil, "body is not a FHIR resource"
	}
	if rt == "Parameters" {
		var p pasJParameters
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, "Parameters: malformed"
		}
		body = nil
		for _, prm := range p.Parameter {
			if prm.Name == "resource" {
				body = prm.Resource
			}
		}
		if body == nil {
			return nil, `Parameters: no "resource" parameter`
		}
		rt = pasResourceType(body)
	}
	if rt != "Bundle" {
		return nil, "expected a Bundle, got " + rt
	}
	var b pasJBundle
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, "Bundle: malformed: " + err.Error()
	}
	if b.Type != "collection" {
		return nil, "Bundle.type must be collection"
	}
	if b.Identifier == nil || b.Identifier.Value == "" {
		return nil, "Bundle.identifier missing"
	}
	if len(b.Entry) == 0 {
		return nil, "Bundle has no entries"
	}
	entries := make([]pasEntry, 0, len(b.Entry))
	for i, e := range b.Entry {
		h := pasJHead{ResourceType: pasResourceType(e.Resource)}
		if h.ResourceType == "" {
			return nil, fmt.Sprintf("Bundle.entry[%d]: no resource", i)
		}
		// The id is needed to resolve Type/id references.
		var id struct {
			ID string `json:"id"`
		}
		if h.ResourceType != "Claim" {
			_ = json.Unmarshal(e.Resource, &id)
		}
		h.ID = id.ID
		entries = append(entries, pasEntry{fullURL: e.FullURL, head: h, raw: e.Resource})
	}
	if entries[0].head.ResourceType != "Claim" {
		return nil, "Bundle.entry[0] must be the Claim"
	}
	var cl pasJClaim
	if err := json.Unmarshal(entries[0].raw, &cl); err != nil {
		return nil, "Claim: malformed: " + err.Error()
	}
	req := &pasRequest{
		bundleID:  *b.Identifier,
		claimType: cl.Type,
		patient:   cl.Patient.Reference,
		insurer:   cl.Insurer.Reference,
		provider:  cl.Provider.Reference,
	}
	if len(cl.Identifier) > 0 {
		req.trace = cl.Identifier[0]
	}
	if cl.Use != "preauthorization" {
		return nil, "Claim.use must be preauthorization"
	}
	if req.trace.Value == "" {
		return nil, "Claim.identifier missing"
	}
	resolve := func(ref, want, what string) (*pasEntry, string) {
		if ref == "" {
			return nil, what + " missing"
		}
		for i := range entries {
			e := &entries[i]
			if e.fullURL == ref || e.head.ResourceType+"/"+e.head.ID == ref ||
				(e.fullURL != "" && strings.HasSuffix(e.fullURL, "/"+ref)) {
				if want != "" && e.head.ResourceType != want {
					return nil, fmt.Sprintf("%s refers to a %s, want %s", what, e.head.ResourceType, want)
				}
				return e, ""
			}
		}
		return nil, what + " does not resolve within the Bundle"
	}
	pt, problem := resolve(req.patient, "Patient", "Claim.patient")
	if problem != "" {
		return nil, problem
	}
	req.echo = append(req.echo, *pt)
	prov, problem := resolve(req.provider, "", "Claim.provider")
	if problem != "" {
		return nil, problem
	}
	req.echo = append(req.echo, *prov)
	if req.insurer != "" {
		ins, problem := resolve(req.insurer, "Organization", "Claim.insurer")
		if problem != "" {
			return nil, problem
		}
		req.echo = append(req.echo, *ins)
	}
	if len(cl.Insurance) == 0 {
		return nil, "Claim.insurance missing"
	}
	cov, problem := resolve(cl.Insurance[0].Coverage.Reference, "Coverage", "Claim.insurance[0].coverage")
	if problem != "" {
		return nil, problem
	}
	var c struct {
		SubscriberID string `json:"subscriberId"`
	}
	_ = json.Unmarshal(cov.raw, &c)
	req.memberID = strings.TrimSpace(c.SubscriberID)
	if req.memberID == "" {
		return nil, "Coverage.subscriberId missing"
	}
	if !inquiry && len(cl.Item) == 0 {
		return nil, "Claim.item missing"
	}
	for i, it := range cl.Item {
		l := pasLine{seq: it.Sequence, units: 1, date: it.ServicedDate}
		if l.seq == 0 {
			l.seq = i + 1
		}
		if len(it.ProductOrService.Coding) > 0 {
			l.system, l.code = it.ProductOrService.Coding[0].System, it.ProductOrService.Coding[0].Code
		}
		if l.code == "" && !inquiry {
			return nil, fmt.Sprintf("Claim.item[%d].productOrService has no code", i)
		}
		if it.Quantity != nil && it.Quantity.Value != nil && *it.Quantity.Value >= 1 {
			l.units = int(math.Round(*it.Quantity.Value))
		}
		req.lines = append(req.lines, l)
		for _, e := range it.Extension {
			if (e.URL == pasExtAdminRef || e.URL == pasExtAuthNumber) && e.ValueString != nil && *e.ValueString != "" {
				req.refs = append(req.refs, *e.ValueString)
			}
		}
	}
	return req, ""
}

// matchLocked returns the first rule matching the request, or approve.
func (s *PASServer) matchLocked(req *pasRequest) PASRule {
	for _, r := range s.rules {
		if r.MemberID != "" && r.MemberID != req.memberID {
			continue
		}
		if r.Code != "" && !req.hasCode(r.Code) {
			continue
		}
		return r
	}
	return PASRule{Fate: PASApprove}
}

func (req *pasRequest) hasCode(code string) bool {
	for _, l := range req.lines {
		if strings.EqualFold(l.code, code) {
			return true
		}
	}
	return false
}

// submit handles Claim/$submit. A repeat of a Bundle identifier answers the
// request's current ClaimResponse and records nothing new.
func (s *PASServer) submit(body []byte) (int, any) {
	req, problem := pasParse(body, false)
	if problem != "" {
		return http.StatusBadRequest, pasOutcomeResource("structure", problem)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := req.bundleID.System + "|" + req.bundleID.Value
	if sub, ok := s.subs[key]; ok {
		return http.StatusOK, s.renderLocked(sub, false, req.bundleID)
	}
	rule := s.matchLocked(req)
	if rule.Fate == PASReject {
		msg := rule.Reason
		if msg == "" {
			msg = "Subscriber not found"
		}
		return http.StatusBadRequest, pasOutcomeResource("invalid", msg)
	}
	s.seq++
	sub := &pasSub{
		n:           s.seq,
		ref:         fmt.Sprintf("SHP-PA-%06d", s.seq),
		authNumber:  fmt.Sprintf("AUTH%06d", s.seq),
		rule:        rule,
		req:         req,
		submittedAt: s.opts.Now(),
	}
	s.subs[key] = sub
	s.byTrace[req.trace.Value] = sub
	s.byRef[sub.ref] = sub
	s.byRef[sub.authNumber] = sub
	s.stats.Submissions++
	return http.StatusOK, s.renderLocked(sub, false, req.bundleID)
}

// inquire handles Claim/$inquire: it finds the request by the inquiry
// Claim's identifier, else by a payer reference on its items, and answers
// Parameters with zero or one response Bundle.
func (s *PASServer) inquire(body []byte) (int, any) {
	req, problem := pasParse(body, true)
	if problem != "" {
		return http.StatusBadRequest, pasOutcomeResource("structure", problem)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.byTrace[req.trace.Value]
	for _, r := range req.refs {
		if sub != nil {
			break
		}
		sub = s.byRef[r]
	}
	var found []any
	if sub != nil {
		sub.inquiries++
		s.stats.Inquiries++
		found = append(found, s.renderLocked(sub, true, req.bundleID))
	}
	if s.opts.InquiryParam == "bundle" {
		if len(found) == 0 {
			return http.StatusOK, pasResource{"resourceType": "Bundle", "type": "collection",
				"identifier": req.bundleID, "timestamp": s.opts.Now().Format(time.RFC3339)}
		}
		return http.StatusOK, found[0]
	}
	params := pasResource{"resourceType": "Parameters"}
	var ps []any
	for _, f := range found {
		ps = append(ps, map[string]any{"name": s.opts.InquiryParam, "resource": f})
	}
	if len(ps) > 0 {
		params["parameter"] = ps
	}
	return http.StatusOK, params
}

// state is the request's fate as of now: pending until AfterInquiries
// inquiries were made (a pend without Then stays pending).
func (sub *pasSub) state() (PASFate, bool) {
	r := sub.rule
	switch {
	case r.Fate == PASPend && (r.Then == "" || sub.inquiries < r.AfterInquiries):
		return PASPend, true
	case r.Fate == PASPend:
		return r.Then, false
	case r.AfterInquiries > 0 && sub.inquiries < r.AfterInquiries:
		return PASPend, true
	}
	return r.Fate, false
}

// pasReview is the review of one line.
type pasReview struct {
	action, display string
	number          bool
	units           int    // authorized units (authorized lines)
	code            string // authorized code
	note            bool
	add             *pasLine // an addItem authorizing instead (modify)
}

// decide reviews each line under fate.
func (sub *pasSub) decide(fate PASFate) []pasReview {
	lines := sub.req.lines
	r := sub.rule
	out := make([]pasReview, len(lines))
	approve := func(i int) pasReview {
		return pasReview{action: "A1", display: "Certified in total", number: true, units: lines[i].units, code: lines[i].code}
	}
	// targets are the lines a modify or partial acts on: those of the
	// rule's code when it leaves others, else the first (modify) or all
	// after the first (partial).
	targets := map[int]bool{}
	if r.Code != "" {
		for i, l := range lines {
			if strings.EqualFold(l.code, r.Code) {
				targets[i] = true
			}
		}
		if len(targets) == len(lines) && fate == PASPartial && len(lines) > 1 {
			targets = map[int]bool{}
		}
	}
	if len(targets) == 0 {
		switch {
		case fate == PASModify || len(lines) == 1:
			targets[0] = true
		default:
			for i := 1; i < len(lines); i++ {
				targets[i] = true
			}
		}
	}
	for i, l := range lines {
		switch fate {
		case PASApprove:
			out[i] = approve(i)
		case PASDeny:
			out[i] = pasReview{action: "A3", display: "Not Certified", note: true}
		case PASPend:
			out[i] = pasReview{action: "A4", display: "Pended", note: true}
		case PASModify:
			if !targets[i] {
				out[i] = approve(i)
				continue
			}
			add := pasLine{seq: l.seq, system: l.system, code: l.code, units: max(1, l.units-1)}
			if r.ModifyCode != "" {
				add.code = r.ModifyCode
				add.units = l.units
			}
			if r.ModifyUnits > 0 {
				add.units = r.ModifyUnits
			}
			out[i] = pasReview{action: "A6", display: "Modified", number: true, add: &add, note: true}
		case PASPartial:
			switch {
			case !targets[i]:
				out[i] = approve(i)
			case len(lines) == 1:
				units := max(1, l.units/2)
				if r.ModifyUnits > 0 {
					units = r.ModifyUnits
				}
				out[i] = pasReview{action: "A2", display: "Certified - partial", number: true, units: units, code: l.code, note: true}
			default:
				out[i] = pasReview{action: "A3", display: "Not Certified", note: true}
			}
		}
	}
	return out
}

func pasReviewAction(code, display, number string) map[string]any {
	ext := []any{}
	if number != "" {
		ext = append(ext, map[string]any{"url": "number", "valueString": number})
	}
	ext = append(ext, map[string]any{
		"url": pasExtReviewCode,
		"valueCodeableConcept": map[string]any{"coding": []any{map[string]any{
			"system": pasSysAction, "code": code, "display": display,
		}}},
	})
	return map[string]any{
		"extension": []any{map[string]any{"url": pasExtReview, "extension": ext}},
		"category": map[string]any{"coding": []any{map[string]any{
			"system": pasSysAdjudicate, "code": "submitted",
		}}},
	}
}

// renderLocked builds the response Bundle of a request as it stands now,
// shaped like the IG's response examples: the ClaimResponse first, then
// the Patient, requester and insurer it references.
func (s *PASServer) renderLocked(sub *pasSub, inquiry bool, bundleID pasJIdent) pasResource {
	now := s.opts.Now()
	fate, pending := sub.state()
	created := sub.submittedAt
	if !pending {
		if sub.decidedAt.IsZero() {
			sub.decidedAt = now
		}
		created = sub.decidedAt
	}
	validDays := sub.rule.ValidDays
	if validDays == 0 {
		validDays = PASDefaultValidDays
	}
	issued := created.Format(time.DateOnly)
	validity := map[string]any{"start": issued, "end": created.AddDate(0, 0, validDays).Format(time.DateOnly)}

	reviews := sub.decide(fate)
	reason := sub.rule.Reason
	if reason == "" {
		switch fate {
		case PASDeny:
			reason = "Not medically necessary based on the documentation submitted"
		case PASPartial:
			reason = "Part of the requested services is not medically necessary"
		case PASModify:
			reason = "Authorized as modified"
		}
	}
	var items, addItems []any
	authorized := false
	displays := []string{}
	for i, rv := range reviews {
		l := sub.req.lines[i]
		number := ""
		if rv.number {
			number = sub.authNumber
		}
		it := map[string]any{
			"itemSequence": l.seq,
			"adjudication": []any{pasReviewAction(rv.action, rv.display, number)},
		}
		var ext []any
		if rv.action == "A4" {
			ext = append(ext, map[string]any{"url": pasExtAdminRef, "valueString": sub.ref})
		}
		if rv.action == "A1" || rv.action == "A2" {
			authorized = true
			ext = append(ext,
				map[string]any{"url": pasExtIssueDate, "valueDate": issued},
				map[string]any{"url": pasExtPeriod, "valuePeriod": validity},
				map[string]any{"url": pasExtAuthDetail, "extension": []any{
					map[string]any{"url": "productOrServiceCode", "valueCodeableConcept": map[string]any{
						"coding": []any{map[string]any{"system": l.system, "code": rv.code}}}},
					map[string]any{"url": "quantity", "valueQuantity": map[string]any{"value": rv.units}},
				}},
			)
		}
		if len(ext) > 0 {
			it["extension"] = ext
		}
		if rv.note && reason != "" {
			it["noteNumber"] = []int{1}
		}
		items = append(items, it)
		if rv.add != nil {
			authorized = true
			addItems = append(addItems, map[string]any{
				"itemSequence": []int{l.seq},
				"extension": []any{
					map[string]any{"url": pasExtIssueDate, "valueDate": issued},
					map[string]any{"url": pasExtPeriod, "valuePeriod": validity},
				},
				"productOrService": map[string]any{"coding": []any{map[string]any{"system": rv.add.system, "code": rv.add.code}}},
				"quantity":         map[string]any{"value": rv.add.units},
				"adjudication":     []any{pasReviewAction("A1", "Certified in total", sub.authNumber)},
			})
		}
		if !pasContains(displays, rv.display) {
			displays = append(displays, rv.display)
		}
	}
	profile := pasSD + "profile-claimresponse"
	if inquiry {
		profile = pasSD + "profile-claiminquiryresponse"
	}
	cr := pasResource{
		"resourceType": "ClaimResponse",
		"id":           fmt.Sprintf("pas-response-%06d", sub.n),
		"meta":         map[string]any{"profile": []string{profile}},
		"identifier":   []any{sub.req.trace},
		"status":       "active",
		"use":          "preauthorization",
		"patient":      map[string]any{"reference": sub.req.patient},
		"created":      created.Format(time.RFC3339),
		"requestor":    map[string]any{"reference": sub.req.provider},
		"request":      map[string]any{"identifier": sub.req.trace},
		"outcome":      "complete",
		"disposition":  strings.Join(displays, "; "),
		"preAuthRef":   sub.ref,
		"item":         items,
	}
	if len(sub.req.claimType) > 0 {
		cr["type"] = sub.req.claimType
	}
	entries := []any{map[string]any{
		"fullUrl":  fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", sub.n),
		"resource": cr,
	}}
	for _, e := range sub.req.echo {
		entries = append(entries, map[string]any{"fullUrl": e.fullURL, "resource": e.raw})
	}
	if sub.req.insurer != "" {
		cr["insurer"] = map[string]any{"reference": sub.req.insurer}
	} else {
		insurer := "urn:uuid:00000000-0000-4000-8000-ffffffffffff"
		cr["insurer"] = map[string]any{"reference": insurer}
		entries = append(entries, map[string]any{"fullUrl": insurer, "resource": pasResource{
			"resourceType": "Organization", "id": "pas-sim-insurer", "active": true, "name": s.opts.PayerName,
		}})
	}
	if len(addItems) > 0 {
		cr["addItem"] = addItems
	}
	if authorized {
		cr["preAuthPeriod"] = validity
	}
	if reason != "" && (pending || fate != PASApprove) {
		cr["processNote"] = []any{map[string]any{"number": 1, "type": "display", "text": reason}}
	}
	bprofile := pasSD + "profile-pas-response-bundle"
	if inquiry {
		bprofile = pasSD + "profile-pas-inquiry-response-bundle"
	}
	return pasResource{
		"resourceType": "Bundle",
		"id":           fmt.Sprintf("pas-bundle-%06d-%d", sub.n, sub.inquiries),
		"meta":         map[string]any{"profile": []string{bprofile}},
		"identifier":   bundleID,
		"type":         "collection",
		"timestamp":    now.Format(time.RFC3339),
		"entry":        entries,
	}
}

// pasResource is a FHIR resource as a map; it is written with its
// resourceType first, as FHIR servers do (readers sniff it cheaply).
type pasResource map[string]any

// MarshalJSON implements json.Marshaler.
func (r pasResource) MarshalJSON() ([]byte, error) {
	rest := make(map[string]any, len(r))
	for k, v := range r {
		if k != "resourceType" {
			rest[k] = v
		}
	}
	body, err := json.Marshal(rest)
	if err != nil {
		return nil, err
	}
	rt, err := json.Marshal(r["resourceType"])
	if err != nil {
		return nil, err
	}
	out := append([]byte(`{"resourceType":`), rt...)
	if len(body) > 2 {
		out = append(out, ',')
	}
	return append(out, body[1:]...), nil
}

// pasResourceType reads a resource's resourceType without decoding the
// rest when it comes first.
func pasResourceType(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if key, _ := tok.(string); key == "resourceType" {
			var rt string
			if dec.Decode(&rt) != nil {
				return ""
			}
			return rt
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}

func pasContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
