package fhirpas

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
)

var (
	// cptPattern: CPT category I (5 digits) and category II/III and PLA
	// codes (4 digits and F, T or U).
	cptPattern = regexp.MustCompile(`^[0-9]{4}[0-9FTU]$`)
	// hcpcsPattern: HCPCS level II (a letter A–V and 4 digits).
	hcpcsPattern = regexp.MustCompile(`^[A-V][0-9]{4}$`)
	icdPattern   = regexp.MustCompile(`^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$`)
	npiPattern   = regexp.MustCompile(`^[0-9]{10}$`)
	tracePattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,50}$`)
)

// traceNumber is the identifier of the PAS request made for a case: its
// Bundle.identifier and Claim.identifier value. It is derived from the case
// ID alone, so a submit repeated after a crash carries the same identifier
// and Find can look the request up by it. X12 trace numbers hold at most 50
// characters; longer or unusual IDs are hashed.
func traceNumber(caseID string) string {
	if tracePattern.MatchString(caseID) {
		return caseID
	}
	sum := sha256.Sum256([]byte(caseID))
	return "AP-" + hex.EncodeToString(sum[:])[:40]
}

// entryUUID derives a stable UUID (RFC 9562 layout, version 8) naming one
// resource of a case's bundle, so repeated builds are byte-identical apart
// from timestamps.
func entryUUID(caseID, role string) string {
	sum := sha256.Sum256([]byte("authpilot/fhirpas\x00" + caseID + "\x00" + role))
	b := sum[:16]
	b[6] = (b[6] & 0x0f) | 0x80
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// codeSystem tells a CPT code from a HCPCS level II code.
func codeSystem(code string) (string, bool) {
	switch {
	case cptPattern.MatchString(code):
		return sysCPT, true
	case hcpcsPattern.MatchString(code):
		return sysHCPCS, true
	}
	return "", false
}

// icd10 normalizes an ICD-10-CM code to its dotted upper-case form.
func icd10(code string) (string, bool) {
	c := strings.ToUpper(strings.TrimSpace(code))
	if !icdPattern.MatchString(c) {
		return "", false
	}
	if len(c) > 3 && !strings.Contains(c, ".") {
		c = c[:3] + "." + c[3:]
	}
	return c, true
}

// builder turns cases into PAS Bundles.
type builder struct {
	insurer   Insurer
	requester Requester
	now       func() time.Time
	inquiries atomic.Uint64
}

// entry is one resource of a bundle under construction.
type entry struct {
	fullURL  string
	resource any
}

// parts are the resources shared by request and inquiry bundles.
type parts struct {
	trace    string
	patient  entry
	coverage entry
	insurer  entry
	provider entry   // the Claim.provider: requester organization or ordering practitioner
	others   []entry // servicing practitioner, ...
	careTeam []claimCareTeam
}

func ref(e entry) reference { return reference{Reference: e.fullURL} }

func newEntry(caseID, role string, build func(id string) any) entry {
	id := entryUUID(caseID, role)
	return entry{fullURL: "urn:uuid:" + id, resource: build(id)}
}

// caseErr is a problem with the case itself: submitting will not work until
// it is corrected. It names fields, never values.
func caseErr(step, format string, args ...any) error {
	return rejected(step, fmt.Sprintf("case: "+format, args...), nil)
}

// validate checks what a PAS request needs from a case.
func (b *builder) validate(c *authpilot.Case) error {
	switch {
	case strings.TrimSpace(c.ID) == "":
		return caseErr("submit", "no case ID")
	case strings.TrimSpace(c.Patient.MemberID) == "":
		return caseErr("submit", "patient member ID missing")
	case strings.TrimSpace(c.Patient.LastName) == "" || strings.TrimSpace(c.Patient.FirstName) == "":
		return caseErr("submit", "patient name missing")
	case c.Patient.DOB.IsZero():
		return caseErr("submit", "patient date of birth missing")
	case len(c.ServiceLines) == 0:
		return caseErr("submit", "no service lines")
	case len(c.Diagnoses) == 0:
		return caseErr("submit", "no diagnosis")
	case len(c.Diagnoses) > 12:
		return caseErr("submit", "%d diagnoses, PAS allows at most 12", len(c.Diagnoses))
	case c.OrderingProvider.NPI == "" && b.requester.NPI == "":
		return caseErr("submit", "ordering provider NPI missing and no requester configured")
	case c.OrderingProvider.NPI != "" && !npiPattern.MatchString(c.OrderingProvider.NPI):
		return caseErr("submit", "ordering provider NPI is not 10 digits")
	case c.ServicingProvider.NPI != "" && !npiPattern.MatchString(c.ServicingProvider.NPI):
		return caseErr("submit", "servicing provider NPI is not 10 digits")
	}
	for i, l := range c.ServiceLines {
		if _, ok := codeSystem(strings.ToUpper(strings.TrimSpace(l.Code))); !ok {
			return caseErr("submit", "service_lines[%d]: code is neither CPT nor HCPCS level II", i)
		}
		if l.Units < 0 {
			return caseErr("submit", "service_lines[%d]: negative units", i)
		}
	}
	for i, d := range c.Diagnoses {
		if _, ok := icd10(d); !ok {
			return caseErr("submit", "diagnoses[%d]: not an ICD-10-CM code", i)
		}
	}
	return nil
}

func (b *builder) parts(c *authpilot.Case) parts {
	p := parts{trace: traceNumber(c.ID)}
	p.patient = newEntry(c.ID, "patient", func(id string) any {
		pt := patient{
			resourceHead: head("Patient", id, profileSubscriber),
			Identifier: []identifier{{
				Type:  concept(sysV2IDType, "MB", "Member Number"),
				Value: c.Patient.MemberID,
			}},
			// The case does not record a gender; US Core requires one.
			Gender:    "unknown",
			BirthDate: c.Patient.DOB.String(),
		}
		if c.Patient.LastName != "" || c.Patient.FirstName != "" {
			n := humanName{Family: c.Patient.LastName}
			if c.Patient.FirstName != "" {
				n.Given = []string{c.Patient.FirstName}
			}
			pt.Name = []humanName{n}
		}
		return pt
	})
	insurerName := b.insurer.Name
	if insurerName == "" {
		insurerName = c.Payer
	}
	p.insurer = newEntry(c.ID, "insurer", func(id string) any {
		o := organization{
			resourceHead: head("Organization", id, profileInsurer), Active: true,
			Type: []codeableConcept{*concept(sysX12EntityID, "PR", "Payer")},
			Name: insurerName,
		}
		if b.insurer.Identifier != "" {
			idf := identifier{Value: b.insurer.Identifier}
			if npiPattern.MatchString(b.insurer.Identifier) {
				idf.System = sysNPI
			}
			o.Identifier = []identifier{idf}
		}
		return o
	})
	p.coverage = newEntry(c.ID, "coverage", func(id string) any {
		return coverage{
			resourceHead: head("Coverage", id, profileCoverage),
			Identifier: []identifier{{
				Type:  concept(sysV2IDType, "MB", "Member Number"),
				Value: c.Patient.MemberID,
			}},
			Status:       "active",
			SubscriberID: c.Patient.MemberID,
			Beneficiary:  ref(p.patient),
			Relationship: concept(sysSubscriber, "self", "Self"),
			Payor:        []reference{ref(p.insurer)},
		}
	})
	var ordering entry
	if c.OrderingProvider.NPI != "" {
		ordering = practitionerEntry(c.ID, "ordering", c.OrderingProvider)
		p.careTeam = append(p.careTeam, claimCareTeam{
			Extension: []extension{{URL: extCareTeamClaimScope, ValueBoolean: ptr(true)}},
			Sequence:  1,
			Provider:  ref(ordering),
		})
	}
	if b.requester.Name != "" || b.requester.NPI != "" {
		p.provider = newEntry(c.ID, "requester", func(id string) any {
			o := organization{
				resourceHead: head("Organization", id, profileRequestor), Active: true,
				Name: b.requester.Name,
			}
			if b.requester.NPI != "" {
				o.Identifier = []identifier{{System: sysNPI, Value: b.requester.NPI}}
			}
			return o
		})
		if ordering.fullURL != "" {
			p.others = append(p.others, ordering)
		}
	} else {
		p.provider = ordering
	}
	if s := c.ServicingProvider; s.NPI != "" && s.NPI != c.OrderingProvider.NPI {
		servicing := practitionerEntry(c.ID, "servicing", s)
		p.others = append(p.others, servicing)
		p.careTeam = append(p.careTeam, claimCareTeam{
			Extension: []extension{{URL: extCareTeamClaimScope, ValueBoolean: ptr(true)}},
			Sequence:  len(p.careTeam) + 1,
			Provider:  ref(servicing),
		})
	}
	return p
}

func practitionerEntry(caseID, role string, pr authpilot.Provider) entry {
	return newEntry(caseID, role, func(id string) any {
		p := practitioner{
			resourceHead: head("Practitioner", id, profilePractitioner),
			Identifier:   []identifier{{System: sysNPI, Value: pr.NPI}},
		}
		if pr.Name != "" {
			p.Name = []humanName{{Text: pr.Name}}
		}
		return p
	})
}

func ptr[T any](v T) *T { return &v }

// claimFor builds the Claim (request or inquiry) of a case.
func (b *builder) claimFor(c *authpilot.Case, p parts, inquiry bool, now time.Time) claim {
	cl := claim{
		resourceHead: head("Claim", entryUUID(c.ID, "claim"), profileClaim),
		Identifier:   []identifier{{System: sysTrace, Value: p.trace}},
		Status:       "active",
		Type:         concept(sysClaimType, "professional", "Professional"),
		Use:          "preauthorization",
		Patient:      ref(p.patient),
		Created:      now.Format(time.RFC3339),
		Insurer:      ptr(ref(p.insurer)),
		Provider:     ref(p.provider),
		Priority:     concept(sysPriority, "normal", "Normal"),
		CareTeam:     p.careTeam,
		Insurance:    []claimInsurance{{Sequence: 1, Focal: true, Coverage: ref(p.coverage)}},
	}
	if b.requester.NPI != "" {
		cl.Identifier[0].Assigner = &reference{Identifier: &identifier{System: sysNPI, Value: b.requester.NPI}}
	}
	level := concept(sysX12Level, "E", "Elective")
	if c.Urgency == authpilot.UrgencyExpedited {
		cl.Priority = concept(sysPriority, "stat", "Immediate")
		level = concept(sysX12Level, "U", "Urgent")
	}
	cl.Extension = []extension{{URL: extLevelOfService, ValueCodeableConcept: level}}
	if inquiry {
		cl.ID = entryUUID(c.ID, "claim-inquiry")
		cl.Meta = &meta{Profile: []string{profileClaimInquiry}}
	}
	var dxSeq []int
	for i, d := range c.Diagnoses {
		code, ok := icd10(d)
		if !ok {
			continue // an inquiry tolerates what a submit rejects
		}
		cl.Diagnosis = append(cl.Diagnosis, claimDiagnosis{
			Sequence:                 i + 1,
			DiagnosisCodeableConcept: concept(sysICD10CM, code, ""),
		})
		dxSeq = append(dxSeq, i+1)
	}
	if inquiry {
		cl.Diagnosis = nil // the IG's inquiry example carries none
	}
	for i, l := range c.ServiceLines {
		code := strings.ToUpper(strings.TrimSpace(l.Code))
		system, _ := codeSystem(code)
		units := l.Units
		if units == 0 {
			units = 1
		}
		it := claimItem{
			Extension: []extension{
				{URL: extServiceItemReqType, ValueCodeableConcept: concept(sysX12ReqType, "HS", "Health Services Review")},
				{URL: extCertificationType, ValueCodeableConcept: concept(sysX12Cert, "I", "Initial")},
				{URL: extItemTraceNumber, ValueIdentifier: &identifier{System: sysTrace, Value: fmt.Sprintf("%s-%d", p.trace, i+1)}},
			},
			Sequence:         i + 1,
			ProductOrService: codeableConcept{Coding: []coding{{System: system, Code: code}}},
			Quantity:         &quantity{Value: ptr(float64(units))},
		}
		if !c.ServiceDate.IsZero() {
			it.ServicedDate = c.ServiceDate.String()
		}
		if len(p.careTeam) > 0 {
			it.CareTeamSequence = []int{1}
		}
		if !inquiry {
			it.DiagnosisSequence = dxSeq
		}
		for _, m := range l.Modifiers {
			if m = strings.ToUpper(strings.TrimSpace(m)); m != "" {
				it.Modifier = append(it.Modifier, codeableConcept{Coding: []coding{{System: system, Code: m}}})
			}
		}
		if l.Level != "" {
			it.BodySite = &codeableConcept{Text: l.Level}
		}
		if l.Laterality != "" {
			it.SubSite = []codeableConcept{{Text: l.Laterality}}
		}
		if inquiry && c.PayerRef != "" {
			// Name the payer's reference so a request made elsewhere
			// (a tracked case) is found too.
			it.Extension = append(it.Extension, extension{URL: extAdminRefNumber, ValueString: ptr(c.PayerRef)})
		}
		cl.Item = append(cl.Item, it)
	}
	return cl
}

func (b *builder) assemble(profile string, id identifier, now time.Time, cl claim, p parts, extra ...entry) ([]byte, error) {
	bd := bundle[any]{
		resourceHead: head("Bundle", "", profile),
		Identifier:   &id,
		Type:         "collection",
		Timestamp:    now.Format(time.RFC3339),
	}
	entries := []entry{{fullURL: "urn:uuid:" + cl.ID, resource: cl}, p.patient, p.coverage, p.provider}
	entries = append(entries, p.others...)
	entries = append(entries, p.insurer)
	entries = append(entries, extra...)
	for _, e := range entries {
		if e.fullURL != "" {
			bd.Entry = append(bd.Entry, bundleEntry[any]{FullURL: e.fullURL, Resource: e.resource})
		}
	}
	out, err := json.Marshal(bd)
	if err != nil {
		return nil, fmt.Errorf("encode bundle: %w", err)
	}
	return out, nil
}

// submitBundle builds the PAS request Bundle of a case for Claim/$submit:
// a collection whose first entry is the Claim, then the Patient, Coverage,
// requester, practitioners and insurer it references.
func (b *builder) submitBundle(c *authpilot.Case) ([]byte, error) {
	if err := b.validate(c); err != nil {
		return nil, err
	}
	now := b.now()
	p := b.parts(c)
	cl := b.claimFor(c, p, false, now)
	return b.assemble(profileRequestBundle, identifier{System: sysTrace, Value: p.trace}, now, cl, p)
}

// inquiryBundle builds the PAS inquiry Bundle of a case for Claim/$inquire:
// the request's Claim identifier (and the payer's reference, when known)
// with the subscriber, insurer and provider, like the IG's inquiry example.
// Each inquiry carries an identifier of its own.
func (b *builder) inquiryBundle(c *authpilot.Case) ([]byte, error) {
	if strings.TrimSpace(c.ID) == "" {
		return nil, caseErr("inquire", "no case ID")
	}
	now := b.now()
	p := b.parts(c)
	if p.provider.fullURL == "" {
		return nil, caseErr("inquire", "ordering provider NPI missing and no requester configured")
	}
	cl := b.claimFor(c, p, true, now)
	id := identifier{System: sysTrace, Value: fmt.Sprintf("%s-Q%d", p.trace, b.inquiries.Add(1))}
	return b.assemble(profileInquiryBundle, id, now, cl, p)
}

// updateBundle builds the PAS Claim Update Bundle that answers c's pended
// request (PAS 2.2.1 update semantics): the updated Claim (profile
// claim-update, its own identifier, related to the prior version with
// relationship "prior", every item of the request unchanged) carries the
// response as supportingInfo — each file an additionalInformation
// reference to a DocumentReference in the Bundle (base64 attachment with
// its name and media type), the note a freeFormMessage — and the Bundle
// holds the prior Claim as first sent. Its identifiers derive from the
// case and the response's content, so a retried update is the same
// update.
func (b *builder) updateBundle(c *authpilot.Case, resp connectors.Response) ([]byte, error) {
	if err := b.validate(c); err != nil {
		return nil, err
	}
	if len(resp.Files) == 0 && strings.TrimSpace(resp.Note) == "" {
		return nil, caseErr("respond", "nothing to send (no file and no note)")
	}
	h := sha256.New()
	h.Write([]byte(resp.Note))
	for _, f := range resp.Files {
		fmt.Fprintf(h, "\x00%s\x00%s\x00%d\x00", f.Name, f.ContentType, len(f.Data))
		h.Write(f.Data)
	}
	key := hex.EncodeToString(h.Sum(nil))[:10]
	now := b.now()
	p := b.parts(c)
	prior := b.claimFor(c, p, false, now)
	upd := b.claimFor(c, p, false, now)
	upd.ID = entryUUID(c.ID, "claim-update-"+key)
	upd.Meta = &meta{Profile: []string{profileClaimUpdate}}
	upd.Identifier[0].Value = traceNumber(p.trace + "-U" + key)
	upd.Related = []claimRelated{{Claim: reference{Reference: "urn:uuid:" + prior.ID},
		Relationship: concept(sysRelatedRel, "prior", "Prior Claim")}}
	var extra []entry
	for i, f := range resp.Files {
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		doc := newEntry(c.ID, fmt.Sprintf("update-%s-doc-%d", key, i), func(id string) any {
			return documentReference{resourceHead: head("DocumentReference", id, profileDocumentRef), Status: "current",
				Type:     concept(sysLOINC, "55107-7", "Addendum Document"),
				Category: []codeableConcept{*concept(sysDocCategory, "clinical-note", "Clinical Note")},
				Subject:  ref(p.patient),
				Content:  []docContent{{Attachment: docAttachment{ContentType: ct, Data: f.Data, Title: f.Name}}}}
		})
		extra = append(extra, doc)
		upd.SupportingInfo = append(upd.SupportingInfo, claimSupport{Sequence: len(upd.SupportingInfo) + 1,
			Category: concept(sysPASTemp, "additionalInformation", "Additional Information"), ValueReference: ptr(ref(doc))})
	}
	if note := strings.TrimSpace(resp.Note); note != "" {
		upd.SupportingInfo = append(upd.SupportingInfo, claimSupport{Sequence: len(upd.SupportingInfo) + 1,
			Category: concept(sysPASTemp, "freeFormMessage", "Free Form Message"), ValueString: &note})
	}
	extra = append([]entry{{fullURL: "urn:uuid:" + prior.ID, resource: prior}}, extra...)
	return b.assemble(profileRequestBundle, identifier{System: sysTrace, Value: upd.Identifier[0].Value}, now, upd, p, extra...)
}
