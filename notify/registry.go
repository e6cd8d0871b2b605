package notify

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/config/secrets"
	"github.com/authpilot/authpilot/internal/didyoumean"
	"github.com/authpilot/authpilot/internal/registry"
	"github.com/authpilot/authpilot/internal/yamlx"
	"github.com/authpilot/authpilot/schedules"
)

// Sink is one configured place alerts go: the fields every sink kind has,
// and the kind's own decoded settings. The config loader decodes the common
// fields and hands the sink's other keys to its kind (Kind.Decode).
type Sink struct {
	Name string `yaml:"name"`
	// Type is a registered sink kind (Lookup).
	Type string `yaml:"type"`
	// IncludePHI adds the patient, service lines and diagnoses to what the
	// sink receives, and leaves the payer's text in alerts unredacted. Off
	// by default; meant for the practice's own systems. Without it the
	// Dispatcher redacts every PHI value the store knows from the alert.
	IncludePHI bool `yaml:"include_phi"`
	// IncludeOrderRef keeps the alert's order reference (external_ref,
	// often an MRN) for a sink without IncludePHI, which otherwise never
	// receives it. IncludePHI implies it.
	IncludeOrderRef bool `yaml:"include_order_ref"`
	// Options are the kind's decoded, validated settings.
	Options SinkOptions `yaml:"-"`
}

// SinkNode is a sink as written, for the config's strict decoder
// (internal/yamlx): the common fields decoded into Sink, every other key
// kept for the kind's Decode (Own).
type SinkNode struct {
	Sink `yaml:",inline"`

	own *yaml.Node // the keys not in CommonKeys, as a mapping
}

// KeepNode implements yamlx.NodeKeeper: it keeps every key but the common
// ones for the sink's kind to decode (a key written beside a merge
// replaces the merged one).
func (s *SinkNode) KeepNode(key, n *yaml.Node) bool {
	if slices.Contains(CommonKeys, key.Value) {
		return false
	}
	if s.own == nil {
		s.own = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: key.Line, Column: key.Column}
	}
	for i := 0; i+1 < len(s.own.Content); i += 2 {
		if s.own.Content[i].Value == key.Value {
			s.own.Content[i], s.own.Content[i+1] = key, n
			return true
		}
	}
	s.own.Content = append(s.own.Content, key, n)
	return true
}

// Own returns the sink's own keys as a mapping (empty when it has none)
// at line, the sink's: an error about a missing key points there.
func (s *SinkNode) Own(line int) *yaml.Node {
	n := s.own
	if n == nil {
		n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	n.Line = line
	return n
}

// CommonKeys are the YAML keys of Sink; every other key of a sink belongs
// to its kind.
var CommonKeys = []string{"name", "type", "include_phi", "include_order_ref"}

// SinkOptions are a sink kind's decoded, validated settings.
type SinkOptions interface {
	// New builds the sink's notifier, reading its secrets from the
	// keyring. It sends nothing. Errors name no secret value.
	New(s Sink, env Env) (Notifier, error)
}

// Warner is implemented by SinkOptions with findings that do not stop the
// daemon (a sink that receives PHI over plain http); config check prints
// them with their lines.
type Warner interface {
	Warnings() FieldErrors
}

// Kind is a registered sink kind.
type Kind struct {
	Name string
	// Decode strictly decodes and validates a sink's own keys without I/O:
	// node is a mapping of every key of the sink but CommonKeys (empty when
	// there are none); common holds the common fields, for checks that
	// combine them (a PHI warning). Errors name the YAML line: return
	// FieldErrors.
	Decode func(common Sink, node *yaml.Node) (SinkOptions, error)
}

var kinds = registry.New[Kind]("notify: sink kind")

// Register adds a sink kind; kinds call it from init. It panics on a
// duplicate or empty name or a kind without decoder: a programming error
// found at start-up.
func Register(k Kind) {
	if k.Decode == nil {
		panic("notify: Register of a sink kind without decoder: " + k.Name)
	}
	kinds.Add(k.Name, k, nil)
}

// Lookup returns a registered sink kind.
func Lookup(name string) (Kind, bool) { return kinds.Lookup(name) }

// Kinds returns the registered sink kinds' names, sorted.
func Kinds() []string { return kinds.Names() }

// Env is what a sink's notifier is built with.
type Env struct {
	Secrets authpilot.Secrets
	Clock   schedules.Clock
	// Client is the HTTP client of HTTP sinks (default: one per notifier).
	Client *http.Client
	// Location is the practice's time zone, for dates in messages.
	Location *time.Location
	// DigestRows caps a digest's rows in chat messages (0: the kind's
	// default).
	DigestRows int

	shared *shared
}

type shared struct {
	mu sync.Mutex
	m  map[string]any
}

// Shared returns the value kept under key for every notifier of one Build
// (Slack's per-webhook rate limiter), making it with mk the first time.
// Outside Build every call makes a new one.
func (e Env) Shared(key string, mk func() any) any {
	if e.shared == nil {
		return mk()
	}
	e.shared.mu.Lock()
	defer e.shared.mu.Unlock()
	v, ok := e.shared.m[key]
	if !ok {
		v = mk()
		e.shared.m[key] = v
	}
	return v
}

// Build builds one notifier per sink, keyed by sink name. It fails, naming
// the sink, on a duplicate name, a sink without options (an unknown kind)
// or a notifier its kind cannot build (a secret missing from the keyring);
// errors never contain secret values.
func Build(sinks []Sink, env Env) (map[string]Notifier, error) {
	env.shared = &shared{m: map[string]any{}}
	out := make(map[string]Notifier, len(sinks))
	var errs []error
	for i, s := range sinks {
		if _, dup := out[s.Name]; dup {
			errs = append(errs, fmt.Errorf("sinks[%d]: duplicate sink name %q", i, s.Name))
			continue
		}
		if _, ok := Lookup(s.Type); !ok {
			errs = append(errs, fmt.Errorf("sinks[%d]: sink %q: unknown type %q (registered: %s)", i, s.Name, s.Type, strings.Join(Kinds(), ", ")))
			continue
		}
		if s.Options == nil {
			errs = append(errs, fmt.Errorf("sinks[%d]: sink %q: no options decoded", i, s.Name))
			continue
		}
		n, err := s.Options.New(s, env)
		if err != nil {
			errs = append(errs, fmt.Errorf("sinks[%d]: %w", i, err))
			continue
		}
		out[s.Name] = n
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Names returns the sink names in config order, for Router.Sinks.
func Names(sinks []Sink) []string {
	out := make([]string, len(sinks))
	for i, s := range sinks {
		out[i] = s.Name
	}
	return out
}

// FieldError is a problem at a line of a sink's own keys; kinds' decoders
// return FieldErrors.
type FieldError = yamlx.FieldError

// FieldErrors is a list of a sink's option errors.
type FieldErrors = yamlx.FieldErrors

// Fields is a sink kind's strictly decoded keys: where each key was
// written, and the errors found so far. Kinds add their validation errors
// with At, so that every error names its line.
type Fields struct {
	node *yaml.Node
	d    *yamlx.Decoder
	Errs FieldErrors
}

// DecodeFields strictly decodes node, a mapping of a sink's own keys, into
// the struct v points to (whose fields hold the defaults) through the
// config file's decoder (internal/yamlx): an unknown key (with a
// did-you-mean among the kind's and the common keys), a duplicate key or a
// value of the wrong type is an error with its line, and every problem is
// reported.
func DecodeFields(node *yaml.Node, v any) *Fields {
	f := &Fields{node: node}
	f.d = yamlx.New(f.add)
	if node == nil {
		return f
	}
	f.d.DecodeInto(f.dropCommonTypos(node, v), v)
	return f
}

// dropCommonTypos reports the keys of node that are none of v's but a
// misspelt common key ("include_ph"), which the kind's decoder could not
// suggest, and returns node without them.
func (f *Fields) dropCommonTypos(node *yaml.Node, v any) *yaml.Node {
	if node.Kind != yaml.MappingNode {
		return node
	}
	own := yamlKeys(reflect.TypeOf(v).Elem())
	out := *node
	out.Content = nil
	for i := 0; i+1 < len(node.Content); i += 2 {
		k := node.Content[i]
		if !slices.Contains(own, k.Value) && didyoumean.Closest(k.Value, own) == "" {
			if c := didyoumean.Closest(k.Value, CommonKeys); c != "" {
				f.add(k.Line, "", fmt.Sprintf("unknown key %q (did you mean %q?)", k.Value, c))
				continue
			}
		}
		out.Content = append(out.Content, k, node.Content[i+1])
	}
	return &out
}

// yamlKeys lists a struct type's yaml keys.
func yamlKeys(t reflect.Type) []string {
	var out []string
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" && t.Field(i).IsExported() {
			out = append(out, name)
		}
	}
	return out
}

func (f *Fields) add(line int, path, msg string) {
	f.Errs = append(f.Errs, &FieldError{Line: line, Path: path, Msg: msg})
}

// Has reports whether key was written.
func (f *Fields) Has(key string) bool { return f.d != nil && f.d.Line(key) > 0 }

// Line returns the line of key's value, or of the sink when key is not
// written.
func (f *Fields) Line(key string) int {
	if f.d != nil {
		if l := f.d.Line(key); l > 0 {
			return l
		}
	}
	if f.node != nil {
		return f.node.Line
	}
	return 0
}

// At adds an error about key, at its line (the sink's line when the key is
// not written).
func (f *Fields) At(key, format string, args ...any) {
	f.add(f.Line(key), key, fmt.Sprintf(format, args...))
}

// Err returns the errors as FieldErrors, or nil.
func (f *Fields) Err() error {
	if len(f.Errs) == 0 {
		return nil
	}
	return f.Errs
}

// SecretName checks the name of a keyring secret as the keyring does,
// adding an error at key.
func (f *Fields) SecretName(key, name string, required bool) {
	if rule := secrets.NameRule(name, required); rule != "" {
		f.At(key, "%s", rule)
	}
}

// NewFields returns an empty Fields, for checking options built in code
// (errors then have no line).
func NewFields() *Fields { return &Fields{} }
