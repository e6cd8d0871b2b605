package demo

import (
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/payersim/pas"
	"github.com/authpilot/authpilot/schedules"
)

// demoCase is one case of the practice's week and the fate the simulated
// payer has in store for it.
type demoCase struct {
	label string
	nc    agent.NewCase
	// fate for the portal simulators (payer and RBM), matched by member ID
	// and, when set, code.
	portal *payersim.Outcome
	code   string
	// pas is the fate on the PAS API.
	pas *pas.Rule
	// tracked: the request was filed by phone before authpilot; the case
	// tracks it (seeded into the simulator first).
	tracked bool
}

const (
	npiSurgeon   = "1245319599"
	npiPainDoc   = "1234567893"
	npiFacility  = "1003000126"
	summitPayer  = "summit-ma"
	rbmPayer     = "clearview-rbm"
	keystonePay  = "keystone-ppo"
	letterPDF    = "%PDF-1.4\n% conservative care summary (demo attachment)\n"
	ptNotesName  = "pt-notes-12-weeks.pdf"
	mriReportNme = "mri-report.pdf"
)

// practiceWeek returns a spine practice's week of cases taken in on today
// (a Monday): a two-level lumbar fusion with its pre-operative MRI and a
// bone-growth stimulator in one episode, a cervical fusion, ESIs, an RFA, a
// kyphoplasty, an SI joint fusion, a discectomy, more imaging, and one
// authorization filed by phone that authpilot only tracks. Each case is
// clinically coherent (spinecodes.Check): billable diagnoses of the
// procedure's region and level, one unit of an add-on per extra level, and
// a service date weeks out on a business day of cal.
func practiceWeek(today authpilot.Date, cal *schedules.Calendar) []demoCase {
	// on is the given weekday of the week that starts weeks weeks after
	// today's, moved to the next business day when it is a holiday.
	on := func(weeks int, wd time.Weekday) authpilot.Date {
		d := today.AddDays(7*weeks + (int(wd)-int(today.In(time.UTC).Weekday())+7)%7)
		for !cal.IsBusinessDay(d) {
			d = d.AddDays(1)
		}
		return d
	}
	pt := []agent.NewFile{{Name: ptNotesName, Kind: "pt_notes", ContentType: "application/pdf", Content: []byte(letterPDF)}}
	mri := []agent.NewFile{{Name: mriReportNme, Kind: "imaging_report", ContentType: "application/pdf", Content: []byte(letterPDF)}}
	mk := func(ext, first, last, dob, member, payer string, track authpilot.Track, npi string, lines []authpilot.ServiceLine, dx []string, date authpilot.Date, files []agent.NewFile) agent.NewCase {
		d, _ := authpilot.ParseDate(dob)
		return agent.NewCase{Case: authpilot.Case{
			ExternalRef: ext, Payer: payer, Track: track,
			Patient:          authpilot.Patient{FirstName: first, LastName: last, DOB: d, MemberID: member},
			OrderingProvider: authpilot.Provider{NPI: npi, Name: "Lakeside Spine"},
			Facility:         authpilot.Facility{Name: "Lakeside Surgery Center", NPI: npiFacility},
			ServiceLines:     lines, Diagnoses: dx, ServiceDate: date,
			ClinicalNotes: "Failed 12 weeks of physical therapy and NSAIDs; see attached notes.",
		}, Files: files}
	}
	line := func(code string, units int, level string) authpilot.ServiceLine {
		return authpilot.ServiceLine{Code: code, Units: units, Level: level}
	}
	fusionDate := on(5, time.Tuesday)
	fusion := mk("ORD-24017", "Margaret", "Holloway", "1957-06-12", "SHP4410021", summitPayer, authpilot.TrackSurgery, npiSurgeon,
		[]authpilot.ServiceLine{line("22612", 1, "L4-L5"), line("22614", 1, "L5-S1")}, []string{"M48.062", "M43.16"}, fusionDate, pt)
	fusion.Episode = "EP-HOLLOWAY-LUMBAR"
	fusionMRI := mk("ORD-24018", "Margaret", "Holloway", "1957-06-12", "SHP4410021", rbmPayer, authpilot.TrackImaging, npiSurgeon,
		[]authpilot.ServiceLine{line("72148", 1, "lumbar")}, []string{"M48.062", "M43.16"}, on(2, time.Thursday), nil)
	fusionMRI.Episode = fusion.Episode
	fusionMRI.ClinicalNotes = "Pre-operative MRI: neurogenic claudication with L4-L5 spondylolisthesis."
	stimulator := mk("ORD-24019", "Margaret", "Holloway", "1957-06-12", "SHP4410021", summitPayer, authpilot.TrackDME, npiSurgeon,
		[]authpilot.ServiceLine{line("E0748", 1, "")}, []string{"M43.16"}, fusionDate, nil)
	stimulator.Episode = fusion.Episode
	stimulator.ClinicalNotes = "Spinal bone-growth stimulator after a two-level fusion; former smoker."

	return []demoCase{
		{label: "lumbar fusion L4-S1", nc: fusion, code: "22612",
			portal: &payersim.Outcome{Fate: payersim.FatePend, InfoRequest: "Provide 6 weeks of documented conservative care and the most recent MRI report.",
				AwaitResponse: true, Then: &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 1, ValidityDays: 90}}},
		{label: "lumbar MRI (fusion episode)", nc: fusionMRI, portal: &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 1, ValidityDays: 60}},
		{label: "bone-growth stimulator (fusion episode)", nc: stimulator, code: "E0748",
			portal: &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 1, ValidityDays: 90}},
		{label: "lumbar ESI", nc: mk("ORD-24020", "Dennis", "Okafor", "1969-11-03", "SHP4410388", summitPayer, authpilot.TrackInjection, npiPainDoc,
			[]authpilot.ServiceLine{line("64483", 1, "L5-S1 right")}, []string{"M54.17"}, on(3, time.Wednesday), pt),
			portal: &payersim.Outcome{Fate: payersim.FateDeny, AfterChecks: 1,
				Reason: "Medical necessity not established: fewer than 4 weeks of conservative care documented."}},
		{label: "lumbar RFA, two levels", nc: mk("ORD-24021", "Lucia", "Ferreira", "1961-02-27", "SHP4411502", summitPayer, authpilot.TrackInjection, npiPainDoc,
			[]authpilot.ServiceLine{line("64635", 1, "L4-L5 left"), line("64636", 1, "L5-S1 left")}, []string{"M47.816", "M47.817"}, on(3, time.Friday), pt),
			portal: &payersim.Outcome{Fate: payersim.FatePartial, AfterChecks: 2, ValidityDays: 60, ApprovedUnits: map[string]int{"64636": 0},
				Reason: "L4-L5 authorized; L5-S1 not supported: a single positive medial branch block is documented at that level."}},
		{label: "SI joint fusion", nc: mk("ORD-24022", "Howard", "Lindqvist", "1954-09-09", "SHP4412876", summitPayer, authpilot.TrackSurgery, npiSurgeon,
			[]authpilot.ServiceLine{line("27279", 1, "left")}, []string{"M46.1"}, on(6, time.Monday), pt),
			portal: &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 3, ValidityDays: 90}},
		{label: "laminectomy (tracked: filed by phone)", tracked: true,
			nc: mk("ORD-23990", "Beatrice", "Nakamura", "1950-04-18", "SHP4409914", summitPayer, authpilot.TrackSurgery, npiSurgeon,
				[]authpilot.ServiceLine{line("63047", 1, "L3-L4 bilateral")}, []string{"M48.062"}, on(4, time.Thursday), nil),
			portal: &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 1, ValidityDays: 90}},
		{label: "cervical MRI", nc: mk("ORD-24023", "Samuel", "Achebe", "1975-12-01", "SHP4413390", rbmPayer, authpilot.TrackImaging, npiPainDoc,
			[]authpilot.ServiceLine{line("72141", 1, "cervical")}, []string{"M54.12"}, on(2, time.Tuesday), nil),
			portal: &payersim.Outcome{Fate: payersim.FateDeny, AfterChecks: 2,
				Reason: "Does not meet imaging guideline: no red-flag findings and less than 6 weeks of conservative care."}},
		{label: "lumbar MRI", nc: mk("ORD-24024", "Grace", "Whitfield", "1980-07-22", "SHP4414051", rbmPayer, authpilot.TrackImaging, npiPainDoc,
			[]authpilot.ServiceLine{line("72148", 1, "lumbar")}, []string{"M54.16"}, on(2, time.Monday), mri),
			// ClearView takes no documents online: the summary is faxed, and
			// its reviewer decides on the phone (staff record both).
			portal: &payersim.Outcome{Fate: payersim.FatePend, InfoRequest: "Send the physical therapy discharge summary."}},
		{label: "cervical fusion C5-C7", nc: mk("ORD-24025", "Oliver", "Brennan", "1966-03-30", "KPP90233817", keystonePay, authpilot.TrackSurgery, npiSurgeon,
			[]authpilot.ServiceLine{line("22551", 1, "C5-C6"), line("22552", 1, "C6-C7")}, []string{"M50.122", "M50.123", "M48.02"}, on(5, time.Thursday), pt),
			pas: &pas.Rule{Fate: pas.Pend, Reason: "Attach the EMG report.", AfterInquiries: 2, Then: pas.Approve, ValidDays: 90}},
		{label: "cervical ESI", nc: mk("ORD-24026", "Priya", "Raman", "1972-10-14", "KPP90234455", keystonePay, authpilot.TrackInjection, npiPainDoc,
			[]authpilot.ServiceLine{line("62321", 1, "C6-C7")}, []string{"M50.123"}, on(3, time.Tuesday), nil),
			pas: &pas.Rule{Fate: pas.Approve, ValidDays: 60}},
		{label: "kyphoplasty", nc: mk("ORD-24027", "Walter", "Ostrowski", "1946-01-05", "KPP90235120", keystonePay, authpilot.TrackSurgery, npiSurgeon,
			[]authpilot.ServiceLine{line("22514", 1, "L1")}, []string{"M80.08XA"}, on(2, time.Wednesday), nil),
			pas: &pas.Rule{Fate: pas.Deny, Reason: "Conservative management for 6 weeks required before vertebral augmentation."}},
		{label: "lumbar discectomy, three levels", nc: mk("ORD-24028", "Elena", "Vasquez", "1983-05-19", "KPP90236607", keystonePay, authpilot.TrackSurgery, npiSurgeon,
			[]authpilot.ServiceLine{line("63030", 1, "L3-L4 right"), line("63035", 2, "L4-L5, L5-S1")}, []string{"M51.16", "M51.17"}, on(4, time.Monday), pt),
			pas: &pas.Rule{Fate: pas.Modify, Code: "63035", ModifyUnits: 1, ValidDays: 90,
				Reason: "Authorized at L3-L4 and L4-L5; L5-S1 not supported by imaging."}},
	}
}

// mondayMorning is the next Monday 08:00 in loc after now (the demo's
// simulated start).
func mondayMorning(now time.Time, loc *time.Location) time.Time {
	t := now.In(loc)
	d := (int(time.Monday) - int(t.Weekday()) + 7) % 7
	if d == 0 {
		d = 7
	}
	y, m, day := t.AddDate(0, 0, d).Date()
	return time.Date(y, m, day, 8, 0, 0, 0, loc)
}
