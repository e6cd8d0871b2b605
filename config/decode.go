package config

import (
	"reflect"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/yamlx"
)

// decoder is one file's strict decoder (internal/yamlx, shared with the
// connector kinds), reporting into the config's collector under the file's
// name.
type decoder struct {
	*yamlx.Decoder
	file string
}

// typeNames say how config's own types are written, for type errors.
var typeNames = map[reflect.Type]string{
	reflect.TypeFor[Duration]():       "a duration such as 90s, 15m, 48h or 7d",
	reflect.TypeFor[authpilot.Date](): "a date (YYYY-MM-DD)",
}

func newDecoder(file string, errs *collector) *decoder {
	d := yamlx.New(func(line int, path, msg string) { errs.add(file, line, path, msg) })
	d.Names = typeNames
	return &decoder{Decoder: d, file: file}
}

func join(path, key string) string { return yamlx.Join(path, key) }
