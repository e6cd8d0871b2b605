package authpilot

import (
	"slices"
	"strings"
	"time"
	"unicode"
)

// Fields a case search matches on (SearchMatch), as the access log names
// them.
const (
	MatchID          = "id"
	MatchExternalRef = "external_ref"
	MatchPayerRef    = "payer_ref"
	MatchMemberID    = "member_id"
	MatchPatientName = "patient_name"
)

// SearchMatch reports which fields of c a search q matches, sorted, or
// nil when it does not match. Matching ignores case; commas count as
// spaces. Every word of q must match one of: the start of the case ID, of
// the external ref or of the payer ref, the whole member ID, or the start
// of a word of the patient's first or last name ("quill", "rosalind
// quill", "Quillfeather, Rosalind"); or q whole starts the payer ref. An
// empty q matches nothing.
func (c *Case) SearchMatch(q string) []string {
	terms := strings.Fields(strings.ToLower(strings.ReplaceAll(q, ",", " ")))
	if len(terms) == 0 {
		return nil
	}
	// A reference typed whole may hold a space ("SHP-PA 000123").
	if whole := strings.ToLower(strings.TrimSpace(q)); len(terms) > 1 && strings.HasPrefix(strings.ToLower(c.PayerRef), whole) {
		return []string{MatchPayerRef}
	}
	names := strings.FieldsFunc(strings.ToLower(c.Patient.FirstName+" "+c.Patient.LastName), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	prefix := func(s, t string) bool { return s != "" && strings.HasPrefix(strings.ToLower(s), t) }
	var matched []string
	for _, t := range terms {
		hit := false
		add := func(field string, ok bool) {
			if ok {
				hit = true
				if !slices.Contains(matched, field) {
					matched = append(matched, field)
				}
			}
		}
		add(MatchID, prefix(c.ID, t))
		add(MatchExternalRef, prefix(c.ExternalRef, t))
		add(MatchPayerRef, prefix(c.PayerRef, t))
		add(MatchMemberID, c.Patient.MemberID != "" && strings.EqualFold(c.Patient.MemberID, t))
		nameHit := false
		for _, n := range names {
			// A name word, or a name typed with its own punctuation
			// ("o'brien", "smith-jones").
			nameHit = nameHit || strings.HasPrefix(n, t)
		}
		full := strings.ToLower(c.Patient.FirstName + " " + c.Patient.LastName)
		nameHit = nameHit || (strings.ContainsFunc(t, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) &&
			strings.Contains(full, t))
		add(MatchPatientName, nameHit)
		if !hit {
			return nil
		}
	}
	slices.Sort(matched)
	return matched
}

// Access is one entry of the access log: a search or lookup of cases by
// text that can match PHI. It names who, when, what kind of field matched
// and the cases returned, never the text searched for.
type Access struct {
	ID    int64     `json:"id"`
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	// Action is "search" (a list with q) or "lookup" (a case named by a
	// reference or an ID prefix).
	Action string `json:"action"`
	// Matched are the fields the query matched in the cases returned
	// (MatchID, MatchPatientName, ...); empty when it matched none.
	Matched []string `json:"matched"`
	CaseIDs []string `json:"case_ids"`
	// From is where a person's read came from (the client address);
	// empty for the CLI.
	From string `json:"from,omitempty"`
}
