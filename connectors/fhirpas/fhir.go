package fhirpas

import (
	"encoding/json"
	"strings"
)

// The FHIR and Da Vinci PAS 2.2.1 identifiers this package reads and writes.
const (
	pasSD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"

	profileRequestBundle = pasSD + "profile-pas-request-bundle"
	profileInquiryBundle = pasSD + "profile-pas-inquiry-request-bundle"
	profileClaim         = pasSD + "profile-claim"
	profileClaimInquiry  = pasSD + "profile-claim-inquiry"
	profileClaimUpdate   = pasSD + "profile-claim-update"
	profileDocumentRef   = pasSD + "profile-documentreference"
	profileSubscriber    = pasSD + "profile-subscriber"
	profileCoverage      = pasSD + "profile-coverage"
	profileInsurer       = pasSD + "profile-insurer"
	profileRequestor     = pasSD + "profile-requestor"
	profilePractitioner  = pasSD + "profile-practitioner"

	extReviewAction        = pasSD + "extension-reviewAction"
	extReviewActionCode    = pasSD + "extension-reviewActionCode"
	extAuthorizationNumber = pasSD + "extension-authorizationNumber"
	extAdminRefNumber      = pasSD + "extension-administrationReferenceNumber"
	extItemPreAuthPeriod   = pasSD + "extension-itemPreAuthPeriod"
	extItemPreAuthIssue    = pasSD + "extension-itemPreAuthIssueDate"
	extItemAuthorizedDet   = pasSD + "extension-itemAuthorizedDetail"
	extCertificationType   = pasSD + "extension-certificationType"
	extServiceItemReqType  = pasSD + "extension-serviceItemRequestType"
	extItemTraceNumber     = pasSD + "extension-itemTraceNumber"
	extLevelOfService      = pasSD + "extension-levelOfServiceCode"
	extCareTeamClaimScope  = pasSD + "extension-careTeamClaimScope"
	extErrorPath           = pasSD + "extension-errorPath"
	extErrorElement        = pasSD + "extension-errorElement"
	extErrorFollowup       = pasSD + "extension-errorFollowupAction"

	// Sub-extensions of reviewAction.
	subNumber     = "number"
	subReasonCode = "reasonCode"

	sysCPT         = "http://www.ama-assn.org/go/cpt"
	sysHCPCS       = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
	sysICD10CM     = "http://hl7.org/fhir/sid/icd-10-cm"
	sysNPI         = "http://hl7.org/fhir/sid/us-npi"
	sysX12Cert     = "https://codesystem.x12.org/005010/1322"
	sysX12ReqType  = "https://codesystem.x12.org/005010/1525"
	sysX12Level    = "https://codesystem.x12.org/005010/1338"
	sysX12EntityID = "https://codesystem.x12.org/005010/98"
	sysV2IDType    = "http://terminology.hl7.org/CodeSystem/v2-0203"
	sysClaimType   = "http://terminology.hl7.org/CodeSystem/claim-type"
	sysPriority    = "http://terminology.hl7.org/CodeSystem/processpriority"
	sysSubscriber  = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
	sysRelatedRel  = "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship"
	sysPASTemp     = "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes"
	sysDocCategory = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
	sysLOINC       = "http://loinc.org"

	// sysTrace names the identifiers authpilot gives its requests (Bundle
	// and Claim): the X12 patient event trace number it originates.
	sysTrace = "urn:authpilot:pas:trace"

	mediaFHIR = "application/fhir+json"
)

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type codeableConcept struct {
	Coding []coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// label is the human words of a concept: its text, else the first
// display, else the first code.
func (cc *codeableConcept) label() string {
	if cc == nil {
		return ""
	}
	if cc.Text != "" {
		return cc.Text
	}
	for _, c := range cc.Coding {
		if c.Display != "" {
			return c.Display
		}
	}
	for _, c := range cc.Coding {
		if c.Code != "" {
			return c.Code
		}
	}
	return ""
}

// code returns the first code of the concept, optionally of one system.
func (cc *codeableConcept) code(system string) string {
	if cc == nil {
		return ""
	}
	for _, c := range cc.Coding {
		if system == "" || c.System == system {
			return c.Code
		}
	}
	return ""
}

func concept(system, code, display string) *codeableConcept {
	return &codeableConcept{Coding: []coding{{System: system, Code: code, Display: display}}}
}

type identifier struct {
	Type     *codeableConcept `json:"type,omitempty"`
	System   string           `json:"system,omitempty"`
	Value    string           `json:"value,omitempty"`
	Assigner *reference       `json:"assigner,omitempty"`
}

type reference struct {
	Reference  string      `json:"reference,omitempty"`
	Identifier *identifier `json:"identifier,omitempty"`
}

type period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

type quantity struct {
	Value *float64 `json:"value,omitempty"`
}

type extension struct {
	URL                  string           `json:"url"`
	Extension            []extension      `json:"extension,omitempty"`
	ValueString          *string          `json:"valueString,omitempty"`
	ValueCode            *string          `json:"valueCode,omitempty"`
	ValueBoolean         *bool            `json:"valueBoolean,omitempty"`
	ValueDate            *string          `json:"valueDate,omitempty"`
	ValuePositiveInt     *int             `json:"valuePositiveInt,omitempty"`
	ValueCodeableConcept *codeableConcept `json:"valueCodeableConcept,omitempty"`
	ValuePeriod          *period          `json:"valuePeriod,omitempty"`
	ValueQuantity        *quantity        `json:"valueQuantity,omitempty"`
	ValueIdentifier      *identifier      `json:"valueIdentifier,omitempty"`
	ValueReference       *reference       `json:"valueReference,omitempty"`
}

// find returns the first extension with url among exts, or nil.
func findExt(exts []extension, url string) *extension {
	for i := range exts {
		if exts[i].URL == url {
			return &exts[i]
		}
	}
	return nil
}

// str returns the extension's string-like value.
func (e *extension) str() string {
	switch {
	case e == nil:
		return ""
	case e.ValueString != nil:
		return strings.TrimSpace(*e.ValueString)
	case e.ValueCode != nil:
		return strings.TrimSpace(*e.ValueCode)
	case e.ValueIdentifier != nil:
		return strings.TrimSpace(e.ValueIdentifier.Value)
	}
	return ""
}

type meta struct {
	Profile []string `json:"profile,omitempty"`
}

// resourceHead is what every resource the connector writes begins with:
// its type, id and the profile it claims.
type resourceHead struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id,omitempty"`
	Meta         *meta  `json:"meta,omitempty"`
}

// head returns the head of a resource of type rt and id claiming profile
// (none when empty).
func head(rt, id, profile string) resourceHead {
	h := resourceHead{ResourceType: rt, ID: id}
	if profile != "" {
		h.Meta = &meta{Profile: []string{profile}}
	}
	return h
}

// bundle is a Bundle whose entries' resources are R: json.RawMessage for
// one being read (each entry decoded by its resourceType), any for one
// being written (its resources encoded in the same pass).
type bundle[R any] struct {
	resourceHead
	Identifier *identifier      `json:"identifier,omitempty"`
	Type       string           `json:"type"`
	Timestamp  string           `json:"timestamp"`
	Entry      []bundleEntry[R] `json:"entry"`
}

type bundleEntry[R any] struct {
	FullURL  string `json:"fullUrl"`
	Resource R      `json:"resource"`
}

type parameters struct {
	ResourceType string      `json:"resourceType"`
	ID           string      `json:"id,omitempty"`
	Parameter    []parameter `json:"parameter,omitempty"`
}

type parameter struct {
	Name     string          `json:"name"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Part     []parameter     `json:"part,omitempty"`
}

type operationOutcome struct {
	ResourceType string    `json:"resourceType"`
	Issue        []ooIssue `json:"issue"`
}

type ooIssue struct {
	Severity    string           `json:"severity"`
	Code        string           `json:"code"`
	Details     *codeableConcept `json:"details,omitempty"`
	Diagnostics string           `json:"diagnostics,omitempty"`
	Expression  []string         `json:"expression,omitempty"`
}

// The request resources.

type claim struct {
	resourceHead
	Extension      []extension      `json:"extension,omitempty"`
	Identifier     []identifier     `json:"identifier,omitempty"`
	Status         string           `json:"status"`
	Type           *codeableConcept `json:"type"`
	Use            string           `json:"use"`
	Patient        reference        `json:"patient"`
	Created        string           `json:"created"`
	Insurer        *reference       `json:"insurer,omitempty"`
	Provider       reference        `json:"provider"`
	Priority       *codeableConcept `json:"priority"`
	CareTeam       []claimCareTeam  `json:"careTeam,omitempty"`
	Related        []claimRelated   `json:"related,omitempty"`
	SupportingInfo []claimSupport   `json:"supportingInfo,omitempty"`
	Diagnosis      []claimDiagnosis `json:"diagnosis,omitempty"`
	Insurance      []claimInsurance `json:"insurance"`
	Item           []claimItem      `json:"item,omitempty"`
}

// claimRelated names the prior version of an updated request (PAS Claim
// Update: relationship "prior").
type claimRelated struct {
	Claim        reference        `json:"claim"`
	Relationship *codeableConcept `json:"relationship"`
}

// claimSupport is one supportingInfo of a Claim: a document of an update
// (category additionalInformation, a reference to a DocumentReference in
// the Bundle) or its note (freeFormMessage, a string).
type claimSupport struct {
	Sequence       int              `json:"sequence"`
	Category       *codeableConcept `json:"category"`
	ValueReference *reference       `json:"valueReference,omitempty"`
	ValueString    *string          `json:"valueString,omitempty"`
}

// documentReference carries one file of an update, base64 in its
// attachment with its name (title) and media type.
type documentReference struct {
	resourceHead
	Status   string            `json:"status"`
	Type     *codeableConcept  `json:"type"`
	Category []codeableConcept `json:"category,omitempty"`
	Subject  reference         `json:"subject"`
	Content  []docContent      `json:"content"`
}

type docContent struct {
	Attachment docAttachment `json:"attachment"`
}

type docAttachment struct {
	ContentType string `json:"contentType,omitempty"`
	Data        []byte `json:"data"` // base64 in JSON
	Title       string `json:"title,omitempty"`
}

type claimCareTeam struct {
	Extension []extension `json:"extension,omitempty"`
	Sequence  int         `json:"sequence"`
	Provider  reference   `json:"provider"`
}

type claimDiagnosis struct {
	Sequence                 int              `json:"sequence"`
	DiagnosisCodeableConcept *codeableConcept `json:"diagnosisCodeableConcept"`
}

type claimInsurance struct {
	Sequence int       `json:"sequence"`
	Focal    bool      `json:"focal"`
	Coverage reference `json:"coverage"`
}

type claimItem struct {
	Extension         []extension       `json:"extension,omitempty"`
	Sequence          int               `json:"sequence"`
	CareTeamSequence  []int             `json:"careTeamSequence,omitempty"`
	DiagnosisSequence []int             `json:"diagnosisSequence,omitempty"`
	ProductOrService  codeableConcept   `json:"productOrService"`
	Modifier          []codeableConcept `json:"modifier,omitempty"`
	ServicedDate      string            `json:"servicedDate,omitempty"`
	Quantity          *quantity         `json:"quantity,omitempty"`
	BodySite          *codeableConcept  `json:"bodySite,omitempty"`
	SubSite           []codeableConcept `json:"subSite,omitempty"`
}

type humanName struct {
	Text   string   `json:"text,omitempty"`
	Family string   `json:"family,omitempty"`
	Given  []string `json:"given,omitempty"`
}

type patient struct {
	resourceHead
	Identifier []identifier `json:"identifier,omitempty"`
	Name       []humanName  `json:"name,omitempty"`
	Gender     string       `json:"gender,omitempty"`
	BirthDate  string       `json:"birthDate,omitempty"`
}

type coverage struct {
	resourceHead
	Identifier   []identifier     `json:"identifier,omitempty"`
	Status       string           `json:"status"`
	SubscriberID string           `json:"subscriberId,omitempty"`
	Beneficiary  reference        `json:"beneficiary"`
	Relationship *codeableConcept `json:"relationship,omitempty"`
	Payor        []reference      `json:"payor"`
}

type organization struct {
	resourceHead
	Identifier []identifier      `json:"identifier,omitempty"`
	Active     bool              `json:"active"`
	Type       []codeableConcept `json:"type,omitempty"`
	Name       string            `json:"name,omitempty"`
}

type practitioner struct {
	resourceHead
	Identifier []identifier `json:"identifier,omitempty"`
	Name       []humanName  `json:"name,omitempty"`
}

// The response resources.

type claimResponse struct {
	ResourceType  string         `json:"resourceType"`
	ID            string         `json:"id,omitempty"`
	Identifier    []identifier   `json:"identifier,omitempty"`
	Status        string         `json:"status,omitempty"`
	Created       string         `json:"created,omitempty"`
	Patient       *reference     `json:"patient,omitempty"`
	Request       *reference     `json:"request,omitempty"`
	Outcome       string         `json:"outcome,omitempty"`
	Disposition   string         `json:"disposition,omitempty"`
	PreAuthRef    string         `json:"preAuthRef,omitempty"`
	PreAuthPeriod *period        `json:"preAuthPeriod,omitempty"`
	Item          []crItem       `json:"item,omitempty"`
	AddItem       []crAddItem    `json:"addItem,omitempty"`
	Adjudication  []adjudication `json:"adjudication,omitempty"`
	ProcessNote   []processNote  `json:"processNote,omitempty"`
	Error         []crError      `json:"error,omitempty"`
}

type crItem struct {
	Extension    []extension    `json:"extension,omitempty"`
	ItemSequence int            `json:"itemSequence"`
	NoteNumber   []int          `json:"noteNumber,omitempty"`
	Adjudication []adjudication `json:"adjudication,omitempty"`
}

type crAddItem struct {
	Extension        []extension      `json:"extension,omitempty"`
	ItemSequence     []int            `json:"itemSequence,omitempty"`
	ProductOrService *codeableConcept `json:"productOrService,omitempty"`
	Quantity         *quantity        `json:"quantity,omitempty"`
	NoteNumber       []int            `json:"noteNumber,omitempty"`
	Adjudication     []adjudication   `json:"adjudication,omitempty"`
}

type adjudication struct {
	Extension []extension      `json:"extension,omitempty"`
	Category  *codeableConcept `json:"category,omitempty"`
	Reason    *codeableConcept `json:"reason,omitempty"`
}

type processNote struct {
	Number int    `json:"number,omitempty"`
	Type   string `json:"type,omitempty"`
	Text   string `json:"text"`
}

type crError struct {
	Extension []extension      `json:"extension,omitempty"`
	Code      *codeableConcept `json:"code,omitempty"`
}

type communicationRequest struct {
	ResourceType string            `json:"resourceType"`
	Category     []codeableConcept `json:"category,omitempty"`
	Payload      []struct {
		ContentString string `json:"contentString,omitempty"`
	} `json:"payload,omitempty"`
}
