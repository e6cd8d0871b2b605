package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as a Go duration ("90s", "15m",
// "48h") or with days, which are 24 hours: "7d", "30d", "1d12h".
type Duration time.Duration

// Day is the length of "1d".
const Day = 24 * time.Hour

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// ParseDuration parses a Go duration that may also use "d" for days.
func ParseDuration(s string) (Duration, error) {
	in := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, fmt.Errorf("invalid duration %q", in)
	}
	if s == "0" {
		return 0, nil
	}
	var total time.Duration
	for s != "" {
		// A number, with an optional fraction.
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		num := s[:i]
		if num == "" || num == "." {
			return 0, fmt.Errorf("invalid duration %q", in)
		}
		s = s[i:]
		// Its unit: letters (and µ).
		j := 0
		for j < len(s) && !(s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		unit := s[:j]
		s = s[j:]
		if unit == "" {
			return 0, fmt.Errorf("missing unit in duration %q", in)
		}
		var part time.Duration
		if unit == "d" {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q", in)
			}
			h := f * float64(Day)
			if h >= math.MaxInt64 {
				return 0, fmt.Errorf("duration %q is too long", in)
			}
			part = time.Duration(h)
		} else {
			p, err := time.ParseDuration(num + unit)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q", in)
			}
			part = p
		}
		if total > math.MaxInt64-part {
			return 0, fmt.Errorf("duration %q is too long", in)
		}
		total += part
	}
	if neg {
		total = -total
	}
	return Duration(total), nil
}

// String formats d with days where it has whole days: "7d", "1d12h",
// "90m" is "1h30m".
func (d Duration) String() string {
	t := time.Duration(d)
	if t == 0 {
		return "0s"
	}
	sign := ""
	if t < 0 {
		if t == math.MinInt64 {
			return t.String()
		}
		sign, t = "-", -t
	}
	days := t / Day
	rest := t % Day
	var b strings.Builder
	b.WriteString(sign)
	if days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10))
		b.WriteByte('d')
	}
	if rest > 0 {
		r := rest.String()
		// "12h0m0s" → "12h", "1h30m0s" → "1h30m".
		if strings.HasSuffix(r, "m0s") {
			r = strings.TrimSuffix(r, "0s")
		}
		if strings.HasSuffix(r, "h0m") {
			r = strings.TrimSuffix(r, "0m")
		}
		b.WriteString(r)
	}
	return b.String()
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
