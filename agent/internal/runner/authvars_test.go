package runner

import (
	"encoding/base64"
	"strings"
	"testing"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"google.golang.org/protobuf/encoding/protojson"
)

// TestAuthFromVariables: basic and digest authentication with a user name and a {{password}}
// variable instead of a vault credential set, against go-httpbin. The password here is extracted
// by the first step; wherever it then shows in the result (the first step's URL and extracted
// value, the Authorization header go-httpbin echoes) it is redacted.
func TestAuthFromVariables(t *testing.T) {
	t.Parallel()
	base := httpbinServer(t)
	const pw = "pa55-w0rd-9"
	inline := func(s *lookoutv1.Step, typ lookoutv1.AuthType, password string) *lookoutv1.Step {
		s.Request.Auth = &lookoutv1.Auth{Type: typ, Username: "{{user}}", Password: password}
		return s
	}
	first := get("fetch password", base+"/anything?pw="+pw, statusIs("200"))
	first.Extract = []*lookoutv1.Extraction{extract("pw", lookoutv1.ExtractFrom_EXTRACT_FROM_JSON, "$.args.pw[0]")}
	m := monitor(
		first,
		inline(get("basic", base+"/basic-auth/alice/"+pw, statusIs("200")), lookoutv1.AuthType_AUTH_TYPE_BASIC, "{{pw}}"),
		inline(get("digest", base+"/digest-auth/auth/alice/"+pw+"/SHA-256", statusIs("200")), lookoutv1.AuthType_AUTH_TYPE_DIGEST, "{{ pw }}"),
		inline(get("echo", base+"/anything", statusIs("200"), assertion(aBody, "", has, "Authorization")), lookoutv1.AuthType_AUTH_TYPE_BASIC, "{{pw}}"),
	)
	m.Variables = map[string]string{"user": "alice"}
	res := runMonitor(t, New(Options{}), m, nil)
	if res.Outcome != lookoutv1.Outcome_OUTCOME_PASSED {
		t.Fatalf("outcome %v: %s\n%v", res.Outcome, res.Message, res.Steps)
	}
	raw, err := protojson.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{pw, base64.StdEncoding.EncodeToString([]byte("alice:" + pw))} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the result holds the password (%s…)", secret[:6])
		}
	}
	if !strings.Contains(string(raw), redacted) {
		t.Error("nothing in the result was redacted: the test did not exercise redaction")
	}

	// A password variable that is not defined fails the step before any request is made.
	m = monitor(inline(get("basic", base+"/basic-auth/alice/"+pw, statusIs("200")), lookoutv1.AuthType_AUTH_TYPE_BASIC, "{{nope}}"))
	m.Variables = map[string]string{"user": "alice"}
	res = runMonitor(t, New(Options{}), m, nil)
	st := res.Steps[0]
	if st.ErrorClass != lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE || !strings.Contains(st.Error, `variable "nope" is not defined`) || st.StatusCode != 0 {
		t.Errorf("undefined password variable: class %v, error %q, status %d", st.ErrorClass, st.Error, st.StatusCode)
	}
}
