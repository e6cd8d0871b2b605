package didyoumean

import "testing"

func TestSuggest(t *testing.T) {
	keys := []string{"name", "timezone", "closed_days", "data_dir", "passphrase_env", "passphrase_file", "retries"}
	tests := []struct {
		in, want string
	}{
		{"timezon", ` (did you mean "timezone"?)`},
		{"time_zone", ` (did you mean "timezone"?)`},
		{"nmae", ` (did you mean "name"?)`},
		{"Name", ` (did you mean "name"?)`},
		{"datadir", ` (did you mean "data_dir"?)`},
		{"closed_dayz", ` (did you mean "closed_days"?)`},
		{"retires", ` (did you mean "retries"?)`},
		{"frobnicate", ""},
		{"x", ""},
		{"", ""},
		{"passphrase_enf", ` (did you mean "passphrase_env"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Suggest(tt.in, keys); got != tt.want {
				t.Errorf("Suggest(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSuggestTie(t *testing.T) {
	// Equally close to two candidates: no guess.
	if got := Suggest("page", []string{"pages", "paged"}); got != "" {
		t.Errorf("Suggest on a tie = %q, want none", got)
	}
	// The same candidate listed twice is not a tie.
	if got := Suggest("page", []string{"pages", "pages"}); got == "" {
		t.Error("Suggest with a repeated candidate gave no guess")
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "abc", 0},
		{"abc", "", 3},
		{"kitten", "sitting", 3},
		{"timezon", "timezone", 1},
		{"nmae", "name", 1}, // a transposition is one edit
		{"café", "cafe", 1},
	}
	for _, tt := range tests {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func FuzzDistance(f *testing.F) {
	f.Add("kitten", "sitting")
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 64 || len(b) > 64 {
			return
		}
		d := Distance(a, b)
		if d != Distance(b, a) {
			t.Fatalf("not symmetric: %q %q", a, b)
		}
		if d > max(len([]rune(a)), len([]rune(b))) {
			t.Fatalf("distance %d above the longer length", d)
		}
	})
}
