package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// ExportOptions steer Export. The maps are the ones given to Convert: Export
// reads them backwards, so a monitor goes back to the GUIDs and checkpoint
// ids it came from.
type ExportOptions struct {
	Bind          map[string]string // Uptrends GUID -> Lookout vault item
	CheckpointMap map[string]string // Uptrends checkpoint id or "region:ID" -> Lookout checkpoint
	Usernames     map[string]string // credential set name -> its user name (vault metadata)
}

// The Uptrends shapes Export writes, in the order the Uptrends API writes them.
type (
	upMonitor struct {
		Name                          string
		MonitorType                   string
		CheckInterval                 int64
		IsActive                      bool
		SelectedCheckpoints           *upSelection `json:",omitempty"`
		MultiStepApiTransactionScript string
	}
	upSelection struct {
		Checkpoints []json.Number `json:",omitempty"`
		Regions     []json.Number `json:",omitempty"`
	}
	upScript struct {
		MsaSteps             []upStep
		PredefinedVariables  []upKV
		UserDefinedFunctions []struct{}
		Version              int
	}
	upKV   struct{ Key, Value string }
	upStep struct {
		StepType                   string
		Name                       string        `json:",omitempty"`
		Delay                      int64         `json:",omitempty"`
		Url                        string        `json:",omitempty"`
		Method                     string        `json:",omitempty"`
		RequestHeaders             []upKV        `json:",omitempty"`
		Body                       string        `json:",omitempty"`
		BodyType                   string        `json:",omitempty"`
		Authentication             *upAuth       `json:",omitempty"`
		UseFixedClientCertificate  bool          `json:",omitempty"`
		ClientCertificateVaultItem string        `json:",omitempty"`
		IgnoreCertificateErrors    bool          `json:",omitempty"`
		RetryUntilSuccessful       bool          `json:",omitempty"`
		MaxAttempts                int32         `json:",omitempty"`
		RetryWaitMilliseconds      int64         `json:",omitempty"`
		Variables                  []upVariable  `json:",omitempty"`
		Assertions                 []upAssertion `json:",omitempty"`
	}
	upAuth      struct{ AuthenticationType, UserName, Password string }
	upVariable  struct{ Source, Property, Name string }
	upAssertion struct{ Source, Property, Comparison, TargetValue string }
)

// exporter collects the report of what Export could not write.
type exporter struct {
	o     ExportOptions
	notes []Finding
}

func (e *exporter) note(path, format string, a ...any) {
	e.notes = append(e.notes, Finding{Path: path, Msg: fmt.Sprintf(format, a...)})
}

// Export writes m as an Uptrends MultiStepApi monitor (the current generation:
// steps in MultiStepApiTransactionScript) and reports, with Lookout field
// paths, what Uptrends cannot hold. Passwords are never written: the vault
// does not give them out.
func Export(m *pb.Monitor, o ExportOptions) ([]byte, []Finding, error) {
	e := &exporter{o: o}
	script := upScript{PredefinedVariables: []upKV{}, UserDefinedFunctions: []struct{}{}, Version: 2}
	for _, k := range slices.Sorted(maps.Keys(m.GetVariables())) {
		script.PredefinedVariables = append(script.PredefinedVariables, upKV{k, m.Variables[k]})
	}
	for i, st := range m.GetSteps() {
		script.MsaSteps = append(script.MsaSteps, e.step(fmt.Sprintf("steps[%d]", i), st))
	}
	if len(m.GetSecretVariables()) > 0 {
		e.note("secret_variables", "not exported: Uptrends has no secret variables; define them in its vault")
	}
	s, err := marshal(script)
	if err != nil {
		return nil, nil, fmt.Errorf("exporting monitor %q: %w", m.GetName(), err)
	}
	up := upMonitor{Name: m.GetName(), MonitorType: "MultiStepApi", CheckInterval: e.interval(m), IsActive: !m.GetPaused(),
		SelectedCheckpoints: e.checkpoints(m.GetCheckpoints()), MultiStepApiTransactionScript: string(s)}
	out, err := marshal(up)
	if err != nil {
		return nil, nil, fmt.Errorf("exporting monitor %q: %w", m.GetName(), err)
	}
	return out, e.notes, nil
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// interval is the check interval in whole minutes, rounded up.
func (e *exporter) interval(m *pb.Monitor) int64 {
	iv := m.GetInterval().AsDuration()
	minutes := int64((iv + time.Minute - 1) / time.Minute)
	if time.Duration(minutes)*time.Minute != iv {
		e.note("interval", "exported as %d minute(s): Uptrends counts CheckInterval in whole minutes", minutes)
	}
	if t := m.GetTimeout().AsDuration(); t != min(30*time.Second, iv) {
		e.note("timeout", "not exported: Uptrends has no per-run timeout")
	}
	return minutes
}

func (e *exporter) checkpoints(names []string) *upSelection {
	sel := &upSelection{}
	for _, name := range names {
		key := firstKey(e.o.CheckpointMap, name)
		switch {
		case key == "":
			e.note("checkpoints", "not exported: checkpoint %s has no --checkpoint-map entry naming its Uptrends id", name)
		case strings.HasPrefix(key, "region:"):
			sel.Regions = append(sel.Regions, json.Number(strings.TrimPrefix(key, "region:")))
		default:
			sel.Checkpoints = append(sel.Checkpoints, json.Number(key))
		}
	}
	if len(sel.Checkpoints)+len(sel.Regions) == 0 {
		return nil
	}
	return sel
}

// firstKey is the smallest key of m whose value is v, or "" (so the result
// does not depend on map order). Keys that are not numbers are skipped:
// Uptrends ids are.
func firstKey(m map[string]string, v string) string {
	var keys []string
	for k, val := range m {
		if _, err := strconv.Atoi(strings.TrimPrefix(k, "region:")); err == nil && val == v {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	return slices.Min(keys)
}

func (e *exporter) step(p string, st *pb.Step) upStep {
	if st.GetWait() != nil {
		return upStep{StepType: stepDelay, Name: st.Name, Delay: st.Wait.AsDuration().Milliseconds()}
	}
	u := upStep{StepType: stepHTTP, Name: st.Name}
	e.request(p+".request", st.GetRequest(), &u)
	if r := st.GetRetry(); r != nil {
		u.RetryUntilSuccessful, u.MaxAttempts, u.RetryWaitMilliseconds = true, r.MaxAttempts, r.Delay().Milliseconds()
	}
	if st.GetTimeout() != nil {
		e.note(p+".timeout", "not exported: Uptrends has no per-step timeout")
	}
	for i, x := range st.Extract {
		if v, ok := e.variable(fmt.Sprintf("%s.extract[%d]", p, i), x); ok {
			u.Variables = append(u.Variables, v)
		}
	}
	for i, a := range st.Assert {
		if v, ok := e.assertion(fmt.Sprintf("%s.assert[%d]", p, i), a); ok {
			u.Assertions = append(u.Assertions, v)
		}
	}
	return u
}

func (e *exporter) request(p string, r *pb.HttpRequest, u *upStep) {
	u.Url, u.Method, u.Body, u.IgnoreCertificateErrors = r.GetUrl(), r.GetMethod(), r.GetBody(), r.GetIgnoreCertificateErrors()
	u.BodyType = bodyRaw
	for _, h := range r.GetHeaders() {
		u.RequestHeaders = append(u.RequestHeaders, upKV{h.Name, h.Value})
	}
	u.Authentication = e.auth(p+".auth", r.GetAuth())
	switch cc := r.GetClientCertificate(); cc.GetSource() {
	case pb.CertificateSource_CERTIFICATE_SOURCE_PLATFORM:
		u.UseFixedClientCertificate = true
	case pb.CertificateSource_CERTIFICATE_SOURCE_VAULT:
		u.ClientCertificateVaultItem = e.guid(p+".client_certificate.item", cc.Item)
	}
	for _, f := range []struct {
		field string
		set   bool
	}{{"form", len(r.GetForm()) > 0}, {"multipart", len(r.GetMultipart()) > 0}, {"body_file", r.GetBodyFile() != ""},
		{"tls", r.GetTls() != nil}, {"http_version", r.GetHttpVersion() != pb.HttpVersion_HTTP_VERSION_UNSPECIFIED}} {
		if f.set {
			e.note(p+"."+f.field, "not exported: the importer has no Uptrends field for it; set it in Uptrends by hand")
		}
	}
}

// guid is the Uptrends GUID bound to a vault item, or the item's name.
func (e *exporter) guid(p, item string) string {
	var guids []string
	for g, it := range e.o.Bind {
		if it == item {
			guids = append(guids, g)
		}
	}
	if len(guids) == 0 {
		e.note(p, "exported as %q, the Lookout vault item's name: replace it with the GUID of the certificate in the Uptrends vault (or give --bind GUID=%s)", item, item)
		return item
	}
	return slices.Min(guids)
}

func (e *exporter) auth(p string, a *pb.Auth) *upAuth {
	if a == nil || a.Type == pb.AuthType_AUTH_TYPE_NONE || a.Type == pb.AuthType_AUTH_TYPE_UNSPECIFIED {
		return nil
	}
	word, ok := wordOf(authTypes, a.Type)
	if !ok {
		e.note(p, "not exported: Uptrends has no %s authentication in this form", strings.ToLower(strings.TrimPrefix(a.Type.String(), "AUTH_TYPE_")))
		return nil
	}
	if a.Credentials == "" {
		return &upAuth{AuthenticationType: word, UserName: a.Username, Password: a.Password}
	}
	e.note(p+".credentials", "exported without a password: credential set %s keeps it write-only; enter it in Uptrends", a.Credentials)
	return &upAuth{AuthenticationType: word, UserName: e.o.Usernames[a.Credentials]}
}

func (e *exporter) variable(p string, x *pb.Extraction) (upVariable, bool) {
	src, ok := wordOf(extractSources, x.From)
	if !ok {
		e.note(p, "not exported: Uptrends cannot extract from %s", x.From)
		return upVariable{}, false
	}
	return upVariable{Source: src, Property: x.Path, Name: x.Name}, true
}

func (e *exporter) assertion(p string, a *pb.Assertion) (upAssertion, bool) {
	src, ok := wordOf(assertSources, a.Source)
	cmp, cok := wordOf(comparisons, a.Comparison)
	switch {
	case !ok:
		e.note(p, "not exported: Uptrends cannot assert on %s", strings.ToLower(strings.TrimPrefix(a.Source.String(), "ASSERT_SOURCE_")))
		return upAssertion{}, false
	case !cok:
		e.note(p, "not exported: Uptrends has no %s comparison", strings.ToLower(strings.TrimPrefix(a.Comparison.String(), "COMPARISON_")))
		return upAssertion{}, false
	}
	return upAssertion{Source: src, Property: a.Path, Comparison: cmp, TargetValue: a.Value}, true
}
