package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
)

// Fact is one labelled value of an alert's summary.
type Fact struct {
	Label, Value string
}

// Summary is an alert laid out for a sink that shows text (e-mail, Teams):
// what happened, the facts of the case, what to do, and the patient only
// for a sink that opted in to PHI. Values are plain text; the sink escapes
// them for its format.
type Summary struct {
	// Title is the alert's title, or its type in words.
	Title string
	// Severity is "critical", "warning" or "info"; a resolved alert reads
	// "resolved".
	Severity string
	Facts    []Fact
	// Rows are a digest's cases, one line each, "…and N more" last.
	Rows   []string
	Action string
	// Patient holds the patient, codes and diagnoses; empty unless the
	// case was given (a sink with include_phi).
	Patient []Fact
	// Footer names the alert's type and ID, connector, recording and
	// screenshot, for looking it up.
	Footer string
}

// Summarize lays out a. c must be nil unless the sink opted in to PHI (the
// Dispatcher passes the case only then); without it the summary carries
// only the alert's own fields, which the Dispatcher has already redacted
// for a sink without PHI. Dates read in loc, relative to now. rows caps a
// digest's rows (0: 25).
func Summarize(a authpilot.Alert, c *authpilot.Case, now time.Time, loc *time.Location, rows int) Summary {
	if loc == nil {
		loc = time.UTC
	}
	if rows <= 0 {
		rows = 25
	}
	s := Summary{Title: strings.TrimSpace(a.Title), Severity: string(a.Severity), Action: a.Action}
	if s.Title == "" {
		s.Title = HumanType(a.Type)
	}
	if a.Type == authpilot.AlertResolved {
		s.Severity = "resolved"
	} else if s.Severity == "" {
		s.Severity = string(authpilot.SeverityInfo)
	}
	add := func(label, value string) {
		if value != "" {
			s.Facts = append(s.Facts, Fact{label, value})
		}
	}
	add("Case", a.CaseID)
	add("Ref", a.ExternalRef)
	add("Payer", a.Payer)
	add("Track", string(a.Track))
	if a.Status != "" {
		st := string(a.Status)
		if a.PrevStatus != "" && a.PrevStatus != a.Status {
			st = string(a.PrevStatus) + " → " + st
		}
		add("Status", st)
	}
	if a.Deadline != nil {
		add("Deadline", DeadlineText(a.Deadline, now, loc))
	}
	add("Auth #", a.AuthNumber)
	add("Reason", a.Reason)
	add("Sink", a.Sink)
	if a.Type == authpilot.AlertDigest {
		for i, it := range a.Items {
			if i == rows {
				s.Rows = append(s.Rows, fmt.Sprintf("…and %d more", len(a.Items)-rows))
				break
			}
			r := it.CaseID + " " + it.Payer
			if it.Track != "" {
				r += " · " + string(it.Track)
			}
			if it.Status != "" {
				r += " · " + string(it.Status)
			}
			if it.Deadline != nil {
				r += " — " + DeadlineText(it.Deadline, now, loc)
			}
			s.Rows = append(s.Rows, r)
		}
		if len(a.Items) == 0 {
			s.Rows = []string{"Nothing open."}
		}
	}
	if c != nil {
		p := c.Patient
		s.Patient = append(s.Patient, Fact{"Patient", strings.TrimSpace(p.LastName + ", " + p.FirstName)})
		if !p.DOB.IsZero() {
			s.Patient = append(s.Patient, Fact{"DOB", p.DOB.String()})
		}
		if p.MemberID != "" {
			s.Patient = append(s.Patient, Fact{"Member ID", p.MemberID})
		}
		if codes := c.Codes(); len(codes) > 0 {
			s.Patient = append(s.Patient, Fact{"Codes", strings.Join(codes, ", ")})
		}
		if len(c.Diagnoses) > 0 {
			s.Patient = append(s.Patient, Fact{"Diagnoses", strings.Join(c.Diagnoses, ", ")})
		}
		if !c.ServiceDate.IsZero() {
			s.Patient = append(s.Patient, Fact{"Service date", c.ServiceDate.String()})
		}
	}
	parts := []string{string(a.Type), "alert " + a.ID}
	if a.ConnectorID != "" {
		parts = append(parts, "connector "+a.ConnectorID)
	}
	if a.Recording != "" {
		parts = append(parts, "recording "+a.Recording)
	}
	if a.Screenshot != "" {
		parts = append(parts, "screenshot "+a.Screenshot)
	}
	s.Footer = strings.Join(parts, " · ")
	return s
}

// HumanType reads an alert type as words: "Deadline missed".
func HumanType(t authpilot.AlertType) string {
	s := strings.ReplaceAll(string(t), "_", " ")
	if s == "" {
		return "Alert"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// DeadlineText reads a deadline as "decision due Tue Nov 24, 5:00 PM EST
// (in 23h)".
func DeadlineText(d *authpilot.Deadline, now time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return deadlineLabel(d.Kind) + " " + d.Due.In(loc).Format("Mon Jan 2, 3:04 PM MST") + " (" + relative(d.Due.Sub(now)) + ")"
}

func deadlineLabel(k authpilot.DeadlineKind) string {
	switch k {
	case authpilot.DeadlineDecisionDue:
		return "decision due"
	case authpilot.DeadlineFollowUp:
		return "follow-up due"
	case authpilot.DeadlineServiceAtRisk:
		return "service date"
	case authpilot.DeadlinePeerToPeer:
		return "peer-to-peer window closes"
	case authpilot.DeadlineAppeal:
		return "appeal filing due"
	case authpilot.DeadlineAuthExpiry:
		return "authorization expires"
	case "":
		return "due"
	default:
		return strings.ReplaceAll(string(k), "_", " ") + " due"
	}
}

// relative reads a duration as "in 23h", "in 2d 4h", "3h ago" or "now",
// to the minute.
func relative(d time.Duration) string {
	d = d.Round(time.Minute)
	if d == 0 {
		return "now"
	}
	ago := d < 0
	if ago {
		d = -d
	}
	var s string
	switch {
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		days, hours := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		s = fmt.Sprintf("%dd", days)
		if hours > 0 {
			s += fmt.Sprintf(" %dh", hours)
		}
	}
	if ago {
		return s + " ago"
	}
	return "in " + s
}
