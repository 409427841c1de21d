package importer

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// step reads one MsaSteps entry and appends the Lookout step it becomes.
func (s *monitorState) step(o *object) {
	o.ignore("StepGuid", "Id")
	typ := o.enum("StepType", stepTypes)
	st := &pb.Step{Name: o.str("Name")}
	if typ == stepDelay {
		s.delay(o, st)
	} else {
		st.Request = s.request(o, st.Name)
		s.retry(o, st)
		s.extractions(o, st)
		s.assertions(o, st)
	}
	o.unmapped("PreRequestScript", "Lookout runs no scripts; use variables and assertions")
	o.unmapped("PostResponseScript", "Lookout runs no scripts; use variables and assertions")
	o.done()
	s.m.Steps = append(s.m.Steps, st)
	s.stepPaths = append(s.stepPaths, o.path)
}

func (s *monitorState) delay(o *object, st *pb.Step) {
	o.ignore("Method", "BodyType") // written with their defaults on every step
	ms, ok := o.integer("Delay")
	if !ok {
		s.w.fail(join(o.path, "Delay"), "required for a Delay step: the wait in milliseconds")
		return
	}
	st.Wait = durationpb.New(time.Duration(ms) * time.Millisecond)
}

func (s *monitorState) request(o *object, stepName string) *pb.HttpRequest {
	r := &pb.HttpRequest{Url: o.str("Url"), Method: strings.ToUpper(o.enum("Method", methods))}
	if r.Method == "" {
		r.Method = "GET"
	}
	r.Headers = s.headers(o)
	r.Body = s.requestBody(o)
	r.Auth = s.auth(o, stepName)
	r.ClientCertificate = s.clientCertificate(o, stepName)
	r.IgnoreCertificateErrors = o.boolean("IgnoreCertificateErrors")
	return r
}

func (s *monitorState) headers(o *object) []*pb.Header {
	var hs []*pb.Header
	for _, h := range o.objects("RequestHeaders") {
		name, value := h.str("Key"), h.str("Value")
		h.done()
		if slices.ContainsFunc(hs, func(x *pb.Header) bool { return strings.EqualFold(x.Name, name) }) {
			s.w.note(h.path, "not imported: header %q is set earlier in this step too; Lookout sends one value per header", name)
			continue
		}
		hs = append(hs, &pb.Header{Name: name, Value: value})
	}
	return hs
}

func (s *monitorState) requestBody(o *object) string {
	body := o.str("Body")
	switch o.enum("BodyType", bodyTypes) {
	case bodyMultipart:
		_, p := o.get("BodyType")
		s.w.note(p, "not imported: the multipart body; write it as request.multipart in the Lookout monitor file")
		return ""
	case bodyNone:
		if body != "" {
			_, p := o.get("Body")
			s.w.note(p, "not imported: BodyType is None, so Uptrends sends no body either")
		}
		return ""
	}
	return body
}

func (s *monitorState) retry(o *object, st *pb.Step) {
	if !o.boolean("RetryUntilSuccessful") {
		o.ignore("MaxAttempts", "RetryWaitMilliseconds")
		return
	}
	n, _ := o.integer("MaxAttempts")
	if n > pb.MaxRetryAttempts {
		_, p := o.get("MaxAttempts")
		s.w.note(p, "imported as %d, the most Lookout allows (was %d)", pb.MaxRetryAttempts, n)
		n = pb.MaxRetryAttempts
	}
	r := &pb.Retry{MaxAttempts: int32(max(n, 1))}
	if wait, ok := o.integer("RetryWaitMilliseconds"); ok && wait > 0 {
		r.Wait = durationpb.New(time.Duration(wait) * time.Millisecond)
	}
	st.Retry = r
}

// needsPath is the Uptrends sources whose Property names what to read.
var needsPath = []string{srcJSON, srcXML, srcText, srcHeader, srcCookie}

func (s *monitorState) extractions(o *object, st *pb.Step) {
	for _, v := range o.objects("Variables") {
		src, prop, name := v.enum("Source", sources), v.str("Property"), v.str("Name")
		v.done()
		if src == srcConstant {
			s.constants = append(s.constants, constant{name: name, value: prop, path: v.path})
			continue
		}
		from, ok := valueOf(extractSources, src)
		if !ok {
			continue // unknown source: reported by enum
		}
		e := &pb.Extraction{Name: name, From: from}
		if slices.Contains(needsPath, src) {
			e.Path = prop
		}
		st.Extract = append(st.Extract, e)
	}
}

func (s *monitorState) assertions(o *object, st *pb.Step) {
	for _, a := range o.objects("Assertions") {
		if as := s.assertion(a); as != nil {
			st.Assert = append(st.Assert, as)
		}
		a.done()
	}
}

func (s *monitorState) assertion(a *object) *pb.Assertion {
	src, prop := a.enum("Source", sources), a.str("Property")
	cmp, target := a.enum("Comparison", comparisonWords), a.str("TargetValue")
	switch {
	case src == "" || cmp == "":
		return nil // missing or unknown: reported by enum, or below
	case cmp == cmpIgnored:
		s.w.note(a.path, "not imported: the assertion is switched off (ShouldBeIgnored)")
		return nil
	case cmp == cmpIsNull || cmp == cmpNotNull:
		s.w.note(a.path, "not imported: Lookout has no %s comparison; use Exists / DoesNotExist or Equal on the value", cmp)
		return nil
	}
	source, ok := valueOf(assertSources, src)
	if !ok {
		s.w.note(a.path, "not imported: Lookout cannot assert on %s", src)
		return nil
	}
	c, _ := valueOf(comparisons, cmp)
	as := &pb.Assertion{Source: source, Comparison: c, Value: target}
	if slices.Contains(needsPath, src) && src != srcText {
		as.Path = prop
	}
	if valueless(c) {
		as.Value = ""
	}
	return as
}

func valueless(c pb.Comparison) bool {
	switch c {
	case pb.Comparison_COMPARISON_IS_EMPTY, pb.Comparison_COMPARISON_NOT_EMPTY,
		pb.Comparison_COMPARISON_EXISTS, pb.Comparison_COMPARISON_NOT_EXISTS:
		return true
	}
	return false
}

// auth reads the Authentication block. A password that is a single
// {{variable}} stays in the monitor; any other password becomes a vault
// credential set, handed back to the caller in s.creds.
func (s *monitorState) auth(o *object, stepName string) *pb.Auth {
	a := o.child("Authentication")
	if a == nil {
		return nil
	}
	defer a.done()
	word := a.enum("AuthenticationType", words(authTypes))
	typ, _ := valueOf(authTypes, word)
	user, password := a.str("UserName"), a.str("Password")
	if word == "" || typ == pb.AuthType_AUTH_TYPE_NONE {
		if user != "" || password != "" {
			s.w.note(a.path, "not imported: user name and password, since AuthenticationType is None")
		}
		return nil
	}
	if isOneVariable(password) {
		return &pb.Auth{Type: typ, Username: user, Password: strings.TrimSpace(password)}
	}
	item := s.credentialItem(stepName, a.path)
	if password == "" {
		s.w.note(join(a.path, "Password"), "empty (Uptrends exports never include it): credential set %q must already be in the Lookout vault; add it with `lookout-controller vault add-credentials %s --username %s --password-stdin`", item, item, user)
	} else {
		s.creds = append(s.creds, Credential{Item: item, Username: user, Password: password, Path: a.path})
	}
	return &pb.Auth{Type: typ, Credentials: item}
}

// credentialItem names the credential set for a step's inline credentials:
// the --bind given for the step's name, else monitor-step, unique in the monitor.
func (s *monitorState) credentialItem(stepName, path string) string {
	if item := s.c.o.Bind[stepName]; stepName != "" && item != "" {
		return item
	}
	base := slug(s.name + "-" + cmpOr(stepName, fmt.Sprintf("step%d", len(s.m.Steps)+1)))
	item := base
	for i := 2; slices.ContainsFunc(s.creds, func(c Credential) bool { return c.Item == item }); i++ {
		item = fmt.Sprintf("%s-%d", base, i)
	}
	return item
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// clientCertificate maps UseFixedClientCertificate to the platform
// certificate and ClientCertificateVaultItem to a bound vault item.
func (s *monitorState) clientCertificate(o *object, stepName string) *pb.ClientCertificate {
	platform := o.boolean("UseFixedClientCertificate")
	guid, path := s.vaultGUID(o)
	switch {
	case platform && guid != "":
		s.w.fail(o.path, "uses both UseFixedClientCertificate and ClientCertificateVaultItem; Uptrends sends one of them: keep one")
	case platform:
		s.platform = true
		return &pb.ClientCertificate{Source: pb.CertificateSource_CERTIFICATE_SOURCE_PLATFORM}
	case guid != "":
		if item := s.bindGUID(guid, path, stepName); item != "" {
			return &pb.ClientCertificate{Source: pb.CertificateSource_CERTIFICATE_SOURCE_VAULT, Item: item}
		}
	}
	return nil
}

// vaultGUID reads ClientCertificateVaultItem: a GUID, or an object holding
// one as VaultItemGuid.
func (s *monitorState) vaultGUID(o *object) (string, string) {
	v, p := o.get("ClientCertificateVaultItem")
	if v == nil {
		return "", p
	}
	var guid string
	if json.Unmarshal(v, &guid) == nil {
		return guid, p
	}
	if obj := newObject(s.w, p, v); obj != nil {
		guid = obj.str("VaultItemGuid")
		obj.ignore("Name")
		obj.done()
		return guid, join(p, "VaultItemGuid")
	}
	return "", p
}

// bindGUID finds the Lookout vault item for an Uptrends vault GUID: --bind,
// or an item named like the GUID.
func (s *monitorState) bindGUID(guid, path, stepName string) string {
	if item := s.c.o.Bind[guid]; item != "" {
		return item
	}
	names, err := s.c.vaultItems()
	if err == nil && slices.Contains(names, guid) {
		return guid
	}
	why := ""
	if err != nil {
		why = fmt.Sprintf(" (the vault could not be asked: %v)", err)
	}
	g := strconv.Quote(guid) // it came from the file: quoted, it cannot reach a terminal raw
	s.w.fail(path, "step %q uses Uptrends vault item %s, which is bound to no Lookout vault item%s: pass --bind %s=ITEM naming a certificate added with `lookout-controller vault add-certificate`, or add the certificate under the name %s",
		stepName, g, why, strings.Trim(g, `"`), g)
	return ""
}

// isOneVariable reports whether s is exactly one {{name}} placeholder, not an
// automatic @function.
func isOneVariable(s string) bool {
	inner, ok := strings.CutPrefix(strings.TrimSpace(s), "{{")
	if !ok {
		return false
	}
	inner, ok = strings.CutSuffix(inner, "}}")
	name := strings.TrimSpace(inner)
	return ok && name != "" && !strings.HasPrefix(name, "@") && !strings.ContainsAny(name, "{}\r\n")
}
