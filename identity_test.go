package authpilot

import (
	"slices"
	"testing"
)

func TestIdentityMismatch(t *testing.T) {
	c := &Case{
		Patient:      Patient{MemberID: "SHP100234567", DOB: NewDate(1961, 3, 14)},
		ServiceLines: []ServiceLine{{Code: "22630"}, {Code: "22840"}},
		ServiceDate:  NewDate(2026, 4, 20),
	}
	tests := []struct {
		name  string
		shown Identity
		want  []string
	}{
		{"nothing shown", Identity{}, nil},
		{"all agree", Identity{MemberID: "SHP100234567", DOB: "1961-03-14", Codes: "22630, 22840", ServiceDate: "04/20/2026"}, nil},
		{"case, spacing and dashes", Identity{MemberID: " shp-1002 34567 ", Codes: "22840 22630", ServiceDate: "Apr 20, 2026"}, nil},
		{"masked member id", Identity{MemberID: "********4567"}, nil},
		{"short mask run", Identity{MemberID: "****4567"}, nil},
		{"bullets", Identity{MemberID: "•••• 4567"}, nil},
		{"masked, other member", Identity{MemberID: "********4568"}, []string{IdentityMemberID}},
		{"mask hides too much", Identity{MemberID: "*********567"}, []string{IdentityMemberID}},
		{"masked in the middle, wrong length", Identity{MemberID: "SHP*4567"}, []string{IdentityMemberID}},
		{"masked in the middle", Identity{MemberID: "SHP*****4567"}, nil},
		{"other member", Identity{MemberID: "SHP100234568"}, []string{IdentityMemberID}},
		{"other dob", Identity{DOB: "03/15/1961"}, []string{IdentityDOB}},
		{"dob with a time", Identity{DOB: "1961-03-14T00:00:00Z"}, nil},
		{"codes semicolons and case", Identity{Codes: "22630;22840"}, nil},
		{"codes repeated", Identity{Codes: "22630, 22630, 22840"}, nil},
		{"a code missing", Identity{Codes: "22630"}, []string{IdentityCodes}},
		{"a code more", Identity{Codes: "22630, 22840, 20936"}, []string{IdentityCodes}},
		{"other service date", Identity{ServiceDate: "2026-05-20"}, []string{IdentityServiceDate}},
		{"service date with a time", Identity{ServiceDate: "04/20/2026 08:00 AM"}, nil},
		{"unreadable date differs", Identity{ServiceDate: "next Tuesday"}, []string{IdentityServiceDate}},
		{"several", Identity{MemberID: "****9999", Codes: "72148", ServiceDate: "05/01/2026", DOB: "1961-03-14"},
			[]string{IdentityMemberID, IdentityCodes, IdentityServiceDate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.IdentityMismatch(tt.shown)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("IdentityMismatch = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("service date moved by the practice after sending", func(t *testing.T) {
		moved := *c
		moved.ServiceDate, moved.PayerServiceDate = NewDate(2026, 5, 18), NewDate(2026, 4, 20)
		for shown, want := range map[string][]string{"04/20/2026": nil, "05/18/2026": nil, "05/19/2026": {IdentityServiceDate}} {
			if got := moved.IdentityMismatch(Identity{ServiceDate: shown}); !slices.Equal(got, want) {
				t.Errorf("shown %s: IdentityMismatch = %v, want %v", shown, got, want)
			}
		}
	})
	t.Run("case without member id never matches one shown", func(t *testing.T) {
		if got := (&Case{}).IdentityMismatch(Identity{MemberID: "X"}); !slices.Equal(got, []string{IdentityMemberID}) {
			t.Fatalf("got %v", got)
		}
	})
}

func TestIdentityGetSet(t *testing.T) {
	var id Identity
	for _, f := range IdentityFields {
		if !id.Set(f, "v-"+f) || id.Get(f) != "v-"+f {
			t.Fatalf("field %s does not round-trip", f)
		}
	}
	if id.Set("ssn", "x") || id.Get("ssn") != "" {
		t.Fatal("unknown field accepted")
	}
}
