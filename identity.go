package authpilot

import (
	"sort"
	"strings"
	"time"
	"unicode"
)

// Identity is what a payer showed of one of its requests that says whose
// request it is and what for: the member ID (often masked, "****1234"), the
// date of birth where the payer shows it, the service codes and the service
// date, as the payer printed them. An empty field was not shown. All of it
// is PHI: it is compared with a case and never logged.
type Identity struct {
	MemberID    string `json:"member_id,omitempty"`
	DOB         string `json:"dob,omitempty"`
	Codes       string `json:"codes,omitempty"`
	ServiceDate string `json:"service_date,omitempty"`
}

// Identity field names, as IdentityMismatch reports them and as flows
// declare them.
const (
	IdentityMemberID    = "member_id"
	IdentityDOB         = "dob"
	IdentityCodes       = "codes"
	IdentityServiceDate = "service_date"
)

// IdentityFields lists the identity field names in report order.
var IdentityFields = []string{IdentityMemberID, IdentityDOB, IdentityCodes, IdentityServiceDate}

// IsZero reports whether the payer showed nothing that identifies the
// request.
func (id Identity) IsZero() bool { return id == Identity{} }

// Get returns a field by its name ("" for an unknown name).
func (id Identity) Get(name string) string {
	switch name {
	case IdentityMemberID:
		return id.MemberID
	case IdentityDOB:
		return id.DOB
	case IdentityCodes:
		return id.Codes
	case IdentityServiceDate:
		return id.ServiceDate
	}
	return ""
}

// Set sets a field by its name; it reports false for an unknown name.
func (id *Identity) Set(name, value string) bool {
	switch name {
	case IdentityMemberID:
		id.MemberID = value
	case IdentityDOB:
		id.DOB = value
	case IdentityCodes:
		id.Codes = value
	case IdentityServiceDate:
		id.ServiceDate = value
	default:
		return false
	}
	return true
}

// IdentityMismatch compares what a payer showed of a request with the case
// and returns the names of the fields that differ (IdentityFields order),
// or nil when every shown field agrees. Fields the payer did not show are
// not compared; a shown field that cannot be read (a date in an unknown
// form) differs, since it cannot be confirmed. Comparison ignores case and
// spacing, reads dates in the usual US and ISO forms, takes codes as a set
// (any order, commas or spaces between them), and matches a masked member
// ID ("****1234", "•••1234", "XXXX1234" is not a mask) on its visible
// characters. A service date matches the case's or, after the practice
// moved it, the one the payer has on record (PayerServiceDate). The
// names, never the values, may be shown to staff.
func (c *Case) IdentityMismatch(shown Identity) []string {
	var diff []string
	if s := shown.MemberID; strings.TrimSpace(s) != "" && !memberIDMatches(c.Patient.MemberID, s) {
		diff = append(diff, IdentityMemberID)
	}
	if s := shown.DOB; strings.TrimSpace(s) != "" && !dateMatches(c.Patient.DOB, s) {
		diff = append(diff, IdentityDOB)
	}
	if s := shown.Codes; strings.TrimSpace(s) != "" && !codesMatch(c.Codes(), s) {
		diff = append(diff, IdentityCodes)
	}
	if s := shown.ServiceDate; strings.TrimSpace(s) != "" && !dateMatches(c.ServiceDate, s) &&
		(c.PayerServiceDate.IsZero() || !dateMatches(c.PayerServiceDate, s)) {
		diff = append(diff, IdentityServiceDate)
	}
	return diff
}

// maskRunes hide characters of a member ID on payer pages.
const maskRunes = "*•●·#"

func normID(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if unicode.IsSpace(r) || r == '-' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// memberIDMatches compares a member ID with its shown form. A masked form
// matches when its visible characters agree position by position, counted
// from the right (portals keep the last digits), and at least four are
// visible; the lengths must agree unless the mask is a single run.
func memberIDMatches(want, shown string) bool {
	w, s := normID(want), normID(shown)
	if w == "" {
		return false
	}
	if !strings.ContainsAny(s, maskRunes) {
		return w == s
	}
	sr, wr := []rune(s), []rune(w)
	visible := 0
	for i := 1; i <= len(sr); i++ {
		r := sr[len(sr)-i]
		if strings.ContainsRune(maskRunes, r) {
			continue
		}
		if i > len(wr) || wr[len(wr)-i] != r {
			return false
		}
		visible++
	}
	if visible < 4 {
		return false
	}
	// "****1234" against a 12-character ID: a single leading run of mask
	// characters may stand for any number of hidden ones.
	prefix := strings.TrimLeft(s, maskRunes)
	if !strings.ContainsAny(prefix, maskRunes) {
		return len(prefix) <= len(wr)
	}
	return len(sr) == len(wr)
}

// shownDateLayouts are the date forms payer pages print.
var shownDateLayouts = []string{
	"2006-01-02", "1/2/2006", "01/02/2006", "Jan 2, 2006", "January 2, 2006", "2 Jan 2006",
	"02-Jan-2006", "Jan 02, 2006", "20060102", "2006/01/02", "1-2-2006",
}

// ParseShownDate reads a date as payer pages print it (2006-01-02,
// 01/02/2006, Jan 2, 2006, January 2, 2006, 2 Jan 2006, 02-Jan-2006,
// 20060102); a time after the date is ignored.
func ParseShownDate(s string) (Date, bool) {
	s = strings.Join(strings.Fields(s), " ")
	for _, l := range shownDateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return DateOf(t), true
		}
	}
	// "03/02/2026 09:30 AM", "2026-03-02T09:30:00Z": the date part.
	if i := strings.IndexAny(s, " T"); i > 0 {
		for _, l := range shownDateLayouts {
			if t, err := time.Parse(l, s[:i]); err == nil {
				return DateOf(t), true
			}
		}
	}
	return Date{}, false
}

func dateMatches(want Date, shown string) bool {
	d, ok := ParseShownDate(shown)
	return ok && !want.IsZero() && d == want
}

// codeSet splits shown codes on commas, semicolons, slashes and spaces.
func codeSet(codes []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range codes {
		for _, f := range strings.FieldsFunc(strings.ToUpper(c), func(r rune) bool {
			return unicode.IsSpace(r) || r == ',' || r == ';' || r == '/' || r == '|'
		}) {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	sort.Strings(out)
	return out
}

func codesMatch(want []string, shown string) bool {
	w, s := codeSet(want), codeSet([]string{shown})
	if len(w) != len(s) || len(w) == 0 {
		return false
	}
	for i := range w {
		if w[i] != s[i] {
			return false
		}
	}
	return true
}
