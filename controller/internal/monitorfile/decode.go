package monitorfile

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/suggest"
)

// maxVisits bounds the work of decoding, so that aliases which expand a small
// file into a huge tree ("billion laughs") are refused rather than followed.
// A monitor at every limit (100 steps) is far below it.
const maxVisits = 1 << 18

// maxAliases bounds how many times a file may use an alias, and maxExpanded how many bytes of
// scalars it may hold once every alias is replaced by what it names. A few hundred visits of a
// large anchored value can make a small file a huge monitor: visits alone do not bound that.
const (
	maxAliases  = 1000
	maxExpanded = MaxSize
)

// decoder fills the file structs from a yaml.Node tree, checking every key
// against the structs' yaml tags. It records the line of every path it sees,
// so later validation errors can point into the file too.
type decoder struct {
	errs     lookoutv1.FieldErrors
	lines    map[string]int
	visits   int
	aliases  int
	expanded int // bytes of scalar values decoded, each alias's copy counted
	stopped  bool
}

func newDecoder() *decoder {
	return &decoder{lines: make(map[string]int)}
}

func (d *decoder) fail(path string, line int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		msg = fmt.Sprintf("%s (line %d)", msg, line)
	}
	d.errs = append(d.errs, lookoutv1.FieldError{Path: path, Msg: msg})
}

// note remembers the first line seen for path.
func (d *decoder) note(path string, line int) {
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = line
	}
}

// value decodes n into v, dispatching on v's type.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	n = d.resolve(n)
	if n == nil || n.ShortTag() == "!!null" {
		return
	}
	if v.Kind() == reflect.Pointer {
		v.Set(reflect.New(v.Type().Elem()))
		v = v.Elem()
	}
	if s, ok := v.Addr().Interface().(scalarValue); ok {
		d.custom(n, s, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Map:
		d.stringMap(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

// resolve follows aliases and counts the visit; nil means stop.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	d.visits++
	if d.visits == maxVisits {
		d.stop("monitor file is too complex: more than %d values, counting each copy an alias makes", maxVisits)
	}
	for n != nil && n.Kind == yaml.AliasNode && !d.stopped {
		if d.aliases++; d.aliases > maxAliases {
			d.stop("monitor file uses aliases (*name) more than %d times (line %d): write the values out, or use fewer", maxAliases, n.Line)
		}
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.ScalarNode && !d.stopped {
		if d.expanded += len(n.Value); d.expanded > maxExpanded {
			d.stop("monitor file expands to more than %d bytes (1 MiB) of values once its aliases are copied out (line %d)", maxExpanded, n.Line)
		}
	}
	if d.stopped {
		return nil
	}
	return n
}

// stop records a problem with the file as a whole and ends the decoding.
func (d *decoder) stop(format string, args ...any) {
	if !d.stopped {
		d.stopped = true
		d.fail("", 0, format, args...)
	}
}

var kindNames = map[yaml.Kind]string{
	yaml.MappingNode:  "a mapping",
	yaml.SequenceNode: "a list",
	yaml.ScalarNode:   "a single value",
}

func (d *decoder) expect(n *yaml.Node, kind yaml.Kind, path string) bool {
	if n.Kind == kind {
		return true
	}
	d.fail(path, n.Line, "must be %s, not %s", kindNames[kind], kindNames[n.Kind])
	return false
}

// mapping decodes a struct: each key must name one of its yaml tags, once.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if !d.expect(n, yaml.MappingNode, path) {
		return
	}
	fields := fieldIndex(v.Type())
	seen := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		p := join(path, key.Value)
		idx, ok := fields[key.Value]
		switch {
		case key.Kind != yaml.ScalarNode:
			d.fail(path, key.Line, "field names must be plain words")
		case !ok:
			d.fail(p, key.Line, "unknown field%s", suggest.Hint(key.Value, slices.Sorted(maps.Keys(fields))))
		case seen[key.Value]:
			d.fail(p, key.Line, "field given twice")
		default:
			seen[key.Value] = true
			d.note(p, key.Line)
			d.value(val, v.Field(idx), p)
		}
	}
}

var fieldIndexes sync.Map // reflect.Type → map[string]int

// fieldIndex maps t's yaml tag names to field indexes.
func fieldIndex(t reflect.Type) map[string]int {
	if fields, ok := fieldIndexes.Load(t); ok {
		return fields.(map[string]int)
	}
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = i
		}
	}
	fieldIndexes.Store(t, fields)
	return fields
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if !d.expect(n, yaml.SequenceNode, path) {
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.note(p, item.Line)
		d.value(item, s.Index(i), p)
	}
	v.Set(s)
}

// stringMap decodes a map[string]string (variables, headers).
func (d *decoder) stringMap(n *yaml.Node, v reflect.Value, path string) {
	if !d.expect(n, yaml.MappingNode, path) {
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		p := join(path, key.Value)
		k := reflect.ValueOf(key.Value)
		switch {
		case key.Kind != yaml.ScalarNode:
			d.fail(path, key.Line, "keys must be plain text")
		case m.MapIndex(k).IsValid():
			d.fail(p, key.Line, "key given twice")
		default:
			d.note(p, key.Line)
			elem := reflect.New(v.Type().Elem()).Elem()
			d.value(val, elem, p)
			m.SetMapIndex(k, elem)
		}
	}
	v.Set(m)
}

func (d *decoder) custom(n *yaml.Node, s scalarValue, path string) {
	if !d.expect(n, yaml.ScalarNode, path) {
		return
	}
	if err := s.decodeScalar(n); err != nil {
		d.fail(path, n.Line, "%s", err)
	}
}

// scalar decodes strings, booleans and whole numbers. Any scalar is accepted
// as a string, in its written form: `value: 200` is "200".
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if !d.expect(n, yaml.ScalarNode, path) {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.fail(path, n.Line, "%q is not true or false", n.Value)
		}
		v.SetBool(b)
	case reflect.Int32:
		var i int32
		if n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			d.fail(path, n.Line, "%q is not a whole number", n.Value)
		}
		v.SetInt(int64(i))
	default:
		d.fail(path, n.Line, "internal error: this version cannot read a %s here; please report it", v.Type())
	}
}

func join(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// lineOf finds the line of path, or of its nearest recorded parent.
func (d *decoder) lineOf(path string) int {
	for path != "" {
		if line, ok := d.lines[path]; ok {
			return line
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// withLines adds "(line N)" to each validation error whose path is in the file.
func (d *decoder) withLines(errs lookoutv1.FieldErrors) lookoutv1.FieldErrors {
	out := make(lookoutv1.FieldErrors, len(errs))
	for i, e := range errs {
		if line := d.lineOf(e.Path); line > 0 {
			e.Msg = fmt.Sprintf("%s (line %d)", e.Msg, line)
		}
		out[i] = e
	}
	return out
}
