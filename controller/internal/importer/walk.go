package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lookout-synthetics/lookout/internal/suggest"
)

// Finding is one entry of an import's report, or one problem that stops it:
// the JSON path of the field in the Uptrends input and what happened to it.
type Finding struct {
	Path string
	Msg  string
}

func (f Finding) String() string {
	if f.Path == "" {
		return f.Msg
	}
	return f.Path + ": " + f.Msg
}

// Errors is every problem that stopped an import, one per line.
type Errors []Finding

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.String()
	}
	return strings.Join(lines, "\n")
}

// walker collects problems and notes while the input is read.
type walker struct {
	errs  Errors
	notes []Finding
}

func (w *walker) fail(path, format string, a ...any) {
	w.errs = append(w.errs, Finding{Path: path, Msg: fmt.Sprintf(format, a...)})
}

func (w *walker) note(path, format string, a ...any) {
	w.notes = append(w.notes, Finding{Path: path, Msg: fmt.Sprintf(format, a...)})
}

// object is one JSON object being read. Keys match case-insensitively (the
// Uptrends API is .NET and so is its JSON binder); a key that is never read is
// reported by done.
type object struct {
	w    *walker
	path string
	keys []string // as written, sorted
	raw  map[string]json.RawMessage
	used map[string]bool
}

func newObject(w *walker, path string, data json.RawMessage) *object {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		w.fail(path, "must be a JSON object, not %s", kindOf(data))
		return nil
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return &object{w: w, path: path, keys: keys, raw: raw, used: map[string]bool{}}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// get returns the value of key (nil when absent or null) and its path.
func (o *object) get(key string) (json.RawMessage, string) {
	for _, k := range o.keys {
		if strings.EqualFold(k, key) {
			o.used[k] = true
			v := o.raw[k]
			if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
				return nil, join(o.path, k)
			}
			return v, join(o.path, k)
		}
	}
	return nil, join(o.path, key)
}

func (o *object) str(key string) string {
	v, p := o.get(key)
	if v == nil {
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		o.w.fail(p, "must be a string, not %s", kindOf(v))
	}
	return s
}

func (o *object) boolean(key string) bool {
	v, p := o.get(key)
	if v == nil {
		return false
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		o.w.fail(p, "must be true or false, not %s", kindOf(v))
	}
	return b
}

// integer reads a whole number; ok is false when the key is absent.
func (o *object) integer(key string) (n int64, ok bool) {
	v, p := o.get(key)
	if v == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
	if err != nil {
		o.w.fail(p, "must be a whole number, not %s", kindOf(v))
		return 0, false
	}
	return n, true
}

// list reads an array; each element comes with its path.
func (o *object) list(key string) ([]json.RawMessage, []string) {
	v, p := o.get(key)
	if v == nil {
		return nil, nil
	}
	return asList(o.w, p, v)
}

func asList(w *walker, p string, v json.RawMessage) ([]json.RawMessage, []string) {
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		w.fail(p, "must be a JSON array, not %s", kindOf(v))
		return nil, nil
	}
	paths := make([]string, len(items))
	for i := range items {
		paths[i] = fmt.Sprintf("%s[%d]", p, i)
	}
	return items, paths
}

// objects reads an array of objects.
func (o *object) objects(key string) []*object {
	items, paths := o.list(key)
	var out []*object
	for i, it := range items {
		if obj := newObject(o.w, paths[i], it); obj != nil {
			out = append(out, obj)
		}
	}
	return out
}

func (o *object) child(key string) *object {
	v, p := o.get(key)
	if v == nil {
		return nil
	}
	return newObject(o.w, p, v)
}

// enum reads a string that must be one of words (any case) and returns the
// canonical spelling; "" when absent. An unknown word is an error naming it.
func (o *object) enum(key string, words []string) string {
	s := o.str(key)
	if s == "" {
		return ""
	}
	for _, w := range words {
		if strings.EqualFold(w, s) {
			return w
		}
	}
	_, p := o.get(key)
	o.w.fail(p, "%q is not a value the importer knows: use one of %s%s", s, strings.Join(words, ", "), suggest.Hint(s, words))
	return ""
}

// unmapped reports key, when it holds something, as not carried over, and why.
func (o *object) unmapped(key, why string) {
	if v, p := o.get(key); !empty(v) {
		o.w.note(p, "not imported: %s", why)
	}
}

// ignore marks keys as read without reporting them: bookkeeping of the
// Uptrends account (ids, hashes) that has no meaning in Lookout.
func (o *object) ignore(keys ...string) {
	for _, k := range keys {
		o.get(k)
	}
}

// done reports every key that holds a value and was not read.
func (o *object) done() {
	for _, k := range o.keys {
		if !o.used[k] && !empty(o.raw[k]) {
			o.w.note(join(o.path, k), "not imported: not a field the importer knows")
		}
	}
}

// empty reports whether v is absent or a default: null, "", false, 0, [] or {}.
func empty(v json.RawMessage) bool {
	switch s := string(bytes.TrimSpace(v)); s {
	case "", "null", `""`, "false", "0", "[]", "{}":
		return true
	default:
		var arr []any
		if json.Unmarshal(v, &arr) == nil {
			return len(arr) == 0
		}
		var obj map[string]any
		if json.Unmarshal(v, &obj) == nil {
			return len(obj) == 0
		}
		return false
	}
}

func kindOf(v json.RawMessage) string {
	s := bytes.TrimSpace(v)
	if len(s) == 0 {
		return "nothing"
	}
	switch s[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "true/false"
	case 'n':
		return "null"
	}
	return "a number (" + string(s) + ")"
}

// syntaxError describes malformed JSON at its line and column.
func syntaxError(what string, data []byte, err error) error {
	var off int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		off = e.Offset
	case *json.UnmarshalTypeError:
		off = e.Offset
	}
	if off < 0 {
		return fmt.Errorf("%s is not valid JSON: %w", what, err)
	}
	line, col := position(data, off)
	return fmt.Errorf("%s is not valid JSON: %v (line %d, column %d)", what, err, line, col)
}

func position(data []byte, off int64) (line, col int) {
	// The offset counts the bytes read, the offending one included.
	off = max(min(off, int64(len(data)))-1, 0)
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}
