package runner

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// redacted replaces every secret in results.
const redacted = "[redacted]"

// secretForms returns the spellings under which secret may appear in a
// request or an echoing response: as is, URL-escaped and JSON-escaped.
func secretForms(secret string) []string {
	if secret == "" {
		return nil
	}
	forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret)}
	if b, err := json.Marshal(secret); err == nil {
		forms = append(forms, string(b[1:len(b)-1]))
	}
	return forms
}

// basicForms returns the forms of a basic-auth password, including the
// base64 user:pass token sent in the Authorization header.
func basicForms(c Credential) []string {
	if c.Password == "" {
		return nil
	}
	token := base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password))
	return append(secretForms(c.Password), token)
}

// newRedactor returns a function replacing every occurrence of any secret
// with "[redacted]". Longer secrets win over shorter ones at the same place;
// empty secrets are ignored. Markers already present are kept as they are,
// so redacting twice does not mangle them.
func newRedactor(secrets []string) func(string) string {
	keys := slices.DeleteFunc(slices.Clone(secrets), func(s string) bool { return s == "" })
	if len(keys) == 0 {
		return func(s string) string { return s }
	}
	keys = append(keys, redacted)
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	keys = slices.Compact(keys)
	pairs := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		pairs = append(pairs, k, redacted)
	}
	return strings.NewReplacer(pairs...).Replace
}

// redactMessage applies redact to every string field of m, recursively.
func redactMessage(m protoreflect.Message, redact func(string) string) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			redactList(fd, v.List(), redact)
		case fd.IsMap():
			redactMap(fd, v.Map(), redact)
		case fd.Kind() == protoreflect.StringKind:
			// Set only what changes: most strings hold no secret, and Set is
			// the costly part of the walk.
			if s := v.String(); s != "" {
				if r := redact(s); r != s {
					m.Set(fd, protoreflect.ValueOfString(r))
				}
			}
		case fd.Message() != nil && holdsStrings(fd.Message()):
			redactMessage(v.Message(), redact)
		}
		return true
	})
}

// holdsStrings says whether a message of type md can hold a string anywhere inside it. The walk
// skips the others (timestamps, durations, timings): visiting them finds nothing and costs a
// good part of the walk. A property of the schema, so it is worked out once per type.
func holdsStrings(md protoreflect.MessageDescriptor) bool {
	if v, ok := stringHolders.Load(md); ok {
		return v.(bool)
	}
	return scanStrings(md, map[protoreflect.MessageDescriptor]bool{})
}

// stringHolders remembers holdsStrings by descriptor (not by name: two descriptors may share a
// name, as dynamic messages can).
var stringHolders sync.Map // protoreflect.MessageDescriptor → bool

// scanStrings is holdsStrings; onPath holds the types being scanned further up. A type met again
// on its own path (a recursive type) counts as holding strings, so an answer can only err toward
// walking: false is always exact (no guess fed it), and a true that a guess fed costs a walk.
func scanStrings(md protoreflect.MessageDescriptor, onPath map[protoreflect.MessageDescriptor]bool) (holds bool) {
	if v, ok := stringHolders.Load(md); ok {
		return v.(bool)
	}
	if onPath[md] {
		return true
	}
	onPath[md] = true
	defer delete(onPath, md)
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if fd.Kind() == protoreflect.StringKind || fd.Message() != nil && scanStrings(fd.Message(), onPath) {
			holds = true
			break
		}
	}
	stringHolders.Store(md, holds)
	return holds
}

func redactList(fd protoreflect.FieldDescriptor, l protoreflect.List, redact func(string) string) {
	for i := range l.Len() {
		switch {
		case fd.Kind() == protoreflect.StringKind:
			if s := l.Get(i).String(); s != "" {
				if r := redact(s); r != s {
					l.Set(i, protoreflect.ValueOfString(r))
				}
			}
		case fd.Message() != nil && holdsStrings(fd.Message()):
			redactMessage(l.Get(i).Message(), redact)
		}
	}
}

// redactMap redacts map values; keys are left alone (results have no maps
// keyed by user data).
func redactMap(fd protoreflect.FieldDescriptor, m protoreflect.Map, redact func(string) string) {
	val := fd.MapValue()
	m.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		switch {
		case val.Kind() == protoreflect.StringKind:
			m.Set(k, protoreflect.ValueOfString(redact(v.String())))
		case val.Message() != nil && holdsStrings(val.Message()):
			redactMessage(v.Message(), redact)
		}
		return true
	})
}
