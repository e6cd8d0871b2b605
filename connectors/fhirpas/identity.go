package fhirpas

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/fhirjson"
)

// patientResource is what identifies the member in a response's Patient.
type patientResource struct {
	ID         string       `json:"id"`
	Identifier []identifier `json:"identifier"`
	BirthDate  string       `json:"birthDate"`
}

// shownIdentity reads what a PAS response shows of whose request it is:
// the member number (the Patient identifier of type MB, else its only
// identifier) and the birth date of the Patient the ClaimResponse names
// (the only Patient of the response when the reference does not resolve).
// A ClaimResponse carries neither the requested codes (an authorized code
// may be a substitute) nor the service date, so those are not shown. nil
// when the response holds no Patient.
func shownIdentity(f found) *authpilot.Identity {
	var pts []patientResource
	for _, raw := range f.others {
		if fhirjson.ResourceType(raw) != "Patient" {
			continue
		}
		var p patientResource
		if json.Unmarshal(raw, &p) == nil {
			pts = append(pts, p)
		}
	}
	var pt *patientResource
	ref := ""
	if f.cr.Patient != nil {
		ref = f.cr.Patient.Reference
	}
	for i := range pts {
		if pts[i].ID != "" && (ref == "Patient/"+pts[i].ID || strings.HasSuffix(ref, "/Patient/"+pts[i].ID)) {
			pt = &pts[i]
		}
	}
	if pt == nil && len(pts) == 1 {
		pt = &pts[0]
	}
	if pt == nil {
		return nil
	}
	id := &authpilot.Identity{DOB: strings.TrimSpace(pt.BirthDate)}
	for _, idf := range pt.Identifier {
		if idf.Type != nil {
			for _, c := range idf.Type.Coding {
				if c.Code == "MB" {
					id.MemberID = idf.Value
				}
			}
		}
	}
	if id.MemberID == "" && len(pt.Identifier) == 1 {
		id.MemberID = pt.Identifier[0].Value
	}
	return id
}

// madeBefore reports whether a ClaimResponse dated created was certainly
// about a request made before since: created (the submission or, once
// decided, the decision) is never earlier than the request, so a response
// created more than clockSkew before since is an older request's.
func madeBefore(created, since time.Time) bool {
	return !created.IsZero() && !since.IsZero() && created.Before(since.Add(-clockSkew))
}

// clockSkew allows for the payer's clock differing from ours.
const clockSkew = 5 * time.Minute
