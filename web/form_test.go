package web

import (
	"net/url"
	"testing"
	"time"
)

// TestFormInput: an action's form becomes its JSON input — checkboxes
// true, lists kept, approved lines parsed, a datetime-local wall time
// read in the practice's zone, empty fields and the version left out.
func TestFormInput(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		form url.Values
		want string
	}{
		{"text", url.Values{"version": {"3"}, "text": {" called "}, "note": {""}}, `{"text":"called"}`},
		{"checkbox", url.Values{"not_received": {"on"}}, `{"not_received":true}`},
		{"documents", url.Values{"documents": {"a", "b"}}, `{"documents":["a","b"]}`},
		{"approved lines", url.Values{"approved_lines": {"72148:1, 72149 : 2"}}, `{"approved_lines":[{"code":"72148","units":1},{"code":"72149","units":2}]}`},
		{"local time", url.Values{"sent_at": {"2026-12-07T10:30"}}, `{"sent_at":"2026-12-07T10:30:00-05:00"}`},
		{"date stays a date", url.Values{"service_date": {"2027-01-12"}}, `{"service_date":"2027-01-12"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := formInput(tt.form, ny)
			if err != nil || string(got) != tt.want {
				t.Errorf("formInput = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
	if _, err := formInput(url.Values{"approved_lines": {"72148"}}, ny); err == nil {
		t.Error("approved lines without units were accepted")
	}
}
