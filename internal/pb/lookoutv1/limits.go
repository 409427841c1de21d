package lookoutv1

import (
	"fmt"
	"iter"
	"maps"
	"slices"

	"google.golang.org/protobuf/proto"
)

// Size limits enforced by Validate. A monitor is stored, sent with every run and listed to every
// admin: each free-text field has a cap, each list a length, and the whole monitor an encoded
// size, so no way of writing one (YAML aliases, the admin API, an import) makes a huge one.
const (
	MaxMonitorSize  = 1 << 20  // encoded, every field included
	MaxTextLength   = 8 << 10  // URLs, header values, paths, assertion values, credentials fields
	MaxValueLength  = 64 << 10 // a variable's value, a form field's value
	MaxBodyLength   = 512 << 10
	MaxVariables    = 256 // variables, and secret_variables
	MaxCheckpoints  = 100
	MaxHeaders      = 100 // per request
	MaxFormFields   = 100 // per request
	MaxScopes       = 50
	maxScopeLength  = 256
	maxServerName   = 253
	maxVaultNameLen = 64
)

// limits checks the size of every free-text field and the length of every list of m.
func (v *validator) limits(m *Monitor) {
	if n := proto.Size(m); n > MaxMonitorSize {
		v.addf("", "monitor is %d bytes once encoded; the limit is %d (1 MiB): shorten bodies and values, or move large ones to vault files", n, MaxMonitorSize)
	}
	v.count("checkpoints", len(m.GetCheckpoints()), MaxCheckpoints)
	v.count("variables", len(m.GetVariables()), MaxVariables)
	v.count("secret_variables", len(m.GetSecretVariables()), MaxVariables)
	for name, value := range sortedMap(m.GetVariables()) {
		v.text("variables."+name, value, MaxValueLength)
	}
	for name, item := range sortedMap(m.GetSecretVariables()) {
		v.text("secret_variables."+name, item, maxVaultNameLen)
	}
	for i, s := range m.GetSteps() {
		p := fmt.Sprintf("steps[%d]", i)
		v.count(p+".extract", len(s.GetExtract()), MaxStepChecks)
		v.count(p+".assert", len(s.GetAssert()), MaxStepChecks)
		for j, e := range s.GetExtract() {
			v.text(fmt.Sprintf("%s.extract[%d].path", p, j), e.GetPath(), MaxTextLength)
		}
		for j, a := range s.GetAssert() {
			v.text(fmt.Sprintf("%s.assert[%d].path", p, j), a.GetPath(), MaxTextLength)
			v.text(fmt.Sprintf("%s.assert[%d].value", p, j), a.GetValue(), MaxTextLength)
		}
		if r := s.GetRequest(); r != nil {
			v.requestLimits(p+".request", r)
		}
	}
}

func (v *validator) requestLimits(p string, r *HttpRequest) {
	v.text(p+".url", r.GetUrl(), MaxTextLength)
	v.count(p+".headers", len(r.GetHeaders()), MaxHeaders)
	for _, h := range r.GetHeaders() {
		v.text(p+".headers."+h.GetName(), h.GetValue(), MaxTextLength)
	}
	v.text(p+".body", r.GetBody(), MaxBodyLength)
	for _, fl := range []struct {
		field string
		list  []*FormField
	}{{".form", r.GetForm()}, {".multipart", r.GetMultipart()}} {
		field, list := fl.field, fl.list
		v.count(p+field, len(list), MaxFormFields)
		for i, f := range list {
			fp := fmt.Sprintf("%s%s[%d]", p, field, i)
			v.text(fp+".name", f.GetName(), MaxTextLength)
			v.text(fp+".value", f.GetValue(), MaxValueLength)
			v.text(fp+".filename", f.GetFilename(), MaxTextLength)
			v.text(fp+".content_type", f.GetContentType(), MaxTextLength)
		}
	}
	if a := r.GetAuth(); a != nil {
		v.text(p+".auth.token", a.GetToken(), MaxTextLength)
		v.text(p+".auth.token_url", a.GetTokenUrl(), MaxTextLength)
		v.text(p+".auth.username", a.GetUsername(), MaxTextLength)
		v.text(p+".auth.password", a.GetPassword(), MaxTextLength)
		v.count(p+".auth.scopes", len(a.GetScopes()), MaxScopes)
		for i, s := range a.GetScopes() {
			v.text(fmt.Sprintf("%s.auth.scopes[%d]", p, i), s, maxScopeLength)
		}
	}
	if t := r.GetTls(); t != nil {
		v.text(p+".tls.server_name", t.GetServerName(), maxServerName)
		v.text(p+".tls.ca_bundle", t.GetCaBundle(), MaxBodyLength)
	}
}

// sortedMap yields m's entries in the order of their keys, so errors come in a stable order.
func sortedMap(m map[string]string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !yield(k, m[k]) {
				return
			}
		}
	}
}

func (v *validator) text(path, s string, max int) {
	if len(s) > max {
		v.addf(path, "is %d bytes; the limit is %d", len(s), max)
	}
}

func (v *validator) count(path string, n, max int) {
	if n > max {
		v.addf(path, "at most %d entries are allowed (got %d)", max, n)
	}
}
