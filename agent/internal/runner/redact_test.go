package runner

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestRedactor(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		secrets []string
		in      string
		want    string
	}{
		"no secrets":                {nil, "password: hunter2", "password: hunter2"},
		"empty secret ignored":      {[]string{""}, "abc", "abc"},
		"every occurrence":          {[]string{"hunter2"}, "hunter2 and hunter2!", "[redacted] and [redacted]!"},
		"longest wins":              {[]string{"hunt", "hunter2"}, "hunter2 hunt", "[redacted] [redacted]"},
		"overlapping secrets":       {[]string{"abc", "cde"}, "abcde", "[redacted]de"},
		"marker kept":               {[]string{"e"}, "[redacted] e", "[redacted] [redacted]"},
		"secret holding the marker": {[]string{"[redacted]x"}, "a[redacted]x", "a[redacted]"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := newRedactor(tt.secrets)(tt.in); got != tt.want {
				t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSecretForms(t *testing.T) {
	t.Parallel()
	got := basicForms(Credential{Username: "api", Password: `p"a s/`})
	want := []string{`p"a s/`, "p%22a+s%2F", "p%22a%20s%2F", `p\"a s/`, base64.StdEncoding.EncodeToString([]byte(`api:p"a s/`))}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("forms (-got +want):\n%s", diff)
	}
}

// FuzzRedact checks that no secret survives redaction: once the markers are
// taken out, no secret may remain in the output.
func FuzzRedact(f *testing.F) {
	f.Add("hunter2 and hunter2", "hunter2", "hunt")
	f.Add("[redacted]x", "d]x", "e")
	f.Add("aaaa", "aa", "a")
	f.Fuzz(func(t *testing.T, text, s1, s2 string) {
		out := newRedactor([]string{s1, s2})(text)
		bare := strings.ReplaceAll(out, redacted, "\x00")
		for _, s := range []string{s1, s2} {
			if s != "" && !strings.Contains(s, "\x00") && strings.Contains(bare, s) {
				t.Errorf("redact(%q) with %q, %q = %q: still holds %q", text, s1, s2, out, s)
			}
		}
	})
}

// TestBasicAuthRedaction runs against a server that echoes the credentials
// back in headers, cookies and the body: neither the password nor the
// Authorization token may appear in the marshaled result.
func TestBasicAuthRedaction(t *testing.T) {
	t.Parallel()
	const user, password = "api-user", "s3cr3t-Pa55"
	token := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != password {
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Echo-Authorization", r.Header.Get("Authorization"))
		http.SetCookie(w, &http.Cookie{Name: "pw", Value: p})
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, `{"you":%q,"password":%q,"auth":%q,"sent":%q}`, u, p, r.Header.Get("Authorization"), body)
	}))
	step := &lookoutv1.Step{Name: "login",
		Request: &lookoutv1.HttpRequest{Method: "POST", Url: srv.URL + "/login?pw=" + password, Body: "x " + password,
			Auth: &lookoutv1.Auth{Type: lookoutv1.AuthType_AUTH_TYPE_BASIC, Credentials: "api"}},
		Extract: []*lookoutv1.Extraction{{Name: "pw", From: lookoutv1.ExtractFrom_EXTRACT_FROM_JSON, Path: "password"}},
		Assert: []*lookoutv1.Assertion{
			statusIs("200"),
			assertion(sJSON, "password", cEq, "wrong"), // fails, quoting the actual password
			assertion(sBody, "", cContains, password),
		},
	}
	secrets := &Secrets{Credentials: map[string]Credential{"api": {Username: user, Password: password}}}
	res := runMonitor(t, New(Options{}), monitor(step), secrets)

	st := res.GetSteps()[0]
	if st.GetStatusCode() != 200 {
		t.Fatalf("status = %d (%s), want 200: the server did not get the credentials", st.GetStatusCode(), st.GetError())
	}
	assertNoSecret(t, res, password, token)
	if got, want := res.GetMessage(),
		`step "login": expected $.password to equal "wrong", got "[redacted]"`; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	if !strings.Contains(st.GetBodyExcerpt(), `"password":"[redacted]"`) {
		t.Errorf("body excerpt %q does not show the redaction", st.GetBodyExcerpt())
	}
}

func TestBasicAuthMissingCredentials(t *testing.T) {
	t.Parallel()
	step := get("login", "http://127.0.0.1:1/")
	step.Request.Auth = &lookoutv1.Auth{Type: lookoutv1.AuthType_AUTH_TYPE_BASIC, Credentials: "api"}
	res := runMonitor(t, New(Options{}), monitor(step), nil)
	want := []stepBrief{{Name: "login", Class: lookoutv1.ErrorClass_ERROR_CLASS_SECRET, Attempts: 1,
		Error: `credential set "api" was not provided for this run`}}
	if diff := cmp.Diff(briefs(res), want); diff != "" {
		t.Errorf("steps (-got +want):\n%s", diff)
	}
}

// TestBearerTokenRedaction extracts a token in step 1 and sends it as a bearer
// token in step 2: it is redacted everywhere, including in step 1's body.
func TestBearerTokenRedaction(t *testing.T) {
	t.Parallel()
	const secret = "eyJ-very-secret-token"
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			fmt.Fprintf(w, `{"access_token":%q}`, secret)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+secret {
			w.WriteHeader(http.StatusUnauthorized)
		}
		fmt.Fprintf(w, "hello %s", r.Header.Get("Authorization"))
	}))
	m := monitor(
		&lookoutv1.Step{Name: "token", Request: &lookoutv1.HttpRequest{Url: srv.URL + "/token"},
			Extract: []*lookoutv1.Extraction{{Name: "token", From: lookoutv1.ExtractFrom_EXTRACT_FROM_JSON, Path: "access_token"}}},
		&lookoutv1.Step{Name: "api", Request: &lookoutv1.HttpRequest{Url: srv.URL + "/api",
			Auth: &lookoutv1.Auth{Type: lookoutv1.AuthType_AUTH_TYPE_BEARER, Token: "{{token}}"}},
			Assert: []*lookoutv1.Assertion{statusIs("200"), assertion(sBody, "", cEq, "nope")}},
	)
	res := runMonitor(t, New(Options{}), m, nil)
	if st := res.GetSteps()[1]; st.GetStatusCode() != 200 {
		t.Fatalf("status = %d, want 200: the server did not get the token", st.GetStatusCode())
	}
	assertNoSecret(t, res, secret)
	if got := res.GetSteps()[1].GetBodyExcerpt(); got != "hello Bearer [redacted]" {
		t.Errorf("body = %q", got)
	}
}

func assertNoSecret(t *testing.T, res *lookoutv1.RunResult, secrets ...string) {
	t.Helper()
	bin, err := proto.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	text, err := protojson.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		for name, b := range map[string][]byte{"binary": bin, "json": text} {
			if strings.Contains(string(b), s) {
				t.Errorf("%s result holds %q:\n%s", name, s, text)
			}
		}
	}
}

// TestHoldsStrings: the redaction walk skips only types that cannot hold a string anywhere, and a
// type met twice (Timings' six durations) or recursively (structpb) is judged right.
func TestHoldsStrings(t *testing.T) {
	for _, c := range []struct {
		m    proto.Message
		want bool
	}{
		{&durationpb.Duration{}, false},
		{&timestamppb.Timestamp{}, false},
		{&lookoutv1.Timings{}, false},
		{&lookoutv1.StepResult{}, true},
		{&lookoutv1.RunResult{}, true},
		{&lookoutv1.CertificateInfo{}, true},
		{&structpb.ListValue{}, true},
		{&structpb.Value{}, true},
	} {
		md := c.m.ProtoReflect().Descriptor()
		for range 2 { // computed, then remembered
			if got := holdsStrings(md); got != c.want {
				t.Errorf("holdsStrings(%s) = %v, want %v", md.FullName(), got, c.want)
			}
		}
	}
	// Two schemas that both name their message test.Node: in one a Node holds only numbers and
	// Nodes (recursive: judged as holding strings, erring toward the walk); in the other, only
	// numbers. Each is judged on its own.
	node := func(file string, recursive bool) protoreflect.MessageDescriptor {
		fields := []*descriptorpb.FieldDescriptorProto{{Name: proto.String("v"), Number: proto.Int32(1),
			Type: descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()}}
		if recursive {
			fields = append(fields, &descriptorpb.FieldDescriptorProto{Name: proto.String("children"), Number: proto.Int32(2),
				Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".test.Node"),
				Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()})
		}
		fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{Name: proto.String(file), Package: proto.String("test"),
			Syntax: proto.String("proto3"), MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Node"), Field: fields}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return fd.Messages().Get(0)
	}
	if !holdsStrings(node("recursive.proto", true)) {
		t.Error("a recursive type was judged to hold no strings: the walk could skip one")
	}
	if holdsStrings(node("flat.proto", false)) {
		t.Error("a type of numbers only, named like a recursive one, was judged to hold strings")
	}
}
