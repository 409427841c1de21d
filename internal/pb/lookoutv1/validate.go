// Hand-written validation for the generated monitor types. It lives beside
// the generated code so that every part of the system (monitor files, the
// admin API, the Uptrends importer) applies the same rules.
//
// Paths in errors use the monitor file's YAML names: "interval",
// "checkpoints[1]", "steps[2].request.url", "steps[0].request.headers.Accept".
// Validation applies no defaults; the monitor file parser fills those in.

package lookoutv1

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
)

// Limits enforced by Validate.
const (
	MinInterval      = 10 * time.Second
	MaxInterval      = 24 * time.Hour
	MaxRunTimeout    = 10 * time.Minute
	MaxWait          = 10 * time.Minute
	MaxSteps         = 100
	MaxRetryAttempts = 10
	MaxNameLength    = 64
)

// FieldError is one problem with one field, named by its YAML path.
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// FieldErrors is every problem found; Error prints one per line.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Attempts is how many times a step is tried: max_attempts, or 1 when there
// is no retry.
func (r *Retry) Attempts() int {
	if r.GetMaxAttempts() < 1 {
		return 1
	}
	return int(r.GetMaxAttempts())
}

// Delay is the pause between attempts, zero when unset.
func (r *Retry) Delay() time.Duration {
	if r.GetWait() == nil {
		return 0
	}
	return r.GetWait().AsDuration()
}

// Validate checks m against the monitor rules and returns FieldErrors listing
// every problem, or nil.
func (m *Monitor) Validate() error {
	if m == nil {
		return FieldErrors{{Msg: "monitor is missing"}}
	}
	v := &validator{}
	v.name(m.GetName())
	interval := v.interval(m.GetInterval())
	timeout := v.timeout(m.GetTimeout(), interval)
	v.checkpoints(m.GetCheckpoints())
	v.variables(m.GetVariables())
	v.steps(m.GetSteps(), timeout)
	v.limits(m)
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

type validator struct {
	errs FieldErrors
}

func (v *validator) addf(path, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	namePattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	variablePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	placeholder     = regexp.MustCompile(`\{\{.*?\}\}`)
)

func (v *validator) name(name string) {
	switch {
	case name == "":
		v.addf("name", "required")
	case len(name) > MaxNameLength:
		v.addf("name", "must be at most %d characters", MaxNameLength)
	case !namePattern.MatchString(name):
		v.addf("name", "must start with a letter or digit and contain only letters, digits, '.', '_' and '-'")
	}
	if err := CheckNotIDShaped(name); err != nil {
		v.addf("name", "%v", err)
	}
}

// duration reads d; ok is false when d is unset or malformed (reported).
func (v *validator) duration(path string, d *durationpb.Duration) (time.Duration, bool) {
	if d == nil {
		return 0, false
	}
	if err := d.CheckValid(); err != nil {
		v.addf(path, "not a valid duration")
		return 0, false
	}
	return d.AsDuration(), true
}

// interval returns the interval, or 0 when it is unusable.
func (v *validator) interval(d *durationpb.Duration) time.Duration {
	iv, ok := v.duration("interval", d)
	switch {
	case d == nil:
		v.addf("interval", "required")
	case !ok:
	case iv < MinInterval:
		v.addf("interval", "must be at least %s (got %s)", short(MinInterval), short(iv))
	case iv > MaxInterval:
		v.addf("interval", "must be at most %s (got %s)", short(MaxInterval), short(iv))
	default:
		return iv
	}
	return 0
}

// timeout returns the run timeout, or 0 when it is unusable.
func (v *validator) timeout(d *durationpb.Duration, interval time.Duration) time.Duration {
	t, ok := v.duration("timeout", d)
	switch {
	case d == nil:
		v.addf("timeout", "required")
	case !ok:
	case t <= 0:
		v.addf("timeout", "must be greater than 0")
	case t > MaxRunTimeout:
		v.addf("timeout", "must be at most %s (got %s)", short(MaxRunTimeout), short(t))
	case interval > 0 && t > interval:
		v.addf("timeout", "must not exceed the interval (%s)", short(interval))
	default:
		return t
	}
	return 0
}

func (v *validator) checkpoints(names []string) {
	if len(names) == 0 {
		v.addf("checkpoints", "at least one checkpoint is required")
	}
	seen := make(map[string]bool, len(names))
	for i, name := range names {
		p := fmt.Sprintf("checkpoints[%d]", i)
		switch {
		case name == "":
			v.addf(p, "must not be empty")
		case seen[name]:
			v.addf(p, "duplicate checkpoint %q", name)
		}
		if err := CheckNotIDShaped(name); err != nil {
			v.addf(p, "%q: %v; name the checkpoint", name, err)
		}
		seen[name] = true
	}
}

func (v *validator) variables(vars map[string]string) {
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v.variableName("variables."+name, name)
	}
}

func (v *validator) variableName(path, name string) {
	switch {
	case name == "":
		v.addf(path, "required")
	case len(name) > MaxNameLength:
		v.addf(path, "must be at most %d characters", MaxNameLength)
	case !variablePattern.MatchString(name):
		v.addf(path, "%q is not a valid variable name: start with a letter or '_', then use letters, digits, '_', '.' or '-'", name)
	}
}

func (v *validator) steps(steps []*Step, runTimeout time.Duration) {
	switch {
	case len(steps) == 0:
		v.addf("steps", "at least one step is required")
	case len(steps) > MaxSteps:
		v.addf("steps", "at most %d steps are allowed (got %d)", MaxSteps, len(steps))
	}
	for i, s := range steps {
		v.step(fmt.Sprintf("steps[%d]", i), s, runTimeout)
	}
}

func (v *validator) step(p string, s *Step, runTimeout time.Duration) {
	if len(s.GetName()) > MaxNameLength {
		v.addf(p+".name", "must be at most %d characters", MaxNameLength)
	}
	v.stepTimeout(p+".timeout", s.GetTimeout(), runTimeout)
	v.retry(p+".retry", s.GetRetry())
	switch {
	case s.GetRequest() != nil && s.GetWait() != nil:
		v.addf(p, "a step has either request or wait, not both")
	case s.GetWait() != nil:
		v.waitStep(p, s)
	case s.GetRequest() != nil:
		v.requestStep(p, s)
	default:
		v.addf(p, "a step needs either request or wait")
	}
}

func (v *validator) stepTimeout(p string, d *durationpb.Duration, runTimeout time.Duration) {
	t, ok := v.duration(p, d)
	switch {
	case !ok:
	case t < 0:
		v.addf(p, "must not be negative")
	case runTimeout > 0 && t > runTimeout:
		v.addf(p, "must not exceed the monitor timeout (%s)", short(runTimeout))
	}
}

func (v *validator) retry(p string, r *Retry) {
	if r == nil {
		return
	}
	if r.MaxAttempts < 1 || r.MaxAttempts > MaxRetryAttempts {
		v.addf(p+".max_attempts", "must be between 1 and %d (got %d)", MaxRetryAttempts, r.MaxAttempts)
	}
	w, ok := v.duration(p+".wait", r.Wait)
	switch {
	case !ok:
	case w < 0:
		v.addf(p+".wait", "must not be negative")
	case w > MaxWait:
		v.addf(p+".wait", "must be at most %s (got %s)", short(MaxWait), short(w))
	}
}

func (v *validator) waitStep(p string, s *Step) {
	w, ok := v.duration(p+".wait", s.Wait)
	switch {
	case !ok:
	case w <= 0:
		v.addf(p+".wait", "must be greater than 0")
	case w > MaxWait:
		v.addf(p+".wait", "must be at most %s (got %s)", short(MaxWait), short(w))
	}
	if len(s.Extract) > 0 {
		v.addf(p+".extract", "a wait step has no response to extract from")
	}
	if len(s.Assert) > 0 {
		v.addf(p+".assert", "a wait step has no response to assert on")
	}
}

func (v *validator) requestStep(p string, s *Step) {
	v.request(p+".request", s.Request)
	for i, e := range s.Extract {
		v.extraction(fmt.Sprintf("%s.extract[%d]", p, i), e)
	}
	for i, a := range s.Assert {
		v.assertion(fmt.Sprintf("%s.assert[%d]", p, i), a)
	}
}

var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

func (v *validator) request(p string, r *HttpRequest) {
	if r.Method != "" && !slices.Contains(methods, r.Method) {
		v.addf(p+".method", "%q is not one of %s", r.Method, strings.Join(methods, ", "))
	}
	v.url(p+".url", r.Url)
	v.headers(p+".headers", r.Headers)
	v.body(p, r)
	v.auth(p+".auth", r.Auth)
	v.clientCertificate(p+".client_certificate", r.ClientCertificate)
	v.tlsOptions(p+".tls", r.Tls)
	v.httpVersion(p, r)
}

// url checks raw with its {{…}} placeholders replaced by a harmless literal.
// The scheme is only checked when the URL does not start with a placeholder.
func (v *validator) url(p, raw string) {
	if raw == "" {
		v.addf(p, "required")
		return
	}
	literal := placeholder.ReplaceAllString(raw, "0")
	if strings.Contains(literal, "{{") {
		v.addf(p, "has a {{ without a closing }}")
		return
	}
	u, err := url.Parse(literal)
	switch {
	case err != nil:
		v.addf(p, "not a valid URL: %s", urlReason(err))
	case strings.HasPrefix(raw, "{{"):
	case u.Scheme != "http" && u.Scheme != "https":
		v.addf(p, "must start with http://, https:// or a {{variable}}")
	case u.Hostname() == "":
		v.addf(p, "has no host")
	}
}

func urlReason(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return err.Error()
}

func (v *validator) headers(p string, headers []*Header) {
	for i, h := range headers {
		hp := p + "." + h.GetName()
		switch {
		case h.GetName() == "":
			v.addf(fmt.Sprintf("%s[%d]", p, i), "header name is empty")
		case !validHeaderName(h.GetName()):
			v.addf(hp, "%q is not a valid header name", h.GetName())
		case strings.ContainsAny(h.GetValue(), "\r\n\x00"):
			v.addf(hp, "must not contain line breaks or NUL")
		}
	}
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// credentialAuth are the auth types that name a vault credential set.
var credentialAuth = map[AuthType]bool{
	AuthType_AUTH_TYPE_BASIC:                     true,
	AuthType_AUTH_TYPE_DIGEST:                    true,
	AuthType_AUTH_TYPE_NTLM:                      true,
	AuthType_AUTH_TYPE_OAUTH2_CLIENT_CREDENTIALS: true,
}

func (v *validator) auth(p string, a *Auth) {
	if a == nil {
		return
	}
	typ := enumName(a.Type.String(), "AUTH_TYPE_")
	if _, known := AuthType_name[int32(a.Type)]; !known {
		v.addf(p+".type", "unknown value %d", a.Type)
	}
	const oauth = AuthType_AUTH_TYPE_OAUTH2_CLIENT_CREDENTIALS
	inline := a.Username != "" || a.Password != ""
	switch {
	case credentialAuth[a.Type] && a.Credentials == "" && !inline:
		v.addf(p+".credentials", "required for type %s (the name of a vault credential set), unless username and password are given", typ)
	case credentialAuth[a.Type] && a.Credentials != "" && inline:
		v.addf(p+".credentials", "give either a credential set or username and password, not both")
	case !credentialAuth[a.Type] && a.Credentials != "":
		v.addf(p+".credentials", "only used with types basic, digest, ntlm and oauth2_client_credentials")
	case !credentialAuth[a.Type] && inline:
		v.addf(p+".username", "username and password are only used with types basic, digest, ntlm and oauth2_client_credentials")
	case inline && a.Username == "":
		v.addf(p+".username", "required with password")
	case inline && a.Password == "":
		v.addf(p+".password", "required with username")
	case inline && !isOneVariable(a.Password):
		v.addf(p+".password", "must be a single {{variable}} (from secret_variables, or extracted by an earlier step), not the password itself: a monitor is not a safe place for a secret")
	}
	switch {
	case a.Type == AuthType_AUTH_TYPE_BEARER && a.Token == "":
		v.addf(p+".token", "required for type bearer")
	case a.Type != AuthType_AUTH_TYPE_BEARER && a.Token != "":
		v.addf(p+".token", "only used with type bearer")
	}
	switch {
	case a.Type == oauth && a.TokenUrl == "":
		v.addf(p+".token_url", "required for type oauth2_client_credentials (the token endpoint's URL)")
	case a.Type == oauth:
		v.url(p+".token_url", a.TokenUrl)
	case a.TokenUrl != "":
		v.addf(p+".token_url", "only used with type oauth2_client_credentials")
	}
	if len(a.Scopes) > 0 && a.Type != oauth {
		v.addf(p+".scopes", "only used with type oauth2_client_credentials")
	}
	for i, s := range a.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			v.addf(fmt.Sprintf("%s.scopes[%d]", p, i), "%q is not a valid scope: it must be one non-empty word without spaces, quotes or backslashes", s)
		}
	}
}

// body checks that a request has at most one kind of body, and its fields.
func (v *validator) body(p string, r *HttpRequest) {
	kinds := 0
	for _, set := range []bool{r.Body != "", len(r.Form) > 0, len(r.Multipart) > 0} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		v.addf(p, "body, form and multipart are alternatives: set at most one")
	}
	v.formFields(p+".form", r.Form, false)
	v.formFields(p+".multipart", r.Multipart, true)
}

func (v *validator) formFields(p string, fields []*FormField, multipart bool) {
	for i, f := range fields {
		fp := fmt.Sprintf("%s[%d]", p, i)
		if f.GetName() == "" {
			v.addf(fp+".name", "required")
		}
		if !multipart && f.GetFilename() != "" {
			v.addf(fp+".filename", "only used in multipart bodies")
		}
		if !multipart && f.GetContentType() != "" {
			v.addf(fp+".content_type", "only used in multipart bodies")
		}
		if strings.ContainsAny(f.GetContentType(), "\r\n\x00") {
			v.addf(fp+".content_type", "must not contain line breaks or NUL")
		}
		if strings.ContainsAny(f.GetFilename(), "\x00") {
			v.addf(fp+".filename", "must not contain NUL")
		}
	}
}

// tlsWord spells a TLS version as a monitor file does: "1.2".
func tlsWord(t TlsVersion) string {
	return strings.ReplaceAll(enumName(t.String(), "TLS_VERSION_"), "_", ".")
}

func (v *validator) tlsOptions(p string, o *TlsOptions) {
	if o == nil {
		return
	}
	_, minKnown := TlsVersion_name[int32(o.MinVersion)]
	_, maxKnown := TlsVersion_name[int32(o.MaxVersion)]
	switch {
	case !minKnown:
		v.addf(p+".min_version", "unknown value %d", o.MinVersion)
	case !maxKnown:
		v.addf(p+".max_version", "unknown value %d", o.MaxVersion)
	case o.MinVersion != TlsVersion_TLS_VERSION_UNSPECIFIED && o.MaxVersion != TlsVersion_TLS_VERSION_UNSPECIFIED &&
		o.MinVersion > o.MaxVersion:
		v.addf(p+".min_version", "must not be above max_version (%s > %s)", tlsWord(o.MinVersion), tlsWord(o.MaxVersion))
	}
	literal := placeholder.ReplaceAllString(o.ServerName, "x")
	if strings.ContainsAny(literal, " \t\r\n/:@{}") {
		v.addf(p+".server_name", "%q is not a host name: give the bare name, such as api.example.com", o.ServerName)
	}
	v.caBundle(p+".ca_bundle", o.CaBundle)
}

func (v *validator) httpVersion(p string, r *HttpRequest) {
	if _, ok := HttpVersion_name[int32(r.HttpVersion)]; !ok {
		v.addf(p+".http_version", "unknown value %d", r.HttpVersion)
		return
	}
	if r.HttpVersion == HttpVersion_HTTP_VERSION_2 && r.GetAuth().GetType() == AuthType_AUTH_TYPE_NTLM {
		v.addf(p+".http_version", "NTLM authentication needs HTTP/1.1: use 1.1 or leave http_version unset")
	}
}

func (v *validator) clientCertificate(p string, c *ClientCertificate) {
	if c == nil {
		return
	}
	if _, ok := CertificateSource_name[int32(c.Source)]; !ok {
		v.addf(p+".source", "unknown value %d", c.Source)
		return
	}
	switch {
	case c.Source == CertificateSource_CERTIFICATE_SOURCE_VAULT && c.Item == "":
		v.addf(p+".item", "required for source vault (the name of a vault certificate)")
	case c.Source != CertificateSource_CERTIFICATE_SOURCE_VAULT && c.Item != "":
		v.addf(p+".item", "not allowed with source %s; only vault certificates name an item",
			enumName(c.Source.String(), "CERTIFICATE_SOURCE_"))
	}
}

// extractPaths are the extraction sources that need a path.
var extractPaths = map[ExtractFrom]bool{
	ExtractFrom_EXTRACT_FROM_JSON:   true,
	ExtractFrom_EXTRACT_FROM_REGEX:  true,
	ExtractFrom_EXTRACT_FROM_HEADER: true,
	ExtractFrom_EXTRACT_FROM_COOKIE: true,
	ExtractFrom_EXTRACT_FROM_XPATH:  true,
}

func (v *validator) extraction(p string, e *Extraction) {
	v.variableName(p+".name", e.GetName())
	from := enumName(e.GetFrom().String(), "EXTRACT_FROM_")
	_, known := ExtractFrom_name[int32(e.GetFrom())]
	switch {
	case e.GetFrom() == ExtractFrom_EXTRACT_FROM_UNSPECIFIED:
		v.addf(p+".from", "required")
	case !known:
		v.addf(p+".from", "unknown value %d", e.GetFrom())
	case extractPaths[e.GetFrom()] && e.GetPath() == "":
		v.addf(p+".path", "required for from %s", from)
	case !extractPaths[e.GetFrom()] && e.GetPath() != "":
		v.addf(p+".path", "not used with from %s", from)
	case e.GetFrom() == ExtractFrom_EXTRACT_FROM_REGEX:
		v.regex(p+".path", e.GetPath())
	}
}

func (v *validator) regex(p, expr string) {
	if _, err := regexp.Compile(expr); err != nil {
		v.addf(p, "not a valid regular expression: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
}

// assertPaths are the assertion sources that need a path.
var assertPaths = map[AssertSource]bool{
	AssertSource_ASSERT_SOURCE_JSON:   true,
	AssertSource_ASSERT_SOURCE_HEADER: true,
	AssertSource_ASSERT_SOURCE_COOKIE: true,
	AssertSource_ASSERT_SOURCE_XPATH:  true,
}

// valueless are the comparisons that take no value.
var valueless = map[Comparison]bool{
	Comparison_COMPARISON_IS_EMPTY:   true,
	Comparison_COMPARISON_NOT_EMPTY:  true,
	Comparison_COMPARISON_EXISTS:     true,
	Comparison_COMPARISON_NOT_EXISTS: true,
}

// numeric are the comparisons whose value must be a number.
var numeric = map[Comparison]bool{
	Comparison_COMPARISON_LESS_THAN:        true,
	Comparison_COMPARISON_LESS_OR_EQUAL:    true,
	Comparison_COMPARISON_GREATER_THAN:     true,
	Comparison_COMPARISON_GREATER_OR_EQUAL: true,
}

func (v *validator) assertion(p string, a *Assertion) {
	v.assertSource(p, a)
	v.assertComparison(p, a)
}

func (v *validator) assertSource(p string, a *Assertion) {
	source := enumName(a.GetSource().String(), "ASSERT_SOURCE_")
	_, known := AssertSource_name[int32(a.GetSource())]
	switch {
	case a.GetSource() == AssertSource_ASSERT_SOURCE_UNSPECIFIED:
		v.addf(p+".source", "required")
	case !known:
		v.addf(p+".source", "unknown value %d", a.GetSource())
	case assertPaths[a.GetSource()] && a.GetPath() == "":
		v.addf(p+".path", "required for source %s", source)
	case !assertPaths[a.GetSource()] && a.GetPath() != "":
		v.addf(p+".path", "not used with source %s", source)
	}
}

func (v *validator) assertComparison(p string, a *Assertion) {
	c, value := a.GetComparison(), a.GetValue()
	name := enumName(c.String(), "COMPARISON_")
	_, known := Comparison_name[int32(c)]
	literal := !strings.Contains(value, "{{")
	switch {
	case c == Comparison_COMPARISON_UNSPECIFIED:
		v.addf(p+".comparison", "required")
	case !known:
		v.addf(p+".comparison", "unknown value %d", c)
	case valueless[c] && value != "":
		v.addf(p+".value", "not used with comparison %s", name)
	case !valueless[c] && value == "":
		v.addf(p+".value", "required for comparison %s", name)
	case numeric[c] && literal && !isNumber(value):
		v.addf(p+".value", "%q is not a number (comparison %s)", value, name)
	case c == Comparison_COMPARISON_MATCHES && literal:
		v.regex(p+".value", value)
	}
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return err == nil
}

// enumName turns "CERTIFICATE_SOURCE_VAULT" into "vault", the YAML spelling.
func enumName(s, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(s, prefix))
}

// short prints d without trailing zero units: "1m" rather than "1m0s".
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// isOneVariable reports whether s is exactly one {{name}} placeholder (an
// automatic @Function is not a variable: it would be a literal in disguise).
func isOneVariable(s string) bool {
	inner, ok := strings.CutPrefix(strings.TrimSpace(s), "{{")
	if !ok {
		return false
	}
	inner, ok = strings.CutSuffix(inner, "}}")
	name := strings.TrimSpace(inner)
	return ok && name != "" && !strings.HasPrefix(name, "@") && !strings.ContainsAny(name, "{}\r\n")
}
