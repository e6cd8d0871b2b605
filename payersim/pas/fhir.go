package pas

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authpilot/authpilot/internal/fhirjson"
	"github.com/authpilot/authpilot/internal/spinecodes"
)

// FHIR names of the PAS simulator, as in the Da Vinci PAS 2.2.1 examples.
const (
	sdBase        = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
	extReview     = sdBase + "extension-reviewAction"
	extReviewCode = sdBase + "extension-reviewActionCode"
	extAdminRef   = sdBase + "extension-administrationReferenceNumber"
	extAuthNumber = sdBase + "extension-authorizationNumber"
	extIssueDate  = sdBase + "extension-itemPreAuthIssueDate"
	extPeriod     = sdBase + "extension-itemPreAuthPeriod"
	extAuthDetail = sdBase + "extension-itemAuthorizedDetail"
	sysAction     = "https://codesystem.x12.org/005010/306"
	sysAdjudicate = "http://terminology.hl7.org/CodeSystem/adjudication"
)

type jIdent struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

type jRef struct {
	Reference string `json:"reference,omitempty"`
}

type jCoding struct {
	System string `json:"system,omitempty"`
	Code   string `json:"code,omitempty"`
}

type jCC struct {
	Coding []jCoding `json:"coding,omitempty"`
}

type jExt struct {
	URL             string  `json:"url"`
	ValueString     *string `json:"valueString,omitempty"`
	ValueIdentifier *jIdent `json:"valueIdentifier,omitempty"`
}

type jHead struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id,omitempty"`
}

type jBundle struct {
	ResourceType string  `json:"resourceType"`
	Identifier   *jIdent `json:"identifier,omitempty"`
	Type         string  `json:"type,omitempty"`
	Entry        []struct {
		FullURL  string          `json:"fullUrl,omitempty"`
		Resource json.RawMessage `json:"resource,omitempty"`
	} `json:"entry,omitempty"`
}

type jParameters struct {
	ResourceType string `json:"resourceType"`
	Parameter    []struct {
		Name     string          `json:"name"`
		Resource json.RawMessage `json:"resource,omitempty"`
	} `json:"parameter,omitempty"`
}

type jClaim struct {
	ResourceType string          `json:"resourceType"`
	Identifier   []jIdent        `json:"identifier,omitempty"`
	Type         json.RawMessage `json:"type,omitempty"`
	Use          string          `json:"use,omitempty"`
	Patient      jRef            `json:"patient"`
	Insurer      jRef            `json:"insurer"`
	Provider     jRef            `json:"provider"`
	Insurance    []struct {
		Coverage jRef `json:"coverage"`
	} `json:"insurance,omitempty"`
	// Related names the prior version of an update (PAS Claim Update).
	Related []struct {
		Claim struct {
			Reference  string  `json:"reference,omitempty"`
			Identifier *jIdent `json:"identifier,omitempty"`
		} `json:"claim"`
		Relationship jCC `json:"relationship"`
	} `json:"related,omitempty"`
	SupportingInfo []struct {
		Category        jCC          `json:"category"`
		ValueReference  *jRef        `json:"valueReference,omitempty"`
		ValueString     *string      `json:"valueString,omitempty"`
		ValueAttachment *jAttachment `json:"valueAttachment,omitempty"`
	} `json:"supportingInfo,omitempty"`
	Item []struct {
		Sequence         int    `json:"sequence"`
		ProductOrService jCC    `json:"productOrService"`
		ServicedDate     string `json:"servicedDate,omitempty"`
		Extension        []jExt `json:"extension,omitempty"`
		Quantity         *struct {
			Value *float64 `json:"value,omitempty"`
		} `json:"quantity,omitempty"`
	} `json:"item,omitempty"`
}

// jAttachment is a FHIR Attachment with its content inline.
type jAttachment struct {
	ContentType string `json:"contentType,omitempty"`
	Data        []byte `json:"data,omitempty"` // base64 in JSON
	Title       string `json:"title,omitempty"`
}

// bundleEntry is one entry of a request Bundle.
type bundleEntry struct {
	fullURL string
	head    jHead
	raw     json.RawMessage
}

// serviceLine is one requested service line.
type serviceLine struct {
	seq    int
	system string
	code   string
	units  int
	date   string // servicedDate, as written
}

// parsedRequest is a parsed $submit or $inquire Bundle.
type parsedRequest struct {
	bundleID  jIdent
	trace     jIdent // Claim.identifier
	claimType json.RawMessage
	refs      []string // item administrationReferenceNumber / authorizationNumber
	patient   string   // Claim references, as written
	insurer   string
	provider  string
	echo      []bundleEntry // the referenced Patient, insurer and provider
	memberID  string
	lines     []serviceLine
	// prior is the Claim.identifier value of the request an update
	// (Claim.related, relationship prior) replaces; "" for a new request.
	prior string
	// attachments and note are what an update's supportingInfo carries.
	attachments []Attachment
	note        string
}

// submission is one accepted request.
type submission struct {
	n           int
	ref         string // preAuthRef and administration reference number
	authNumber  string
	rule        Rule
	req         *parsedRequest
	inquiries   int
	updates     []Update
	inqAtUpdate int // inquiries when the last update came
	submittedAt time.Time
	decidedAt   time.Time
}

// parseBundle reads a request Bundle (bare, or as the "resource" parameter of
// a Parameters) and checks what the simulator needs; problem names what is
// wrong.
func parseBundle(body []byte, inquiry bool) (*parsedRequest, string) {
	rt := fhirjson.ResourceType(body)
	if rt == "" {
		return nil, "body is not a FHIR resource"
	}
	if rt == "Parameters" {
		var p jParameters
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
		rt = fhirjson.ResourceType(body)
	}
	if rt != "Bundle" {
		return nil, "expected a Bundle, got " + rt
	}
	var b jBundle
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
	entries := make([]bundleEntry, 0, len(b.Entry))
	for i, e := range b.Entry {
		h := jHead{ResourceType: fhirjson.ResourceType(e.Resource)}
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
		entries = append(entries, bundleEntry{fullURL: e.FullURL, head: h, raw: e.Resource})
	}
	if entries[0].head.ResourceType != "Claim" {
		return nil, "Bundle.entry[0] must be the Claim"
	}
	var cl jClaim
	if err := json.Unmarshal(entries[0].raw, &cl); err != nil {
		return nil, "Claim: malformed: " + err.Error()
	}
	req := &parsedRequest{
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
	resolve := func(ref, want, what string) (*bundleEntry, string) {
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
	if problem := req.readUpdate(&cl, resolve); problem != "" {
		return nil, problem
	}
	if !inquiry && len(cl.Item) == 0 {
		return nil, "Claim.item missing"
	}
	for i, it := range cl.Item {
		l := serviceLine{seq: it.Sequence, units: 1, date: it.ServicedDate}
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
			if (e.URL == extAdminRef || e.URL == extAuthNumber) && e.ValueString != nil && *e.ValueString != "" {
				req.refs = append(req.refs, *e.ValueString)
			}
		}
	}
	return req, ""
}

// readUpdate reads what makes a Claim an update (PAS 2.2.1 Claim Update):
// Claim.related with relationship prior, naming the prior Claim by a
// reference into the Bundle (the prior version is included, as the
// profile requires) or by its identifier; and the documents of its
// supportingInfo, as a reference to a DocumentReference in the Bundle or
// an inline valueAttachment, and a freeFormMessage note.
func (req *parsedRequest) readUpdate(cl *jClaim, resolve func(ref, want, what string) (*bundleEntry, string)) string {
	for i, rel := range cl.Related {
		prior := false
		for _, c := range rel.Relationship.Coding {
			prior = prior || c.Code == "prior"
		}
		if !prior {
			continue
		}
		what := fmt.Sprintf("Claim.related[%d].claim", i)
		switch {
		case rel.Claim.Reference != "":
			e, problem := resolve(rel.Claim.Reference, "Claim", what)
			if problem != "" {
				return problem + " (the prior version of an updated Claim is part of the Bundle)"
			}
			var pc jClaim
			if err := json.Unmarshal(e.raw, &pc); err != nil || len(pc.Identifier) == 0 || pc.Identifier[0].Value == "" {
				return what + ": the prior Claim has no identifier"
			}
			req.prior = pc.Identifier[0].Value
		case rel.Claim.Identifier != nil && rel.Claim.Identifier.Value != "":
			req.prior = rel.Claim.Identifier.Value
		default:
			return what + ": neither a reference nor an identifier"
		}
	}
	for i, si := range cl.SupportingInfo {
		code := ""
		if len(si.Category.Coding) > 0 {
			code = si.Category.Coding[0].Code
		}
		what := fmt.Sprintf("Claim.supportingInfo[%d]", i)
		switch {
		case code == "freeFormMessage" && si.ValueString != nil:
			req.note = strings.TrimSpace(req.note + "\n" + *si.ValueString)
		case si.ValueAttachment != nil:
			req.attachments = append(req.attachments, newAttachment(*si.ValueAttachment))
		case si.ValueReference != nil && si.ValueReference.Reference != "":
			e, problem := resolve(si.ValueReference.Reference, "DocumentReference", what+".valueReference")
			if problem != "" {
				return problem
			}
			var doc struct {
				Content []struct {
					Attachment jAttachment `json:"attachment"`
				} `json:"content"`
			}
			if err := json.Unmarshal(e.raw, &doc); err != nil || len(doc.Content) == 0 {
				return what + ": the DocumentReference has no content"
			}
			for _, ct := range doc.Content {
				if len(ct.Attachment.Data) == 0 {
					return what + ": the DocumentReference's attachment has no data"
				}
				req.attachments = append(req.attachments, newAttachment(ct.Attachment))
			}
		}
	}
	return ""
}

// matchLocked returns the first rule matching the request, or approve.
func (s *Server) matchLocked(req *parsedRequest) Rule {
	for _, r := range s.rules {
		if r.MemberID != "" && r.MemberID != req.memberID {
			continue
		}
		if r.Code != "" && !req.hasCode(r.Code) {
			continue
		}
		return r
	}
	return Rule{Fate: Approve}
}

func (req *parsedRequest) hasCode(code string) bool {
	for _, l := range req.lines {
		if strings.EqualFold(l.code, code) {
			return true
		}
	}
	return false
}

// submit handles Claim/$submit of a parsed request Bundle. A repeat of a
// Bundle identifier answers the request's current ClaimResponse and
// records nothing new.
func (s *Server) submit(req *parsedRequest) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := req.bundleID.System + "|" + req.bundleID.Value
	if sub, ok := s.subs[key]; ok {
		return http.StatusOK, s.renderLocked(sub, false, req.bundleID)
	}
	if sub, ok := s.updates[key]; ok {
		return http.StatusOK, s.renderLocked(sub, false, req.bundleID)
	}
	if req.prior != "" {
		return s.updateLocked(key, req)
	}
	rule := s.matchLocked(req)
	if rule.Fate == Reject {
		msg := rule.Reason
		if msg == "" {
			msg = "Subscriber not found"
		}
		return http.StatusBadRequest, outcomeResource("invalid", msg)
	}
	s.seq++
	sub := &submission{
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

// inquire handles Claim/$inquire of a parsed inquiry Bundle: it finds the
// request by the inquiry Claim's identifier, else by a payer reference on
// its items, and answers Parameters with zero or one response Bundle.
func (s *Server) inquire(req *parsedRequest) (int, any) {
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
			return http.StatusOK, resource{"resourceType": "Bundle", "type": "collection",
				"identifier": req.bundleID, "timestamp": s.opts.Now().Format(time.RFC3339)}
		}
		return http.StatusOK, found[0]
	}
	params := resource{"resourceType": "Parameters"}
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
// inquiries were made (a pend without Then stays pending). A pend with
// AwaitUpdate stays pending until an update came, and after an update
// AfterInquiries counts from it.
func (sub *submission) state() (Fate, bool) {
	r := sub.rule
	if r.Fate == Pend && (r.AwaitUpdate || len(sub.updates) > 0) {
		if len(sub.updates) == 0 || r.Then == "" || sub.inquiries-sub.inqAtUpdate < r.AfterInquiries {
			return Pend, true
		}
		return r.Then, false
	}
	switch {
	case r.Fate == Pend && (r.Then == "" || sub.inquiries < r.AfterInquiries):
		return Pend, true
	case r.Fate == Pend:
		return r.Then, false
	case r.AfterInquiries > 0 && sub.inquiries < r.AfterInquiries:
		return Pend, true
	}
	return r.Fate, false
}

// lineReview is the review of one line.
type lineReview struct {
	action, display string
	number          bool
	units           int    // authorized units (authorized lines)
	code            string // authorized code
	note            bool
	add             *serviceLine // an addItem authorizing instead (modify)
}

// decide reviews each line under fate.
func (sub *submission) decide(fate Fate) []lineReview {
	lines := sub.req.lines
	r := sub.rule
	out := make([]lineReview, len(lines))
	approve := func(i int) lineReview {
		return lineReview{action: "A1", display: "Certified in total", number: true, units: lines[i].units, code: lines[i].code}
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
		if len(targets) == len(lines) && fate == Partial && len(lines) > 1 {
			targets = map[int]bool{}
		}
	}
	if len(targets) == 0 {
		switch {
		case fate == Modify || len(lines) == 1:
			targets[0] = true
		default:
			for i := 1; i < len(lines); i++ {
				targets[i] = true
			}
		}
	}
	for i, l := range lines {
		switch fate {
		case Approve:
			out[i] = approve(i)
		case Deny:
			out[i] = lineReview{action: "A3", display: "Not Certified", note: true}
		case Pend:
			out[i] = lineReview{action: "A4", display: "Pended", note: true}
		case Modify:
			if !targets[i] {
				out[i] = approve(i)
				continue
			}
			add := serviceLine{seq: l.seq, system: l.system, code: l.code, units: max(1, l.units-1)}
			if r.ModifyCode != "" {
				add.code = r.ModifyCode
				add.units = l.units
			}
			if r.ModifyUnits > 0 {
				add.units = r.ModifyUnits
			}
			out[i] = lineReview{action: "A6", display: "Modified", number: true, add: &add, note: true}
		case Partial:
			switch {
			case !targets[i]:
				out[i] = approve(i)
			case len(lines) == 1:
				units := max(1, l.units/2)
				if r.ModifyUnits > 0 {
					units = r.ModifyUnits
				}
				out[i] = lineReview{action: "A2", display: "Certified - partial", number: true, units: units, code: l.code, note: true}
			default:
				out[i] = lineReview{action: "A3", display: "Not Certified", note: true}
			}
		}
	}
	return withoutOrphans(out)
}

// withoutOrphans denies an add-on code certified without its primary code
// (the primary denied or modified into a code the add-on does not go
// with): no payer certifies one, whatever a rule's targets say.
func withoutOrphans(rv []lineReview) []lineReview {
	lines := make([]spinecodes.Line, len(rv))
	for i, r := range rv {
		switch {
		case r.add != nil:
			lines[i] = spinecodes.Line{Code: r.add.code, Units: r.add.units}
		case r.number:
			lines[i] = spinecodes.Line{Code: r.code, Units: r.units}
		}
	}
	for _, code := range spinecodes.Orphans(lines) {
		for i := range rv {
			if strings.EqualFold(lines[i].Code, code) {
				rv[i] = lineReview{action: "A3", display: "Not Certified", note: true}
			}
		}
	}
	return rv
}

func reviewAction(code, display, number string) map[string]any {
	ext := []any{}
	if number != "" {
		ext = append(ext, map[string]any{"url": "number", "valueString": number})
	}
	ext = append(ext, map[string]any{
		"url": extReviewCode,
		"valueCodeableConcept": map[string]any{"coding": []any{map[string]any{
			"system": sysAction, "code": code, "display": display,
		}}},
	})
	return map[string]any{
		"extension": []any{map[string]any{"url": extReview, "extension": ext}},
		"category": map[string]any{"coding": []any{map[string]any{
			"system": sysAdjudicate, "code": "submitted",
		}}},
	}
}

// renderLocked builds the response Bundle of a request as it stands now,
// shaped like the IG's response examples: the ClaimResponse first, then
// the Patient, requester and insurer it references.
func (s *Server) renderLocked(sub *submission, inquiry bool, bundleID jIdent) resource {
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
		validDays = DefaultValidDays
	}
	issued := created.Format(time.DateOnly)
	validity := map[string]any{"start": issued, "end": created.AddDate(0, 0, validDays).Format(time.DateOnly)}

	reviews := sub.decide(fate)
	reason := sub.rule.Reason
	if reason == "" {
		switch fate {
		case Deny:
			reason = "Not medically necessary based on the documentation submitted"
		case Partial:
			reason = "Part of the requested services is not medically necessary"
		case Modify:
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
			"adjudication": []any{reviewAction(rv.action, rv.display, number)},
		}
		var ext []any
		if rv.action == "A4" {
			ext = append(ext, map[string]any{"url": extAdminRef, "valueString": sub.ref})
		}
		if rv.action == "A1" || rv.action == "A2" {
			authorized = true
			ext = append(ext,
				map[string]any{"url": extIssueDate, "valueDate": issued},
				map[string]any{"url": extPeriod, "valuePeriod": validity},
				map[string]any{"url": extAuthDetail, "extension": []any{
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
					map[string]any{"url": extIssueDate, "valueDate": issued},
					map[string]any{"url": extPeriod, "valuePeriod": validity},
				},
				"productOrService": map[string]any{"coding": []any{map[string]any{"system": rv.add.system, "code": rv.add.code}}},
				"quantity":         map[string]any{"value": rv.add.units},
				"adjudication":     []any{reviewAction("A1", "Certified in total", sub.authNumber)},
			})
		}
		if !slices.Contains(displays, rv.display) {
			displays = append(displays, rv.display)
		}
	}
	profile := sdBase + "profile-claimresponse"
	if inquiry {
		profile = sdBase + "profile-claiminquiryresponse"
	}
	cr := resource{
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
		entries = append(entries, map[string]any{"fullUrl": insurer, "resource": resource{
			"resourceType": "Organization", "id": "pas-sim-insurer", "active": true, "name": s.opts.PayerName,
		}})
	}
	if len(addItems) > 0 {
		cr["addItem"] = addItems
	}
	if authorized {
		cr["preAuthPeriod"] = validity
	}
	// Once the payer has the update it reviews again: A4 without asking
	// for anything (in review).
	if reason != "" && (pending || fate != Approve) && !(pending && len(sub.updates) > 0) {
		cr["processNote"] = []any{map[string]any{"number": 1, "type": "display", "text": reason}}
	}
	bprofile := sdBase + "profile-pas-response-bundle"
	if inquiry {
		bprofile = sdBase + "profile-pas-inquiry-response-bundle"
	}
	return resource{
		"resourceType": "Bundle",
		"id":           fmt.Sprintf("pas-bundle-%06d-%d", sub.n, sub.inquiries),
		"meta":         map[string]any{"profile": []string{bprofile}},
		"identifier":   bundleID,
		"type":         "collection",
		"timestamp":    now.Format(time.RFC3339),
		"entry":        entries,
	}
}

// resource is a FHIR resource as a map; it is written with its
// resourceType first, as FHIR servers do (readers sniff it cheaply).
type resource map[string]any

// MarshalJSON implements json.Marshaler.
func (r resource) MarshalJSON() ([]byte, error) {
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
