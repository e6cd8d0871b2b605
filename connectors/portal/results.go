package portal

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
)

// Variable names that map onto results.
const (
	VarPayerRef      = "payer_ref"
	VarStatus        = "status"
	VarAuthNumber    = "auth_number"
	VarApprovedUnits = "approved_units"
	VarApprovedLines = "approved_lines"
	VarValidFrom     = "valid_from"
	VarValidTo       = "valid_to"
	VarDenialReason  = "denial_reason"
	VarInfoRequested = "info_requested"
	VarDecidedAt     = "decided_at"
	VarNoticeDate    = "notice_date"
	VarUpdated       = "updated"
	// VarSubmittedAt is when the payer shows a request was made (find).
	VarSubmittedAt = "submitted_at"
	// VarRequests is a find flow's table of candidate requests, one row per
	// request (fields payer_ref, status, submitted_at and identity fields).
	VarRequests = "requests"
)

// dateLayouts are the date forms portals print.
var dateLayouts = []string{
	"2006-01-02", "1/2/2006", "01/02/2006", "Jan 2, 2006", "January 2, 2006", "2 Jan 2006", "02-Jan-2006", "Jan 02, 2006",
}

// timeLayouts are date-time forms. Only RFC 3339 carries its own offset;
// every other form is a wall-clock time in the portal's zone.
var timeLayouts = []string{
	time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04",
	"2006-01-02 3:04 PM", "1/2/2006 3:04 PM", "1/2/2006 3:04:05 PM", "1/2/2006 15:04", "1/2/2006 15:04:05",
	"Jan 2, 2006 3:04 PM", "Jan 2, 2006, 3:04 PM", "Jan 2, 2006 15:04", "January 2, 2006 3:04 PM", "January 2, 2006, 3:04 PM",
	"January 2, 2006 at 3:04 PM", "Jan 2, 2006 at 3:04 PM",
}

// meridiem matches a trailing am/pm after a digit, in any case, with or
// without a space or dots ("2:15pm", "2:15 p.m.").
var meridiem = regexp.MustCompile(`(?i)(\d)\s*([ap])\.?m\.?$`)

// ParseDate reads a date in any of the accepted forms (2006-01-02,
// 01/02/2006, Jan 2, 2006, January 2, 2006, ...). A date has no zone.
func ParseDate(s string) (authpilot.Date, error) {
	s = normSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return authpilot.DateOf(t), nil
		}
	}
	return authpilot.Date{}, errors.New("not a date in a known form (2006-01-02, 01/02/2006, Jan 2, 2006)")
}

// ParseTime reads a date-time as the portal shows it: a wall-clock time in
// loc (the flow's timezone, else the practice's; nil is UTC) unless the text
// carries its own offset (RFC 3339). A date alone is midnight in loc and
// dateOnly is true: it names a day, not an instant. A wall-clock time that
// a DST change skips is moved forward by the gap (02:30 on spring-forward
// day is 03:30); one that occurs twice is the first (daylight) one.
func ParseTime(s string, loc *time.Location) (t time.Time, dateOnly bool, err error) {
	if loc == nil {
		loc = time.UTC
	}
	s = normSpace(s)
	if m := meridiem.FindStringSubmatchIndex(s); m != nil {
		s = s[:m[3]] + " " + strings.ToUpper(s[m[4]:m[5]]) + "M"
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if l == time.RFC3339 {
				return t, false, nil
			}
			return wallClock(t, loc), false, nil
		}
	}
	d, err := ParseDate(s)
	if err != nil {
		return time.Time{}, false, errors.New("not a date or date-time in a known form")
	}
	return d.In(loc), true, nil
}

// wallClock returns the instant that wall's clock reading (its fields, read
// as UTC) shows in loc. time.Date leaves the choice open for a reading that
// a DST change skips or repeats; here a skipped reading moves forward by the
// gap and a repeated one is the first (daylight) occurrence.
func wallClock(wall time.Time, loc *time.Location) time.Time {
	y, mo, d := wall.Date()
	h, mi, sec := wall.Clock()
	w := time.Date(y, mo, d, h, mi, sec, wall.Nanosecond(), time.UTC)
	shows := func(t time.Time) bool {
		l := t.In(loc)
		ly, lmo, ld := l.Date()
		lh, lmi, ls := l.Clock()
		return time.Date(ly, lmo, ld, lh, lmi, ls, l.Nanosecond(), time.UTC).Equal(w)
	}
	// The offsets in force a day before and a day after the reading.
	_, before := w.Add(-24 * time.Hour).In(loc).Zone()
	_, after := w.Add(24 * time.Hour).In(loc).Zone()
	first := w.Add(-time.Duration(before) * time.Second)
	second := w.Add(-time.Duration(after) * time.Second)
	switch {
	case shows(first) && shows(second):
		if second.Before(first) {
			return second.In(loc)
		}
		return first.In(loc)
	case shows(first):
		return first.In(loc)
	case shows(second):
		return second.In(loc)
	}
	// Skipped: read with the offset before the change, which lands after it.
	return first.In(loc)
}

// mapStatus maps payer wording through status_map; the first rule that
// matches the whitespace-normalized text wins.
func (o *Options) mapStatus(text string) (authpilot.Status, bool) {
	t := normSpace(text)
	if t == "" {
		return "", false
	}
	for _, r := range o.StatusMap {
		if r.Pattern.MatchString(t) {
			return r.Status, true
		}
	}
	return "", false
}

// outcome is what one flow run read about a case.
type outcome struct {
	payerRef   string
	status     authpilot.Status
	statusText string
	hasStatus  bool
	det        *authpilot.Determination
}

func varString(vars map[string]any, name string) string {
	if v, ok := vars[name].(string); ok {
		return normSpace(v)
	}
	return ""
}

// errUnmapped is the portal_changed error for status text that matches no
// status_map rule. The text itself goes in StatusText, not in the error.
func errUnmapped(step string) error {
	return &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: step, Err: authpilot.ErrUnmappedStatus}
}

// outcomeOf turns the variables of a flow run into results. c may be nil.
// A value that does not parse is a portal_changed error naming the field.
func (o *Options) outcomeOf(c *authpilot.Case, vars map[string]any, step string) (*outcome, error) {
	out := &outcome{payerRef: varString(vars, VarPayerRef)}
	if raw, ok := vars[VarStatus].(string); ok && normSpace(raw) != "" {
		out.statusText = normSpace(raw)
		st, ok := o.mapStatus(raw)
		if !ok {
			return out, errUnmapped(step)
		}
		out.status, out.hasStatus = st, true
	}
	bad := func(field string, err error) error {
		return &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: step, Msg: fmt.Sprintf("field %q: %v", field, err)}
	}
	det := &authpilot.Determination{
		Status:        out.status,
		AuthNumber:    varString(vars, VarAuthNumber),
		DenialReason:  varString(vars, VarDenialReason),
		InfoRequested: varString(vars, VarInfoRequested),
	}
	has := det.AuthNumber != "" || det.DenialReason != "" || det.InfoRequested != ""
	for _, f := range []struct {
		name string
		dst  *authpilot.Date
	}{{VarValidFrom, &det.ValidFrom}, {VarValidTo, &det.ValidTo}, {VarNoticeDate, &det.NoticeDate}} {
		if s := varString(vars, f.name); s != "" {
			d, err := ParseDate(s)
			if err != nil {
				return out, bad(f.name, err)
			}
			*f.dst, has = d, true
		}
	}
	if s := varString(vars, VarDecidedAt); s != "" {
		t, _, err := ParseTime(s, o.location())
		if err != nil {
			return out, bad(VarDecidedAt, err)
		}
		det.DecidedAt, has = &t, true
		if det.NoticeDate.IsZero() {
			// The day the portal shows (a date alone stays that day).
			det.NoticeDate = authpilot.DateOf(t)
		}
	}
	lines, err := approvedLines(c, vars)
	if err != nil {
		return out, bad(VarApprovedLines, err)
	}
	if len(lines) > 0 {
		det.ApprovedLines, has = lines, true
	}
	if out.hasStatus && (out.status.Decided() || has) {
		out.det = det
	}
	return out, nil
}

// approvedLines reads approved_lines rows (fields code and units), or a
// single approved_units value that applies to every requested line.
func approvedLines(c *authpilot.Case, vars map[string]any) ([]authpilot.ApprovedLine, error) {
	if rows, ok := vars[VarApprovedLines].([]map[string]string); ok {
		var out []authpilot.ApprovedLine
		for i, r := range rows {
			code := normSpace(r["code"])
			if code == "" {
				return nil, fmt.Errorf("row %d has no code", i+1)
			}
			units := 0
			if u := r["units"]; u != "" {
				n, ok := atoiLoose(u)
				if !ok {
					return nil, fmt.Errorf("row %d: units is not a number", i+1)
				}
				units = n
			}
			out = append(out, authpilot.ApprovedLine{Code: code, Units: units})
		}
		return out, nil
	}
	s := varString(vars, VarApprovedUnits)
	if s == "" || c == nil {
		return nil, nil
	}
	n, ok := atoiLoose(s)
	if !ok {
		return nil, errors.New("approved_units is not a number")
	}
	var out []authpilot.ApprovedLine
	for _, l := range c.ServiceLines {
		out = append(out, authpilot.ApprovedLine{Code: l.Code, Units: n})
	}
	return out, nil
}

func normRef(s string) string { return strings.ToUpper(normSpace(s)) }
