package monitorfile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/suggest"
)

// CheckVariables reports every {{name}} that would be undefined when the
// agent expands it: a name that is neither a predefined nor a secret
// variable, nor automatic (@…), nor extracted by an earlier step. (A step's
// assertions see only what earlier steps extracted: the runner assigns a
// step's extractions after evaluating its assertions.) Parse does not call it:
// a file may be read and written whole before its variables are, but
// `monitor apply` refuses what it reports.
func CheckVariables(m *lookoutv1.Monitor) lookoutv1.FieldErrors {
	known := map[string]bool{}
	for name := range m.GetVariables() {
		known[name] = true
	}
	for name := range m.GetSecretVariables() {
		known[name] = true
	}
	later := extractedBy(m)
	var errs lookoutv1.FieldErrors
	for i, st := range m.GetSteps() {
		for _, u := range stepTexts(fmt.Sprintf("steps[%d]", i), st) {
			for _, name := range placeholders(u.text) {
				if !known[name] && !strings.HasPrefix(name, "@") {
					errs = append(errs, lookoutv1.FieldError{Path: u.path, Msg: undefinedMsg(name, known, later)})
				}
			}
		}
		for _, e := range st.GetExtract() {
			known[e.GetName()] = true
		}
	}
	return errs
}

// extractedBy maps each extracted name to the path of the first step that extracts it.
func extractedBy(m *lookoutv1.Monitor) map[string]string {
	by := map[string]string{}
	for i, st := range m.GetSteps() {
		for _, e := range st.GetExtract() {
			if _, ok := by[e.GetName()]; !ok {
				by[e.GetName()] = fmt.Sprintf("steps[%d]", i)
			}
		}
	}
	return by
}

func undefinedMsg(name string, known map[string]bool, later map[string]string) string {
	if step, ok := later[name]; ok {
		return fmt.Sprintf("{{%s}} is not defined yet: %s extracts it, after this is sent; extract it in an earlier step", name, step)
	}
	names := slices.Collect(maps.Keys(known))
	names = append(names, slices.Collect(maps.Keys(later))...)
	slices.Sort(names)
	return fmt.Sprintf("{{%s}} is not defined: it is not in variables or secret_variables, not automatic (@RandomGuid, @RandomInt(a,b), @DateTime(format,offset)), and no earlier step extracts it%s",
		name, suggest.Hint(name, names))
}

// text is one field the agent expands, with its path.
type text struct{ path, text string }

// stepTexts lists the fields of a step that may hold {{variables}}.
func stepTexts(p string, st *lookoutv1.Step) []text {
	var out []text
	if r := st.GetRequest(); r != nil {
		out = requestTexts(p+".request", r)
	}
	for i, a := range st.GetAssert() {
		ap := fmt.Sprintf("%s.assert[%d]", p, i)
		out = append(out, text{ap + ".path", a.GetPath()}, text{ap + ".value", a.GetValue()})
	}
	return out
}

func requestTexts(p string, r *lookoutv1.HttpRequest) []text {
	out := []text{{p + ".url", r.GetUrl()}, {p + ".body", r.GetBody()}, {p + ".tls.server_name", r.GetTls().GetServerName()}}
	for _, h := range r.GetHeaders() {
		out = append(out, text{p + ".headers." + h.GetName(), h.GetName() + " " + h.GetValue()})
	}
	for field, fs := range map[string][]*lookoutv1.FormField{"form": r.GetForm(), "multipart": r.GetMultipart()} {
		for i, f := range fs {
			out = append(out, text{fmt.Sprintf("%s.%s[%d]", p, field, i), f.GetName() + " " + f.GetValue()})
		}
	}
	if a := r.GetAuth(); a != nil {
		out = append(out, text{p + ".auth.username", a.GetUsername()}, text{p + ".auth.password", a.GetPassword()},
			text{p + ".auth.token", a.GetToken()}, text{p + ".auth.token_url", a.GetTokenUrl()})
		for i, s := range a.GetScopes() {
			out = append(out, text{fmt.Sprintf("%s.auth.scopes[%d]", p, i), s})
		}
	}
	slices.SortStableFunc(out, func(a, b text) int { return strings.Compare(a.path, b.path) })
	return out
}

// placeholders lists the names of the {{…}} in s, read the way the agent
// reads them: trimmed, on one line, without braces inside.
func placeholders(s string) []string {
	var names []string
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return names
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			return names
		}
		inner := s[i+2 : i+2+j]
		if name := strings.TrimSpace(inner); name != "" && !strings.ContainsAny(inner, "{}\r\n") {
			names = append(names, name)
			s = s[i+2+j+2:]
		} else {
			s = s[i+1:]
		}
	}
}
