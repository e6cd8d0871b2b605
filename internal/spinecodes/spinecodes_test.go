package spinecodes

import (
	"slices"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	l := func(code string, units int, level string) Line { return Line{code, units, level} }
	tests := []struct {
		name  string
		lines []Line
		dx    []string
		want  []string // substrings of the error; none: coherent
	}{
		{"two-level lumbar fusion", []Line{l("22612", 1, "L4-L5"), l("22614", 1, "L5-S1")}, []string{"M48.062", "M43.16"}, nil},
		{"three-level interbody fusion with devices", []Line{l("22633", 1, "L3-L4"), l("22634", 2, "L4-L5, L5-S1"), l("22853", 3, "L3-L4, L4-L5, L5-S1")}, []string{"M43.16", "M48.062"}, nil},
		{"transforaminal ESI", []Line{l("64483", 1, "L5-S1 right")}, []string{"M54.17"}, nil},
		{"interlaminar ESI", []Line{l("62323", 1, "L4-L5")}, []string{"M54.16"}, nil},
		{"lumbar MRI", []Line{l("72148", 1, "lumbar")}, []string{"M54.16"}, nil},
		{"ACDF at the diagnosis's levels", []Line{l("22551", 1, "C5-C6"), l("22552", 1, "C6-C7")}, []string{"M50.122", "M50.123"}, nil},
		{"SI joint fusion", []Line{l("27279", 1, "left")}, []string{"M46.1"}, nil},
		{"kyphoplasty", []Line{l("22514", 1, "L1")}, []string{"M80.08XA"}, nil},

		{"category code, not billable", []Line{l("22612", 1, "L4-L5")}, []string{"M48.06"}, []string{"M48.06: not a billable"}},
		{"cervical diagnosis for a lumbar fusion", []Line{l("22612", 1, "L4-L5")}, []string{"M50.122"}, []string{"M50.122: a cervical diagnosis supports none", "22612: no diagnosis of its region", "M50.122: names level C5-C6"}},
		{"cervical level on a lumbar code", []Line{l("22612", 1, "C5-C6")}, []string{"M48.062"}, []string{"22612: level C5-C6 is cervical"}},
		{"add-on units are not the extra levels", []Line{l("22612", 1, "L4-L5"), l("22614", 2, "L5-S1")}, []string{"M43.16"}, []string{"22614: 2 units for 1 levels"}},
		{"add-on at the primary's level", []Line{l("22612", 1, "L4-L5"), l("22614", 1, "L4-L5")}, []string{"M43.16"}, []string{"22614: level L4-L5 is already"}},
		{"add-on without its primary", []Line{l("22853", 2, "L4-L5 and L5-S1")}, []string{"M43.16"}, []string{"22853: add-on code without its primary"}},
		{"add-on of another primary", []Line{l("22612", 1, "L4-L5"), l("22634", 1, "L5-S1")}, []string{"M43.16"}, []string{"22634: add-on code without its primary (one of 22633)"}},
		{"first-level code with two units", []Line{l("64483", 2, "L4-L5, L5-S1")}, []string{"M54.17"}, []string{"64483: 2 units at 2 levels"}},
		{"level diagnosis at no level", []Line{l("22551", 1, "C5-C6")}, []string{"M50.121"}, []string{"M50.121: names level C4-C5"}},
		{"unknown procedure", []Line{l("99999", 1, "")}, []string{"M54.16"}, []string{"99999: not a procedure code"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.lines, tt.dx)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Check: %v, want coherent", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check: coherent, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check: %v\nwant it to say %q", err, w)
				}
			}
		})
	}
}

func TestOrphans(t *testing.T) {
	tests := []struct {
		name  string
		lines []Line
		want  []string
	}{
		{"primary and add-on", []Line{{"22612", 1, ""}, {"22614", 1, ""}}, nil},
		{"add-on denied", []Line{{"22612", 1, ""}, {"22614", 0, ""}}, nil},
		{"primary denied, add-on approved", []Line{{"22612", 0, ""}, {"22614", 1, ""}, {"22853", 1, ""}}, []string{"22614", "22853"}},
		{"device with the add-on of another level only", []Line{{"22633", 0, ""}, {"22634", 1, ""}, {"22853", 1, ""}}, []string{"22634", "22853"}},
		{"codes outside the table are primaries", []Line{{"C1889", 2, ""}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Orphans(tt.lines); !slices.Equal(got, tt.want) {
				t.Errorf("Orphans = %v, want %v", got, tt.want)
			}
		})
	}
}
