package fhirjson

import "testing"

func TestResourceType(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"first", `{"resourceType":"Bundle","type":"collection"}`, "Bundle"},
		{"after other members", `{"id":"x","meta":{"profile":["p"]},"resourceType":"ClaimResponse"}`, "ClaimResponse"},
		{"missing", `{"id":"x"}`, ""},
		{"not a string", `{"resourceType":7}`, ""},
		{"array", `[{"resourceType":"Bundle"}]`, ""},
		{"truncated", `{"id":"x",`, ""},
		{"empty", ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ResourceType([]byte(tt.raw)); got != tt.want {
				t.Errorf("ResourceType(%s) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}
