package authpilot

import (
	"strings"
	"testing"
)

func TestTextRule(t *testing.T) {
	tests := []struct {
		name, v   string
		multiline bool
		bad       bool
	}{
		{"plain", "Rosalind O'Neil-Smith", false, false},
		{"accents", "Zoë Łukasiewicz", false, false},
		{"NUL", "Ro\x00salind", false, true},
		{"ESC", "\x1b[31mred", false, true},
		{"CR", "a\rb", false, true},
		{"LF", "a\nb", false, true},
		{"TAB in a name", "a\tb", false, true},
		{"DEL", "a\x7fb", false, true},
		{"C1", "a\u0085b", false, true},
		{"bidi override", "abc\u202edef", false, true},
		{"line separator", "a\u2028b", false, true},
		{"invalid UTF-8", "a\xffb", false, true},
		{"notes with lines and tabs", "PT 6 weeks\n\tNSAIDs\r\nMRI", true, false},
		{"notes with ESC", "PT\x1b[2J", true, true},
		{"notes with a lone CR", "PT\rforged", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TextRule(tt.v, tt.multiline); (got != "") != tt.bad {
				t.Fatalf("TextRule(%q) = %q, want bad=%v", tt.v, got, tt.bad)
			}
		})
	}
}

func TestValidateNewNamesControlCharacterFields(t *testing.T) {
	c := Case{Payer: "summit-ma", Track: TrackSurgery, Urgency: UrgencyStandard,
		Patient:          Patient{FirstName: "A\x00", LastName: "B\x1b", DOB: NewDate(1960, 1, 1), MemberID: "SHP1"},
		OrderingProvider: Provider{NPI: "1234567893", Name: "Dr\r\nX"}, ServicingProvider: Provider{Name: "Y\x07"},
		Facility:     Facility{Name: "F\x1b"},
		ServiceLines: []ServiceLine{{Code: "22612", Units: 1, Level: "L4\x00", Modifiers: []string{"\x1bX"}}},
		Diagnoses:    []string{"M48.062"}, ServiceDate: NewDate(2026, 12, 20), ClinicalNotes: "ok\nbut\x1b",
		Attachments: []Attachment{{Name: "pt\x00.pdf", Kind: "pt\x1b"}},
	}
	err := c.ValidateNew(NewDate(2026, 12, 1))
	for _, f := range []string{"patient.first_name", "patient.last_name", "ordering_provider.name", "servicing_provider.name",
		"facility.name", "service_lines[0].level", "service_lines[0].modifiers[0]", "clinical_notes", "attachments[0].name", "attachments[0].kind"} {
		if err == nil || !strings.Contains(err.Error(), f+": ") {
			t.Errorf("no error for %s: %v", f, err)
		}
	}
	if strings.ContainsAny(err.Error(), "\x00\x1b\r\n\x07") {
		t.Errorf("the error carries the raw value: %q", err)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, Zoë":     "plain text, Zoë",
		"a\x1b[2Jb":           `a\x1b[2Jb`,
		"a\r\nb\x00":          `a\x0d\x0ab\x00`,
		"x\u202ey":            `x\u202ey`,
		"bad\xffutf8":         `bad\xffutf8`,
		"keeps \u00e9 intact": "keeps é intact",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}
