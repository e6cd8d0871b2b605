package yamlx

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// NodeKeeper is implemented by structs that keep some keys' nodes instead
// of decoding them (a connector's options, a sink's own keys, decoded by
// their kinds). key is the key as written (its line), n its value with
// aliases followed.
type NodeKeeper interface {
	KeepNode(key, n *yaml.Node) bool
}

// Defaulter is implemented by list items that start from defaults.
type Defaulter interface {
	SetDefaults()
}

// Unmarshaler is implemented by types that decode themselves from a node
// (a value that may be written in two shapes), reporting through d.
type Unmarshaler interface {
	DecodeYAML(d *Decoder, n *yaml.Node, path string)
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	unmarshalerType     = reflect.TypeFor[Unmarshaler]()
	durationType        = reflect.TypeFor[time.Duration]()
)

// DecodeInto strictly decodes n into the value ptr points to; the values
// already there are defaults that keys left out keep.
func (d *Decoder) DecodeInto(n *yaml.Node, ptr any) {
	d.Decode(n, reflect.ValueOf(ptr).Elem(), "")
}

// Decode decodes n into v (settable), recording n under path.
func (d *Decoder) Decode(n *yaml.Node, v reflect.Value, path string) {
	r := d.Resolve(n, path)
	if r == nil {
		return
	}
	if path != "" {
		d.nodes[path] = r
	}
	if d.bad[r] {
		d.failed[path] = true
		return
	}
	if IsNull(r) {
		// An empty value keeps the default.
		return
	}
	t := v.Type()
	if v.Kind() != reflect.Pointer {
		switch pt := reflect.PointerTo(t); {
		case pt.Implements(unmarshalerType):
			d.within(n, func() { v.Addr().Interface().(Unmarshaler).DecodeYAML(d, r, path) })
			return
		case pt.Implements(textUnmarshalerType):
			if r.Kind != yaml.ScalarNode {
				d.typeError(r, path, t)
				return
			}
			if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(r.Value)); err != nil {
				d.typeError(r, path, t)
			}
			return
		}
	}
	if t == durationType {
		dur, err := time.ParseDuration(strings.TrimSpace(r.Value))
		if r.Kind != yaml.ScalarNode || err != nil {
			d.typeError(r, path, t)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.steps--
		d.Decode(r, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, r, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if r.Kind != yaml.ScalarNode {
			d.typeError(r, path, t)
			return
		}
		v.SetString(r.Value)
	case reflect.Bool:
		b, ok := Bool(r)
		if !ok {
			d.typeError(r, path, t)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := Int(r)
		if !ok || v.OverflowInt(i) {
			d.typeError(r, path, t)
			return
		}
		v.SetInt(i)
	case reflect.Float32, reflect.Float64:
		var f float64
		if r.Kind != yaml.ScalarNode || (r.ShortTag() != "!!float" && r.ShortTag() != "!!int") || r.Decode(&f) != nil {
			d.typeError(r, path, t)
			return
		}
		v.SetFloat(f)
	default:
		d.Errorf(r, path, "internal error: cannot decode into %s", t)
	}
}

// Bool returns the value of a true/false scalar.
func Bool(n *yaml.Node) (bool, bool) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		return false, false
	}
	return b, true
}

// Int returns the value of an integer scalar.
func Int(n *yaml.Node) (int64, bool) {
	var i int64
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		return 0, false
	}
	return i, true
}

// fieldInfo is a struct type's keys and their field indexes.
type fieldInfo struct {
	index map[string][]int
	keys  []string
}

var fieldCache sync.Map // reflect.Type → *fieldInfo

func fieldsOf(t reflect.Type) *fieldInfo {
	if fi, ok := fieldCache.Load(t); ok {
		return fi.(*fieldInfo)
	}
	fi := &fieldInfo{index: map[string][]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.Anonymous && name == "" && opts == "inline" && f.Type.Kind() == reflect.Struct {
			// An embedded struct's keys are the outer struct's (a sink's
			// common fields, notify.Sink, in config.Sink).
			inner := fieldsOf(f.Type)
			for _, k := range inner.keys {
				fi.index[k] = append([]int{i}, inner.index[k]...)
				fi.keys = append(fi.keys, k)
			}
			continue
		}
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fi.index[name] = []int{i}
		fi.keys = append(fi.keys, name)
	}
	fieldCache.Store(t, fi)
	return fi
}

// decodeStruct decodes the mapping r (reached through n) by the struct's
// yaml tags.
func (d *Decoder) decodeStruct(n, r *yaml.Node, v reflect.Value, path string) {
	if r.Kind != yaml.MappingNode {
		d.typeError(r, path, v.Type())
		return
	}
	fi := fieldsOf(v.Type())
	keeper, _ := v.Addr().Interface().(NodeKeeper)
	d.within(n, func() {
		for _, e := range d.entries(r, path, "") {
			key := e.key.Value
			if keeper != nil {
				target := e.val
				for j := 0; target.Kind == yaml.AliasNode && target.Alias != nil && j < 100; j++ {
					target = target.Alias
				}
				if keeper.KeepNode(e.key, target) {
					d.nodes[Join(path, key)] = target
					if d.bad[target] {
						// Its ${VAR} expansion failed: that is its one error.
						d.failed[Join(path, key)] = true
					}
					continue
				}
			}
			idx, ok := fi.index[key]
			if !ok {
				d.unknownKey(e.key, path, "", fi.keys)
				continue
			}
			d.Decode(e.val, v.FieldByIndex(idx), Join(path, key))
		}
	})
}

func (d *Decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	var items []*yaml.Node
	if !d.Items(n, path, "", func(_ int, item *yaml.Node) { items = append(items, item) }) {
		return
	}
	s := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, item := range items {
		ev := s.Index(i)
		if ev.Kind() == reflect.Pointer {
			ev.Set(reflect.New(ev.Type().Elem()))
			if df, ok := ev.Interface().(Defaulter); ok {
				df.SetDefaults()
			}
		} else if df, ok := ev.Addr().Interface().(Defaulter); ok {
			df.SetDefaults()
		}
		d.Decode(item, ev, fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

func (d *Decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		d.Errorf(n, path, "internal error: map key type %s", t.Key())
		return
	}
	m := reflect.MakeMap(t)
	if !d.Pairs(n, path, "", func(k, val *yaml.Node) {
		ev := reflect.New(t.Elem()).Elem()
		d.Decode(val, ev, Join(path, k.Value))
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), ev)
	}) {
		return
	}
	v.Set(m)
}

// typeError reports that n is not a value of type t.
func (d *Decoder) typeError(n *yaml.Node, path string, t reflect.Type) {
	d.failed[path] = true
	d.Errorf(n, path, "expected %s, got %s", d.TypeName(t), d.Describe(n))
}

// TypeName says what a value of type t is written as.
func (d *Decoder) TypeName(t reflect.Type) string {
	if s, ok := d.Names[t]; ok {
		return s
	}
	if t == durationType {
		return "a duration such as 30s or 15m"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return d.TypeName(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	}
	return t.String()
}
