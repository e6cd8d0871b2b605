package authpilot

import (
	"slices"
	"testing"
)

func TestSearchMatch(t *testing.T) {
	c := &Case{ID: "01JF3K9ZQ4M8X2", ExternalRef: "MRN-88231-ORD-1", PayerRef: "SUM-2024-000123",
		Patient: Patient{FirstName: "Rosalind", LastName: "O'Brien-Quillfeather", MemberID: "SHPQ7781920"}}
	tests := []struct {
		q    string
		want []string
	}{
		{"01jf3k", []string{MatchID}},
		{"mrn-88231", []string{MatchExternalRef}},
		{"MRN-88231-ORD-1", []string{MatchExternalRef}},
		{"sum-2024", []string{MatchPayerRef}},
		{"shpq7781920", []string{MatchMemberID}},
		{"SHPQ778", nil}, // a member ID matches whole only
		{"quill", []string{MatchPatientName}},
		{"ROSALIND", []string{MatchPatientName}},
		{"Quillfeather, Rosalind", []string{MatchPatientName}},
		{"o'brien", []string{MatchPatientName}},
		{"brien", []string{MatchPatientName}},
		{"rosalind mrn-8", []string{MatchExternalRef, MatchPatientName}},
		{"rosalind smith", nil}, // every word must match
		{"lind", nil},           // names match from the start of a word
		{"", nil},
		{" , ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			if got := c.SearchMatch(tt.q); !slices.Equal(got, tt.want) {
				t.Fatalf("SearchMatch(%q) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
	// Unicode case folding.
	if got := (&Case{PayerRef: "SHP-PA 000123"}).SearchMatch("shp-pa 0001"); !slices.Equal(got, []string{MatchPayerRef}) {
		t.Fatalf("payer ref with a space: %v", got)
	}
	u := &Case{Patient: Patient{FirstName: "Élodie", LastName: "Ünal"}}
	if got := u.SearchMatch("élodie ünal"); !slices.Equal(got, []string{MatchPatientName}) {
		t.Fatalf("unicode name: %v", got)
	}
}
