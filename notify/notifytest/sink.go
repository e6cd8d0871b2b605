package notifytest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/schedules"
)

// DecodeSink decodes one sink written in YAML through its registered kind,
// as the config loader does: the common keys into notify.Sink, the others
// by the kind's Decode. The kind must be linked in (import notify/sinks or
// the kind's package).
func DecodeSink(src string) (notify.Sink, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return notify.Sink{}, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return notify.Sink{}, errors.New("a sink is a mapping")
	}
	m := doc.Content[0]
	common := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: m.Line}
	rest := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: m.Line}
	for i := 0; i+1 < len(m.Content); i += 2 {
		to := rest
		if slices.Contains(notify.CommonKeys, m.Content[i].Value) {
			to = common
		}
		to.Content = append(to.Content, m.Content[i], m.Content[i+1])
	}
	var s notify.Sink
	if err := common.Decode(&s); err != nil {
		return s, err
	}
	k, ok := notify.Lookup(s.Type)
	if !ok {
		return s, fmt.Errorf("unknown sink type %q (registered: %v)", s.Type, notify.Kinds())
	}
	opts, err := k.Decode(s, rest)
	if err != nil {
		return s, err
	}
	s.Options = opts
	return s, nil
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
// in-memory Outbox on clock, the cases, the PHI redactor phi, no backoff
// jitter, and the log it writes.
func Dispatcher(name string, n notify.Notifier, clock schedules.Clock, cases Cases, phi notify.PHIRedactor) (*notify.Dispatcher, *Outbox, *LogBuffer) {
	outbox := &Outbox{Now: clock.Now}
	logger, logs := NewLogger()
	d := notify.NewDispatcher(outbox, cases, &notify.Router{Sinks: []string{name}, Routes: []notify.Route{{Sinks: []string{name}}}},
		map[string]notify.Notifier{name: n}, clock, logger, notify.Options{Rand: func() float64 { return 0.5 }, PHI: phi})
	return d, outbox, logs
}
