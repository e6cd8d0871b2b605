package notifytest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/yamlx"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/schedules"
)

// CheckDecode checks the error DecodeSink returned: none when want is
// empty; else notify.FieldErrors whose first error, written "line:
// message", begins with want, and that echo none of secrets.
func CheckDecode(t testing.TB, err error, want string, secrets ...string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("DecodeSink: %v", err)
		}
		return
	}
	var fes notify.FieldErrors
	if !errors.As(err, &fes) || len(fes) == 0 {
		t.Fatalf("DecodeSink = %v (%T), want FieldErrors", err, err)
	}
	if got := fmt.Sprintf("%d: %s", fes[0].Line, fes[0].Error()); !strings.HasPrefix(got, want) {
		t.Errorf("error = %q, want %q", got, want)
	}
	AssertNoSecrets(t, "", []error{err}, nil, secrets...)
}

// DecodeSink decodes one sink written in YAML as the config loader does,
// through the config's strict decoder (internal/yamlx): the common keys
// into notify.Sink (name and type required), the others by the kind's
// Decode. Every problem (an unknown or duplicate key, a value of the
// wrong type, a missing name) is a notify.FieldErrors with its line. The
// kind must be linked in (import notify/sinks or the kind's package).
func DecodeSink(src string) (notify.Sink, error) {
	var errs notify.FieldErrors
	d := yamlx.New(func(line int, path, msg string) {
		errs = append(errs, &notify.FieldError{Line: line, Path: path, Msg: msg})
	})
	root := d.Parse([]byte(src))
	if root == nil {
		if len(errs) > 0 {
			return notify.Sink{}, errs
		}
		return notify.Sink{}, errors.New("no sink")
	}
	var s notify.SinkNode
	d.DecodeInto(root, &s)
	for _, f := range []struct{ key, value string }{{"name", s.Name}, {"type", s.Type}} {
		if f.value == "" && !d.Failed(f.key) {
			line := d.Line(f.key)
			if line == 0 {
				line = root.Line
			}
			errs = append(errs, &notify.FieldError{Line: line, Path: f.key, Msg: "required"})
		}
	}
	if len(errs) > 0 {
		return s.Sink, errs
	}
	k, ok := notify.Lookup(s.Type)
	if !ok {
		return s.Sink, fmt.Errorf("unknown sink type %q (registered: %v)", s.Type, notify.Kinds())
	}
	opts, err := k.Decode(s.Sink, s.Own(root.Line))
	if err != nil {
		return s.Sink, err
	}
	s.Options = opts
	return s.Sink, nil
}

// Sink is DecodeSink failing t on an error.
func Sink(t testing.TB, src string) notify.Sink {
	t.Helper()
	s, err := DecodeSink(src)
	if err != nil {
		t.Fatalf("sink %s: %v", src, err)
	}
	return s
}

// Dispatcher returns a Dispatcher that routes every alert to the one sink
// called name, delivered by n, for a kind's test through the pipeline: an
// in-memory Outbox on clock holding the alerts, Case to read, a PHI
// redactor of CasePHI, no backoff jitter, and the log it writes.
func Dispatcher(t testing.TB, name string, n notify.Notifier, clock schedules.Clock, alerts ...authpilot.Alert) (*notify.Dispatcher, *Outbox, *LogBuffer) {
	t.Helper()
	outbox := &Outbox{Now: clock.Now}
	if _, err := outbox.Enqueue(t.Context(), alerts...); err != nil {
		t.Fatal(err)
	}
	logger, logs := NewLogger()
	c := Case()
	d := notify.NewDispatcher(outbox, Cases{c.ID: c}, &notify.Router{Sinks: []string{name}, Routes: []notify.Route{{Sinks: []string{name}}}},
		map[string]notify.Notifier{name: n}, clock, logger, notify.Options{Rand: func() float64 { return 0.5 }, PHI: PHI(CasePHI())})
	return d, outbox, logs
}
