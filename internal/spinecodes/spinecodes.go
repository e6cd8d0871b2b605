// Package spinecodes is a small table of the spine CPT/HCPCS and ICD-10-CM
// codes the demo, the simulators and their tests use: the spinal region of
// each procedure and how its units count levels, the primary codes of each
// add-on code, and the region (and level, where the code names one) of each
// billable diagnosis. It is no coding engine: it knows these codes only, and
// Check refuses any code it does not know.
package spinecodes

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Region is a part of the spine a code is about.
type Region string

// Regions. Lumbosacral is the L5-S1 junction (a lumbar or a sacral
// procedure may be supported by it); Spine is a vertebra anywhere (an
// osteoporotic fracture, a spinal DME item).
const (
	Cervical    Region = "cervical"
	Thoracic    Region = "thoracic"
	Lumbar      Region = "lumbar"
	Lumbosacral Region = "lumbosacral"
	Sacral      Region = "sacral" // sacrum, coccyx, sacroiliac joint
	Spine       Region = "spine"
)

// Units is how a procedure's units are counted.
type Units int

const (
	// PerProcedure: one unit (an MRI, an interlaminar ESI, a first level
	// done once per session).
	PerProcedure Units = iota
	// FirstLevel: one unit for one level (interspace or vertebra); the
	// further levels are an add-on code.
	FirstLevel
	// PerExtraLevel: one unit per level beyond the primary's (22614, 64484).
	PerExtraLevel
	// PerLevel: one unit per level it is placed at (an interbody device).
	PerLevel
)

// Procedure is a CPT/HCPCS code of the table.
type Procedure struct {
	Code    string
	Name    string
	Regions []Region // where it can be done; empty for Spine anywhere
	Units   Units
	// AddOnTo lists the codes an add-on is reported with; empty for a
	// primary code.
	AddOnTo []string
}

// Diagnosis is a billable ICD-10-CM code of the table.
type Diagnosis struct {
	Code   string
	Name   string
	Region Region
	Level  string // "C5-C6" when the code names one
}

var fusionPrimaries = []string{"22551", "22552", "22600", "22610", "22612", "22614", "22630", "22632", "22633", "22634"}
var decompressionPrimaries = []string{"63030", "63035", "63047", "63048"}

var procedures = map[string]Procedure{}

func init() {
	for _, p := range []Procedure{
		{"22551", "anterior interbody fusion with discectomy, cervical below C2, first interspace", []Region{Cervical}, FirstLevel, nil},
		{"22552", "anterior interbody fusion, cervical below C2, each additional interspace", []Region{Cervical}, PerExtraLevel, []string{"22551"}},
		{"22612", "posterior or posterolateral arthrodesis, lumbar, single interspace", []Region{Lumbar}, FirstLevel, nil},
		{"22614", "posterior or posterolateral arthrodesis, each additional interspace", []Region{Thoracic, Lumbar}, PerExtraLevel, []string{"22600", "22610", "22612", "22630", "22633"}},
		{"22630", "posterior interbody arthrodesis, lumbar, single interspace", []Region{Lumbar}, FirstLevel, nil},
		{"22632", "posterior interbody arthrodesis, lumbar, each additional interspace", []Region{Lumbar}, PerExtraLevel, []string{"22630"}},
		{"22633", "combined posterior interbody and posterolateral arthrodesis, lumbar, single interspace", []Region{Lumbar}, FirstLevel, nil},
		{"22634", "combined posterior interbody and posterolateral arthrodesis, lumbar, each additional interspace", []Region{Lumbar}, PerExtraLevel, []string{"22633"}},
		{"22840", "posterior non-segmental instrumentation", nil, PerProcedure, append(slices.Clone(fusionPrimaries), decompressionPrimaries...)},
		{"22842", "posterior segmental instrumentation, 3 to 6 vertebral segments", nil, PerProcedure, append(slices.Clone(fusionPrimaries), decompressionPrimaries...)},
		{"22853", "insertion of interbody biomechanical device, each interspace", []Region{Cervical, Thoracic, Lumbar}, PerLevel, fusionPrimaries},
		{"22514", "percutaneous vertebral augmentation (kyphoplasty), lumbar, one vertebral body", []Region{Lumbar}, FirstLevel, nil},
		{"22515", "percutaneous vertebral augmentation, each additional thoracic or lumbar vertebral body", []Region{Thoracic, Lumbar}, PerExtraLevel, []string{"22513", "22514"}},
		{"27279", "arthrodesis of the sacroiliac joint, percutaneous or minimally invasive", []Region{Sacral}, PerProcedure, nil},
		{"62321", "interlaminar epidural injection with imaging guidance, cervical or thoracic", []Region{Cervical, Thoracic}, PerProcedure, nil},
		{"62323", "interlaminar epidural injection with imaging guidance, lumbar or sacral", []Region{Lumbar, Sacral}, PerProcedure, nil},
		{"64479", "transforaminal epidural injection with imaging guidance, cervical or thoracic, single level", []Region{Cervical, Thoracic}, FirstLevel, nil},
		{"64480", "transforaminal epidural injection, cervical or thoracic, each additional level", []Region{Cervical, Thoracic}, PerExtraLevel, []string{"64479"}},
		{"64483", "transforaminal epidural injection with imaging guidance, lumbar or sacral, single level", []Region{Lumbar, Sacral}, FirstLevel, nil},
		{"64484", "transforaminal epidural injection, lumbar or sacral, each additional level", []Region{Lumbar, Sacral}, PerExtraLevel, []string{"64483"}},
		{"64635", "radiofrequency ablation of facet joint nerves, lumbar or sacral, single facet joint", []Region{Lumbar, Sacral}, FirstLevel, nil},
		{"64636", "radiofrequency ablation of facet joint nerves, lumbar or sacral, each additional facet joint", []Region{Lumbar, Sacral}, PerExtraLevel, []string{"64635"}},
		{"63020", "laminotomy with decompression and discectomy, one interspace, cervical", []Region{Cervical}, FirstLevel, nil},
		{"63030", "laminotomy with decompression and discectomy, one interspace, lumbar", []Region{Lumbar}, FirstLevel, nil},
		{"63035", "laminotomy with decompression and discectomy, each additional interspace, cervical or lumbar", []Region{Cervical, Lumbar}, PerExtraLevel, []string{"63020", "63030"}},
		{"63047", "laminectomy, facetectomy and foraminotomy, single segment, lumbar", []Region{Lumbar}, FirstLevel, nil},
		{"63048", "laminectomy, facetectomy and foraminotomy, each additional segment", []Region{Cervical, Thoracic, Lumbar}, PerExtraLevel, []string{"63045", "63046", "63047"}},
		{"72141", "MRI of the cervical spine without contrast", []Region{Cervical}, PerProcedure, nil},
		{"72146", "MRI of the thoracic spine without contrast", []Region{Thoracic}, PerProcedure, nil},
		{"72148", "MRI of the lumbar spine without contrast", []Region{Lumbar}, PerProcedure, nil},
		{"72125", "CT of the cervical spine without contrast", []Region{Cervical}, PerProcedure, nil},
		{"72131", "CT of the lumbar spine without contrast", []Region{Lumbar}, PerProcedure, nil},
		{"E0748", "osteogenesis stimulator, electrical, non-invasive, spinal", nil, PerProcedure, nil},
	} {
		procedures[p.Code] = p
	}
	for _, d := range []Diagnosis{
		{"M48.02", "spinal stenosis, cervical region", Cervical, ""},
		{"M48.061", "spinal stenosis, lumbar region without neurogenic claudication", Lumbar, ""},
		{"M48.062", "spinal stenosis, lumbar region with neurogenic claudication", Lumbar, ""},
		{"M48.07", "spinal stenosis, lumbosacral region", Lumbosacral, ""},
		{"M43.16", "spondylolisthesis, lumbar region", Lumbar, ""},
		{"M43.17", "spondylolisthesis, lumbosacral region", Lumbosacral, ""},
		{"M47.812", "spondylosis without myelopathy or radiculopathy, cervical region", Cervical, ""},
		{"M47.816", "spondylosis without myelopathy or radiculopathy, lumbar region", Lumbar, ""},
		{"M47.817", "spondylosis without myelopathy or radiculopathy, lumbosacral region", Lumbosacral, ""},
		{"M50.120", "mid-cervical disc disorder with radiculopathy, unspecified level", Cervical, ""},
		{"M50.121", "cervical disc disorder at C4-C5 level with radiculopathy", Cervical, "C4-C5"},
		{"M50.122", "cervical disc disorder at C5-C6 level with radiculopathy", Cervical, "C5-C6"},
		{"M50.123", "cervical disc disorder at C6-C7 level with radiculopathy", Cervical, "C6-C7"},
		{"M51.16", "intervertebral disc disorders with radiculopathy, lumbar region", Lumbar, ""},
		{"M51.17", "intervertebral disc disorders with radiculopathy, lumbosacral region", Lumbosacral, ""},
		{"M54.12", "radiculopathy, cervical region", Cervical, ""},
		{"M54.16", "radiculopathy, lumbar region", Lumbar, ""},
		{"M54.17", "radiculopathy, lumbosacral region", Lumbosacral, ""},
		{"M46.1", "sacroiliitis, not elsewhere classified", Sacral, ""},
		{"M53.3", "sacrococcygeal disorders, not elsewhere classified", Sacral, ""},
		{"M80.08XA", "age-related osteoporosis with current pathological fracture, vertebra(e), initial encounter", Spine, ""},
	} {
		diagnoses[d.Code] = d
	}
}

var diagnoses = map[string]Diagnosis{}

// Lookup returns a procedure of the table.
func Lookup(code string) (Procedure, bool) {
	p, ok := procedures[strings.ToUpper(strings.TrimSpace(code))]
	return p, ok
}

// LookupDiagnosis returns a billable diagnosis of the table.
func LookupDiagnosis(code string) (Diagnosis, bool) {
	d, ok := diagnoses[strings.ToUpper(strings.TrimSpace(code))]
	return d, ok
}

// IsAddOn reports whether code is an add-on code of the table.
func IsAddOn(code string) bool {
	p, ok := Lookup(code)
	return ok && len(p.AddOnTo) > 0
}

// Line is a service line: a code, its units and the level text ("L4-L5",
// "L5-S1 right", "C5-C6", "L1", "lumbar").
type Line struct {
	Code  string
	Units int
	Level string
}

// Orphans returns the add-on codes of lines that have units but none of
// whose primary codes has units among lines — an add-on approved without
// its primary, which no payer does — in the order of lines. An add-on
// reported only with an orphan add-on (a device with 22634 whose 22633 is
// denied) is an orphan too. Codes outside the table are taken as primary
// codes.
func Orphans(lines []Line) []string {
	orphan := map[int]bool{}
	for changed := true; changed; {
		changed = false
		have := map[string]bool{}
		for i, l := range lines {
			if l.Units > 0 && !orphan[i] {
				have[strings.ToUpper(l.Code)] = true
			}
		}
		for i, l := range lines {
			p, ok := Lookup(l.Code)
			if !ok || l.Units <= 0 || len(p.AddOnTo) == 0 || orphan[i] {
				continue
			}
			if !slices.ContainsFunc(p.AddOnTo, func(c string) bool { return have[c] }) {
				orphan[i], changed = true, true
			}
		}
	}
	var out []string
	for i, l := range lines {
		if orphan[i] {
			out = append(out, strings.ToUpper(l.Code))
		}
	}
	return out
}

var (
	interspaceRE = regexp.MustCompile(`\b([CTL])(\d{1,2})-([CTLS])(\d)\b`)
	vertebraRE   = regexp.MustCompile(`\b([CTLS])(\d{1,2})\b`)
)

// levels returns the interspaces or vertebrae a level text names, with
// their regions.
func levels(text string) (names []string, regions []Region) {
	text = strings.ToUpper(text)
	region := func(letter string) Region {
		switch letter {
		case "C":
			return Cervical
		case "T":
			return Thoracic
		case "L":
			return Lumbar
		}
		return Sacral
	}
	for _, m := range interspaceRE.FindAllStringSubmatch(text, -1) {
		names = append(names, m[0])
		r := region(m[1])
		if m[1] == "L" && m[3] == "S" {
			r = Lumbosacral
		}
		regions = append(regions, r)
	}
	if len(names) > 0 {
		return names, regions
	}
	for _, m := range vertebraRE.FindAllStringSubmatch(text, -1) {
		names = append(names, m[0])
		regions = append(regions, region(m[1]))
	}
	return names, regions
}

// fits reports whether a region r (of a diagnosis or a level) supports a
// procedure done in regions.
func fits(r Region, regions []Region) bool {
	if len(regions) == 0 {
		return true
	}
	if r == Spine {
		return !slices.Equal(regions, []Region{Sacral})
	}
	for _, pr := range regions {
		if r == pr || (r == Lumbosacral && (pr == Lumbar || pr == Sacral)) {
			return true
		}
	}
	return false
}

// Check reports every way a case's lines and diagnoses are clinically
// incoherent: a code outside the table (for a diagnosis: not a billable
// code the table knows), a level or diagnosis of another region than the
// procedure, units that do not count the levels (one per extra level for an
// add-on such as 22614), an add-on without its primary, a level-specific
// diagnosis at no level of the case, a procedure no diagnosis supports.
func Check(lines []Line, dx []string) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	var known []Procedure
	for _, l := range lines {
		p, ok := Lookup(l.Code)
		if !ok {
			bad("%s: not a procedure code the table knows", l.Code)
			continue
		}
		known = append(known, p)
		names, regions := levels(l.Level)
		for i, r := range regions {
			if !fits(r, p.Regions) {
				bad("%s: level %s is %s, the code is for %v", p.Code, names[i], r, p.Regions)
			}
		}
		switch p.Units {
		case PerProcedure:
			if l.Units != 1 {
				bad("%s: %d units, the code is reported once", p.Code, l.Units)
			}
		case FirstLevel:
			if l.Units != 1 || len(names) > 1 {
				bad("%s: %d units at %d levels; the code is one level, further levels take its add-on code", p.Code, l.Units, len(names))
			}
		case PerExtraLevel, PerLevel:
			if len(names) == 0 {
				bad("%s: level %q names no level; its units count levels", p.Code, l.Level)
			} else if l.Units != len(names) {
				bad("%s: %d units for %d levels (%s); one unit per level", p.Code, l.Units, len(names), strings.Join(names, ", "))
			}
		}
		if len(p.AddOnTo) > 0 && !slices.ContainsFunc(lines, func(o Line) bool { return slices.Contains(p.AddOnTo, strings.ToUpper(o.Code)) }) {
			bad("%s: add-on code without its primary (one of %s)", p.Code, strings.Join(p.AddOnTo, ", "))
		}
		if p.Units == PerExtraLevel {
			for _, o := range lines {
				if slices.Contains(p.AddOnTo, o.Code) {
					prim, _ := levels(o.Level)
					for _, n := range names {
						if slices.Contains(prim, n) {
							bad("%s: level %s is already the primary %s's level", p.Code, n, o.Code)
						}
					}
				}
			}
		}
	}
	if len(dx) == 0 {
		bad("no diagnosis")
	}
	var allLevels []string
	for _, l := range lines {
		n, _ := levels(l.Level)
		allLevels = append(allLevels, n...)
	}
	supported := make([]bool, len(known))
	for _, code := range dx {
		d, ok := LookupDiagnosis(code)
		if !ok {
			bad("%s: not a billable ICD-10-CM code the table knows (a category such as M48.06 needs its full specificity)", code)
			continue
		}
		fitsAny := false
		for i, p := range known {
			if fits(d.Region, p.Regions) {
				fitsAny, supported[i] = true, true
			}
		}
		if !fitsAny && len(known) > 0 {
			bad("%s: a %s diagnosis supports none of the procedures", d.Code, d.Region)
		}
		if d.Level != "" && !slices.Contains(allLevels, d.Level) {
			bad("%s: names level %s, which no service line is at", d.Code, d.Level)
		}
	}
	for i, p := range known {
		if !supported[i] && len(dx) > 0 {
			bad("%s: no diagnosis of its region %v", p.Code, p.Regions)
		}
	}
	return errors.Join(errs...)
}
