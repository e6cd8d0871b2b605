package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser accepts the standard five fields and descriptors such as
// "@daily" and "@every 10m", with an optional TZ= or CRON_TZ= prefix.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron parses a cron spec. A spec without a TZ= prefix runs in loc
// (the practice time zone). The parser panics on some malformed TZ=
// prefixes; that panic is turned into an error here.
func ParseCron(spec string, loc *time.Location) (s cron.Schedule, err error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("empty spec")
	}
	hasTZ := strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=")
	if hasTZ && !strings.ContainsAny(spec, " \t") {
		return nil, errors.New("a TZ= prefix must be followed by a schedule")
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("malformed spec (the cron parser failed: %v)", r)
		}
	}()
	// The parser splits the prefix at the first space only.
	spec = strings.ReplaceAll(spec, "\t", " ")
	s, err = cronParser.Parse(spec)
	if err != nil {
		return nil, err
	}
	if ss, ok := s.(*cron.SpecSchedule); ok && !hasTZ && loc != nil {
		ss.Location = loc
	}
	return s, nil
}
