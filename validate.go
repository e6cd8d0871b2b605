package authpilot

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// FieldError is one broken rule of an input, named by its field path.
type FieldError struct {
	Field string `json:"field"`
	Rule  string `json:"rule"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Rule }

// ValidationError lists every broken rule of an input. Its text names
// fields and rules, never values (values may be PHI).
type ValidationError []FieldError

func (v ValidationError) Error() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Error()
	}
	return "invalid case: " + strings.Join(parts, "; ")
}

// Limits on a case's sizes.
const (
	MaxServiceLines = 20
	MaxDiagnoses    = 12
	MaxAttachments  = 20
	maxText         = 200
	maxNotes        = 20000
)

var (
	cptRe      = regexp.MustCompile(`^[0-9]{4}[0-9FTU]$`)
	hcpcsRe    = regexp.MustCompile(`^[A-CEGHJ-MP-V][0-9]{4}$`)
	icd10Re    = regexp.MustCompile(`^[A-TV-Z][0-9][0-9AB](\.[0-9A-KXZ]{1,4})?$`)
	memberIDRe = regexp.MustCompile(`^[A-Za-z0-9-]{3,30}$`)
	refRe      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$`)
	idRe       = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
)

// ValidNPI reports whether s is a National Provider Identifier: ten digits
// whose last is the Luhn check digit of the first nine prefixed by 80840.
func ValidNPI(s string) bool {
	if len(s) != 10 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	digits := "80840" + s[:9]
	sum := 0
	// Luhn over the payload; the check digit will take the rightmost place,
	// so the payload's rightmost digit is doubled.
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	check := (10 - sum%10) % 10
	return int(s[9]-'0') == check
}

// NormalizeICD10 upper-cases an ICD-10-CM code and puts the dot after the
// third character ("m48062" → "M48.062").
func NormalizeICD10(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.ReplaceAll(s, ".", "")
	if len(s) > 3 {
		s = s[:3] + "." + s[3:]
	}
	return s
}

// ValidProcedureCode reports whether s has the shape of a CPT (five
// digits, or four and F/T/U) or HCPCS Level II (letter and four digits) code.
func ValidProcedureCode(s string) bool { return cptRe.MatchString(s) || hcpcsRe.MatchString(s) }

// Normalize trims and canonicalizes a new case's fields in place (codes
// upper-cased, ICD-10 dotted, defaults for urgency).
func (c *Case) Normalize() {
	trim := func(p *string) { *p = strings.TrimSpace(*p) }
	for _, p := range []*string{&c.ExternalRef, &c.Episode, &c.Payer, &c.ConnectorID, &c.PayerRef,
		&c.Patient.FirstName, &c.Patient.LastName, &c.Patient.MemberID,
		&c.OrderingProvider.NPI, &c.OrderingProvider.Name, &c.ServicingProvider.NPI,
		&c.ServicingProvider.Name, &c.Facility.Name, &c.Facility.NPI} {
		trim(p)
	}
	c.Patient.MemberID = strings.ToUpper(c.Patient.MemberID)
	if c.Urgency == "" {
		c.Urgency = UrgencyStandard
	}
	for i := range c.ServiceLines {
		c.ServiceLines[i].Code = strings.ToUpper(strings.TrimSpace(c.ServiceLines[i].Code))
		if c.ServiceLines[i].Units == 0 {
			c.ServiceLines[i].Units = 1
		}
	}
	for i, d := range c.Diagnoses {
		c.Diagnoses[i] = NormalizeICD10(d)
	}
}

// ValidateNew checks a case offered at intake. today is the current date in
// the practice's time zone: a new request's service date may not be in the
// past (a tracked authorization's may). It returns a ValidationError naming
// every broken rule.
func (c *Case) ValidateNew(today Date) error {
	var errs ValidationError
	add := func(field, format string, a ...any) {
		errs = append(errs, FieldError{Field: field, Rule: fmt.Sprintf(format, a...)})
	}
	text := func(field, v string, required bool, max int) {
		switch {
		case v == "" && required:
			add(field, "is required")
		case len(v) > max:
			add(field, "is longer than %d characters", max)
		default:
			if rule := TextRule(v, false); rule != "" {
				add(field, "%s", rule)
			}
		}
	}

	if c.ExternalRef != "" && !refRe.MatchString(c.ExternalRef) {
		add("external_ref", "must be 1-64 letters, digits or ._/- characters")
	}
	if c.Episode != "" && !refRe.MatchString(c.Episode) {
		add("episode", "must be 1-64 letters, digits or ._/- characters")
	}
	text("patient.first_name", c.Patient.FirstName, true, maxText)
	text("patient.last_name", c.Patient.LastName, true, maxText)
	switch {
	case c.Patient.DOB.IsZero():
		add("patient.dob", "is required (YYYY-MM-DD)")
	case !c.Patient.DOB.Before(today):
		add("patient.dob", "must be in the past")
	case c.Patient.DOB.Year < today.Year-130:
		add("patient.dob", "is more than 130 years ago")
	}
	switch {
	case c.Patient.MemberID == "":
		add("patient.member_id", "is required")
	case !memberIDRe.MatchString(c.Patient.MemberID):
		add("patient.member_id", "must be 3-30 letters, digits or dashes")
	}

	switch {
	case c.Payer == "":
		add("payer", "is required")
	case !idRe.MatchString(c.Payer):
		add("payer", "must be lower-case letters, digits and dashes")
	}
	if c.ConnectorID != "" && !idRe.MatchString(c.ConnectorID) {
		add("connector", "must be lower-case letters, digits and dashes")
	}
	if c.PlanType != "" && !oneOf(c.PlanType, PlanTypes) {
		add("plan_type", "must be one of %s", list(PlanTypes))
	}
	switch {
	case c.Track == "":
		add("track", "is required (one of %s)", list(Tracks))
	case !oneOf(c.Track, Tracks):
		add("track", "must be one of %s", list(Tracks))
	}
	if !oneOf(c.Urgency, []Urgency{UrgencyStandard, UrgencyExpedited}) {
		add("urgency", "must be standard or expedited")
	}

	npi := func(field, v string, required bool) {
		switch {
		case v == "":
			if required {
				add(field, "is required")
			}
		case len(v) != 10 || strings.Trim(v, "0123456789") != "":
			add(field, "must be 10 digits")
		case !ValidNPI(v):
			add(field, "fails the NPI check digit (Luhn with prefix 80840)")
		}
	}
	npi("ordering_provider.npi", c.OrderingProvider.NPI, true)
	npi("servicing_provider.npi", c.ServicingProvider.NPI, false)
	npi("facility.npi", c.Facility.NPI, false)
	text("ordering_provider.name", c.OrderingProvider.Name, false, maxText)
	text("servicing_provider.name", c.ServicingProvider.Name, false, maxText)
	text("facility.name", c.Facility.Name, false, maxText)

	// count checks a list's length: at least one (one names it), at most
	// most (unit names them).
	count := func(field string, n, most int, one, unit string) {
		switch {
		case n == 0:
			add(field, "needs at least one %s", one)
		case n > most:
			add(field, "has more than %d %s", most, unit)
		}
	}
	count("service_lines", len(c.ServiceLines), MaxServiceLines, "service line", "lines")
	for i, l := range c.ServiceLines {
		f := fmt.Sprintf("service_lines[%d]", i)
		if !ValidProcedureCode(l.Code) {
			add(f+".code", "must be a CPT (5 digits, or 4 and F/T/U) or HCPCS (letter and 4 digits) code")
		}
		if l.Units < 1 || l.Units > 999 {
			add(f+".units", "must be between 1 and 999")
		}
		if len(l.Modifiers) > 4 {
			add(f+".modifiers", "has more than 4 modifiers")
		}
		for j, m := range l.Modifiers {
			if len(m) != 2 || TextRule(m, false) != "" {
				add(fmt.Sprintf("%s.modifiers[%d]", f, j), "must be 2 characters")
			}
		}
		text(f+".level", l.Level, false, 40)
		if l.Laterality != "" && !oneOf(l.Laterality, []string{"left", "right", "bilateral"}) {
			add(f+".laterality", "must be left, right or bilateral")
		}
	}
	count("diagnoses", len(c.Diagnoses), MaxDiagnoses, "ICD-10-CM code", "codes")
	for i, d := range c.Diagnoses {
		if !icd10Re.MatchString(d) {
			add(fmt.Sprintf("diagnoses[%d]", i), "must be an ICD-10-CM code (letter, digit, digit or A/B, then up to 4 characters after the dot)")
		}
	}
	switch {
	case c.ServiceDate.IsZero():
		add("service_date", "is required (YYYY-MM-DD)")
	case !c.Tracked && c.ServiceDate.Before(today):
		add("service_date", "is in the past (a new request needs a future or current date)")
	case c.ServiceDate.After(today.AddDays(730)):
		add("service_date", "is more than two years ahead")
	}
	if len(c.ClinicalNotes) > maxNotes {
		add("clinical_notes", "is longer than %d characters", maxNotes)
	} else if rule := TextRule(c.ClinicalNotes, true); rule != "" {
		add("clinical_notes", "%s", rule)
	}
	if len(c.Attachments) > MaxAttachments {
		add("attachments", "has more than %d files", MaxAttachments)
	}
	for i, a := range c.Attachments {
		text(fmt.Sprintf("attachments[%d].name", i), a.Name, true, maxText)
		text(fmt.Sprintf("attachments[%d].kind", i), a.Kind, false, maxText)
		text(fmt.Sprintf("attachments[%d].content_type", i), a.ContentType, false, maxText)
	}

	if c.Tracked {
		if c.PayerRef == "" {
			add("payer_ref", "is required to track an authorization submitted elsewhere")
		} else if !refRe.MatchString(c.PayerRef) {
			add("payer_ref", "must be 1-64 letters, digits or ._/- characters")
		}
	} else if c.PayerRef != "" {
		add("payer_ref", "is only allowed with tracked: true (an authorization submitted elsewhere)")
	}
	if c.Status != "" && c.Status != StatusDraft && c.Status != StatusReady {
		if !c.Tracked || !c.Status.Pending() {
			add("status", "a new case starts as draft or ready (a tracked one as submitted, pended or contact_payer)")
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// TextRule returns the rule a text field's value breaks, or "": text must
// be valid UTF-8 without control characters (NUL, ESC, CR, LF, DEL, the C1
// range), line or paragraph separators, or bidirectional overrides, which
// would forge lines or colours on a terminal and in logs. A multiline field
// (clinical notes) may hold line feeds, carriage returns before them, and
// tabs.
func TextRule(v string, multiline bool) string {
	if !utf8.ValidString(v) {
		return "must be valid UTF-8"
	}
	for i, r := range v {
		if multiline && (r == '\n' || r == '\t' || (r == '\r' && i+1 < len(v) && v[i+1] == '\n')) {
			continue
		}
		if unsafeRune(r) {
			if multiline {
				return fmt.Sprintf("must not contain control character %U (only line feeds and tabs are allowed)", r)
			}
			return fmt.Sprintf("must not contain control character %U", r)
		}
	}
	return ""
}

// unsafeRune reports runes a terminal or a log line must never get raw.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x2028, r == 0x2029, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// Printable returns s with every control character, line separator and
// bidirectional override escaped (\x1b, \u202e), for printing text that
// came from outside (a payer's words, a stored name) on a terminal.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, "\\x%02x", r)
		case unsafeRune(r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

func oneOf[T comparable](v T, list []T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func list[T ~string](l []T) string {
	s := make([]string, len(l))
	for i, x := range l {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

// InitialStatus is the status a validated new case starts in: a tracked
// authorization is already submitted; a request defaults to ready.
func (c *Case) InitialStatus() Status {
	switch {
	case c.Status != "":
		return c.Status
	case c.Tracked:
		return StatusSubmitted
	default:
		return StatusReady
	}
}

// Today returns the current date in loc.
func Today(now time.Time, loc *time.Location) Date { return DateOf(now.In(loc)) }
