package config

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
		str     string // String() of the result
	}{
		{in: "90s", want: 90 * time.Second, str: "1m30s"},
		{in: "15m", want: 15 * time.Minute, str: "15m"},
		{in: "48h", want: 48 * time.Hour, str: "2d"},
		{in: "7d", want: 7 * Day, str: "7d"},
		{in: "30d", want: 30 * Day, str: "30d"},
		{in: "1d12h", want: 36 * time.Hour, str: "1d12h"},
		{in: "1d12h30m", want: 36*time.Hour + 30*time.Minute, str: "1d12h30m"},
		{in: "12h1d", want: 36 * time.Hour, str: "1d12h"},
		{in: "1.5d", want: 36 * time.Hour, str: "1d12h"},
		{in: "2h45m10s", want: 2*time.Hour + 45*time.Minute + 10*time.Second, str: "2h45m10s"},
		{in: "500ms", want: 500 * time.Millisecond, str: "500ms"},
		{in: "0", want: 0, str: "0s"},
		{in: "0d", want: 0, str: "0s"},
		{in: "-1d", want: -Day, str: "-1d"},
		{in: " 7d ", want: 7 * Day, str: "7d"},
		{in: "", wantErr: "empty duration"},
		{in: "7", wantErr: `missing unit in duration "7"`},
		{in: "7x", wantErr: `invalid duration "7x"`},
		{in: "d", wantErr: `invalid duration "d"`},
		{in: "-", wantErr: `invalid duration "-"`},
		{in: "1..5d", wantErr: `invalid duration "1..5d"`},
		{in: "1d-2h", wantErr: `invalid duration "1d-2h"`},
		{in: "200000000d", wantErr: `duration "200000000d" is too long`},
		{in: "106752d", wantErr: `duration "106752d" is too long`},
		{in: "106751d24h", wantErr: `duration "106751d24h" is too long`},
		{in: "106751d23h47m16s", want: 106751*Day + 23*time.Hour + 47*time.Minute + 16*time.Second, str: "106751d23h47m16s"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseDuration(%q) = %v, want error %q", tt.in, got, tt.wantErr)
				}
				if err.Error() != tt.wantErr {
					t.Errorf("error = %q, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", tt.in, err)
			}
			if got.Std() != tt.want {
				t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, got.Std(), tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
			// String() parses back to the same value.
			back, err := ParseDuration(got.String())
			if err != nil || back != got {
				t.Errorf("round trip of %q: %v, %v", got.String(), back, err)
			}
			text, _ := got.MarshalText()
			var u Duration
			if err := u.UnmarshalText(text); err != nil || u != got {
				t.Errorf("text round trip: %v, %v", u, err)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "a.yaml", Line: 3, Path: "practice", Msg: "boom"}, "a.yaml:3: practice: boom"},
		{Error{File: "a.yaml", Path: "practice.name", Msg: "required"}, "a.yaml: practice.name: required"},
		{Error{File: "a.yaml", Line: 1, Msg: "bad YAML: x"}, "a.yaml:1: bad YAML: x"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	es := Errors{&tests[0].e, &tests[1].e}
	if got, want := es.Error(), "a.yaml:3: practice: boom\na.yaml: practice.name: required"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
	labels := map[string]string{"connectors[2]": "carelon", "payers[0]": ""}
	for raw, want := range map[string]string{
		"connectors[2].schedule.poll": `connectors[2] "carelon": schedule.poll`,
		"connectors[2]":               `connectors[2] "carelon"`,
		"payers[0].id":                `payers[0]: id`,
		"notify.routes[1].sinks[0]":   `notify.routes[1].sinks[0]`,
		"practice.name":               `practice.name`,
	} {
		if got := display(raw, labels); got != want {
			t.Errorf("display(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestTooManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("practice:\n  name: x\n")
	for i := range 150 {
		b.WriteString("bad_key_" + strconv.Itoa(i) + ": 1\n")
	}
	_, err := Parse("many.yaml", []byte(b.String()))
	es, ok := err.(Errors)
	if !ok {
		t.Fatalf("err = %T", err)
	}
	if len(es) != maxErrors+1 {
		t.Errorf("%d errors, want %d", len(es), maxErrors+1)
	}
	if es[0].Msg != "too many errors; stopped after 100" {
		t.Errorf("first error = %q", es[0].Msg)
	}
}
