package demo

import (
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/spinecodes"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/payersim/pas"
	"github.com/authpilot/authpilot/schedules"
)

// TestPracticeWeekIsClinicallyCoherent checks the demo's cases the way a
// coder would, for weeks that start at ordinary times and before holidays:
// billable ICD-10-CM codes of the procedure's region and level, add-on
// codes with their primary and one unit per extra level, service dates
// two weeks out or more on a business day (the pre-operative MRI before the
// surgery), and no scripted approval of an add-on without its primary.
func TestPracticeWeekIsClinicallyCoherent(t *testing.T) {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	cal := schedules.NewCalendar(loc, nil)
	for _, start := range []string{"2026-12-07", "2026-12-14", "2027-01-04", "2027-05-03", "2027-06-14"} {
		today, _ := authpilot.ParseDate(start)
		t.Run(start, func(t *testing.T) {
			week := practiceWeek(today, cal)
			byRef := map[string]authpilot.Date{}
			for _, dc := range week {
				c := &dc.nc.Case
				byRef[c.ExternalRef] = c.ServiceDate
				lines := make([]spinecodes.Line, len(c.ServiceLines))
				for i, l := range c.ServiceLines {
					lines[i] = spinecodes.Line{Code: l.Code, Units: l.Units, Level: l.Level}
				}
				if err := spinecodes.Check(lines, c.Diagnoses); err != nil {
					t.Errorf("%s: %v", dc.label, err)
				}
				if d := c.ServiceDate; d.Before(today.AddDays(14)) || !cal.IsBusinessDay(d) {
					t.Errorf("%s: service date %s (%s) is not a business day two weeks out or more", dc.label, d, d.In(loc).Weekday())
				}
				if r := dc.pas; r != nil {
					for _, f := range []pas.Fate{r.Fate, r.Then} {
						if orphans := spinecodes.Orphans(pasApproval(lines, r, f)); len(orphans) > 0 {
							t.Errorf("%s: the PAS %s scripted approves add-on %v without its primary", dc.label, f, orphans)
						}
					}
				}
				for o := dc.portal; o != nil; o = o.Then {
					if orphans := spinecodes.Orphans(portalApproval(lines, o)); len(orphans) > 0 {
						t.Errorf("%s: the %s scripted approves add-on %v without its primary", dc.label, o.Fate, orphans)
					}
				}
			}
			if mri, fusion := byRef["ORD-24018"], byRef["ORD-24017"]; !mri.Before(fusion.AddDays(-7)) {
				t.Errorf("the pre-operative MRI on %s is not a week or more before the fusion on %s", mri, fusion)
			}
		})
	}
}

// portalApproval is what a scripted portal outcome approves of lines, by
// the rules payersim.Outcome documents (a deny or pend approves nothing).
func portalApproval(lines []spinecodes.Line, o *payersim.Outcome) []spinecodes.Line {
	out := make([]spinecodes.Line, len(lines))
	for i, l := range lines {
		out[i] = spinecodes.Line{Code: l.Code}
		switch o.Fate {
		case payersim.FateApprove, payersim.FateModify:
			out[i].Units = l.Units
		case payersim.FatePartial:
			out[i].Units = l.Units / 2
			if len(o.ApprovedUnits) > 0 {
				out[i].Units = l.Units
			}
			if u, ok := o.ApprovedUnits[l.Code]; ok {
				out[i].Units = min(u, l.Units)
			}
		}
		if c, ok := o.ApprovedCodes[l.Code]; ok {
			out[i].Code = c
		}
	}
	return out
}

// pasApproval is what a PAS rule's fate approves of lines, by the rules
// pas.Rule documents: a modify or partial acts on the lines of the rule's
// code, else on the first line (modify) or the lines after the first
// (partial); a modify authorizes ModifyCode and ModifyUnits instead.
func pasApproval(lines []spinecodes.Line, r *pas.Rule, f pas.Fate) []spinecodes.Line {
	out := make([]spinecodes.Line, len(lines))
	for i, l := range lines {
		out[i] = spinecodes.Line{Code: l.Code}
		target := l.Code == r.Code || (r.Code == "" && ((f == pas.Modify || len(lines) == 1) && i == 0 || f == pas.Partial && i > 0))
		switch {
		case f == pas.Approve, (f == pas.Modify || f == pas.Partial) && !target:
			out[i].Units = l.Units
		case f == pas.Modify:
			out[i].Units = max(1, l.Units-1)
			if r.ModifyCode != "" {
				out[i].Code, out[i].Units = r.ModifyCode, l.Units
			}
			if r.ModifyUnits > 0 {
				out[i].Units = r.ModifyUnits
			}
		case f == pas.Partial && len(lines) == 1:
			out[i].Units = max(1, l.Units/2)
		}
	}
	return out
}
