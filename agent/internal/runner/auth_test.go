package runner

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	//lint:ignore SA1019 NTLM is built on MD4: the test's NTLM server needs it.
	"golang.org/x/crypto/md4"
)

// digestServer is an RFC 7616 server for one user: it answers 401 with a
// challenge and accepts only a response whose hash it computes itself.
type digestServer struct {
	algorithm, user, password, realm string
	nonce                            string
	challenges, accepted             atomic.Int32
}

func (d *digestServer) hash(s string) string {
	var h hash.Hash = md5.New()
	if d.algorithm == "SHA-256" {
		h = sha256.New()
	}
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

func (d *digestServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := digestParams(r.Header.Get("Authorization"))
	if !ok || !d.valid(r, p) {
		d.challenges.Add(1)
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Digest realm=%q, qop="auth", algorithm=%s, nonce=%q, opaque="op-1"`,
			d.realm, d.algorithm, d.nonce))
		http.Error(w, "digest required", http.StatusUnauthorized)
		return
	}
	d.accepted.Add(1)
	fmt.Fprintf(w, "hello %s (nc=%s)", p["username"], p["nc"])
}

func (d *digestServer) valid(r *http.Request, p map[string]string) bool {
	if p["username"] != d.user || p["realm"] != d.realm || p["nonce"] != d.nonce || p["qop"] != "auth" ||
		p["uri"] != r.URL.RequestURI() || !strings.EqualFold(p["algorithm"], d.algorithm) || p["opaque"] != "op-1" {
		return false
	}
	ha1 := d.hash(d.user + ":" + d.realm + ":" + d.password)
	ha2 := d.hash(r.Method + ":" + p["uri"])
	want := d.hash(strings.Join([]string{ha1, d.nonce, p["nc"], p["cnonce"], "auth", ha2}, ":"))
	return hmac.Equal([]byte(want), []byte(p["response"]))
}

// digestParams parses `Digest k=v, k="v", …`.
func digestParams(header string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(header, "Digest ")
	if !ok {
		return nil, false
	}
	p := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimLeft(rest, ", ") {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			return nil, false
		}
		var value string
		if strings.HasPrefix(after, `"`) {
			end := strings.Index(after[1:], `"`)
			if end < 0 {
				return nil, false
			}
			value, rest = after[1:1+end], after[2+end:]
		} else {
			value, rest, _ = strings.Cut(after, ",")
		}
		p[strings.TrimSpace(key)] = strings.TrimSpace(value)
	}
	return p, true
}

func TestDigestAuth(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"MD5", "SHA-256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			const password = "d1gest-Pa55"
			ds := &digestServer{algorithm: alg, user: "api-user", password: password, realm: "lookout", nonce: "n-" + alg}
			srv := newServer(t, ds)
			step := func(name string) *lookoutv1.Step {
				s := get(name, srv.URL+"/private?x=1", statusIs("200"))
				s.Request.Method = "POST"
				s.Request.Body = `{"a":1}`
				s.Request.Auth = &lookoutv1.Auth{Type: lookoutv1.AuthType_AUTH_TYPE_DIGEST, Credentials: "api"}
				return s
			}
			secrets := &Secrets{Credentials: map[string]Credential{"api": {Username: "api-user", Password: password}}}
			res := runMonitor(t, New(Options{}), monitor(step("one"), step("two")), secrets)
			want := []stepBrief{{Name: "one", Passed: true, Status: 200, Attempts: 1}, {Name: "two", Passed: true, Status: 200, Attempts: 1}}
			if diff := cmp.Diff(briefs(res), want); diff != "" {
				t.Fatalf("steps (-got +want):\n%s", diff)
			}
			// The second step reuses the challenge: no second 401, nonce count 2.
			if got := []int32{ds.challenges.Load(), ds.accepted.Load()}; !cmp.Equal(got, []int32{1, 2}) {
				t.Errorf("challenges, accepted = %v, want [1 2]", got)
			}
			if got := res.GetSteps()[1].GetBodyExcerpt(); got != "hello api-user (nc=00000002)" {
				t.Errorf("second step body = %q", got)
			}
			assertNoSecret(t, res, password)
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		ds := &digestServer{algorithm: "SHA-256", user: "api-user", password: "right", realm: "lookout", nonce: "n"}
		srv := newServer(t, ds)
		step := get("s", srv.URL, statusIs("200"))
		step.Request.Auth = &lookoutv1.Auth{Type: lookoutv1.AuthType_AUTH_TYPE_DIGEST, Credentials: "api"}
		res := runMonitor(t, New(Options{}), monitor(step),
			&Secrets{Credentials: map[string]Credential{"api": {Username: "api-user", Password: "wrong-one"}}})
		want := []stepBrief{{Name: "s", Status: 401, Attempts: 1, Class: lookoutv1.ErrorClass_ERROR_CLASS_ASSERTION,
			Error: "expected status 200, got 401"}}
		if diff := cmp.Diff(briefs(res), want); diff != "" {
			t.Errorf("steps (-got +want):\n%s", diff)
		}
		assertNoSecret(t, res, "wrong-one")
	})
}

// ntlmServer is a minimal NTLMv2 acceptor: it answers a NEGOTIATE with a
// CHALLENGE and checks the AUTHENTICATE message's NTProofStr against the
// password, on the same connection, as IIS does.
type ntlmServer struct {
	user, domain, password string
	mu                     sync.Mutex
	challenges             map[string][]byte // by connection (remote address)
	seen                   []string          // "DOMAIN\user" of each AUTHENTICATE
	negotiates             atomic.Int32
}

func (n *ntlmServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	msg, ok := ntlmMessage(r.Header.Get("Authorization"))
	switch {
	case ok && len(msg) >= 12 && binary.LittleEndian.Uint32(msg[8:]) == 1:
		n.negotiates.Add(1)
		challenge := make([]byte, 8)
		rand.Read(challenge)
		n.mu.Lock()
		n.challenges[r.RemoteAddr] = challenge
		n.mu.Unlock()
		w.Header().Set("WWW-Authenticate", "NTLM "+base64.StdEncoding.EncodeToString(ntlmChallenge(challenge)))
		w.WriteHeader(http.StatusUnauthorized)
	case ok && len(msg) >= 12 && binary.LittleEndian.Uint32(msg[8:]) == 3 && n.authenticate(r.RemoteAddr, msg):
		fmt.Fprint(w, "welcome")
	default:
		w.Header().Set("WWW-Authenticate", "NTLM")
		w.WriteHeader(http.StatusUnauthorized)
	}
}

// ntlmChallenge builds a CHALLENGE message (type 2) with Unicode, NTLM,
// extended session security and an empty target info list.
func ntlmChallenge(serverChallenge []byte) []byte {
	const flags = 0x00000001 | 0x00000200 | 0x00080000 | 0x00800000
	targetInfo := []byte{0, 0, 0, 0} // MsvAvEOL
	m := make([]byte, 48, 48+len(targetInfo))
	copy(m, "NTLMSSP\x00")
	binary.LittleEndian.PutUint32(m[8:], 2)
	binary.LittleEndian.PutUint32(m[16:], 48) // empty target name at the end of the header
	binary.LittleEndian.PutUint32(m[20:], flags)
	copy(m[24:32], serverChallenge)
	binary.LittleEndian.PutUint16(m[40:], uint16(len(targetInfo)))
	binary.LittleEndian.PutUint16(m[42:], uint16(len(targetInfo)))
	binary.LittleEndian.PutUint32(m[44:], 48)
	return append(m, targetInfo...)
}

func (n *ntlmServer) authenticate(conn string, msg []byte) bool {
	n.mu.Lock()
	challenge := n.challenges[conn]
	delete(n.challenges, conn)
	n.mu.Unlock()
	ntResponse, ok1 := ntlmField(msg, 20)
	domain, ok2 := ntlmField(msg, 28)
	user, ok3 := ntlmField(msg, 36)
	if challenge == nil || !ok1 || !ok2 || !ok3 || len(ntResponse) < 16 {
		return false
	}
	n.mu.Lock()
	n.seen = append(n.seen, fromUTF16(domain)+`\`+fromUTF16(user))
	n.mu.Unlock()
	h := md4.New()
	h.Write(toUTF16(n.password))
	v2 := hmacMD5(h.Sum(nil), toUTF16(strings.ToUpper(n.user)+n.domain))
	proof := hmacMD5(v2, challenge, ntResponse[16:])
	return fromUTF16(user) == n.user && fromUTF16(domain) == n.domain && hmac.Equal(proof, ntResponse[:16])
}

func ntlmMessage(header string) ([]byte, bool) {
	token, ok := strings.CutPrefix(header, "NTLM ")
	if !ok {
		return nil, false
	}
	msg, err := base64.StdEncoding.DecodeString(token)
	return msg, err == nil && bytes.HasPrefix(msg, []byte("NTLMSSP\x00"))
}

// ntlmField reads the security buffer whose descriptor starts at off.
func ntlmField(msg []byte, off int) ([]byte, bool) {
	if len(msg) < off+8 {
		return nil, false
	}
	l := int(binary.LittleEndian.Uint16(msg[off:]))
	start := int(binary.LittleEndian.Uint32(msg[off+4:]))
	if start+l > len(msg) {
		return nil, false
	}
	return msg[start : start+l], true
}

func hmacMD5(key []byte, data ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

func toUTF16(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

func fromUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func TestNTLMAuth(t *testing.T) {
	t.Parallel()
	const password = "Ntlm-Pa55word!"
	ns := &ntlmServer{user: "svc-monitor", domain: "CORP", password: password, challenges: map[string][]byte{}}
	srv := newServer(t, ns)
	step := func(name, cred string) *lookoutv1.Step {
		s := get(name, srv.URL+"/intranet", statusIs("200"))
		s.Request.Method = "PUT"
		s.Request.Body = "payload"
		s.Request.Auth = &lookoutv1.Auth{Type: lookoutv1.AuthType_AUTH_TYPE_NTLM, Credentials: cred}
		return s
	}
	secrets := &Secrets{Credentials: map[string]Credential{
		"ntlm":  {Username: `CORP\svc-monitor`, Password: password},
		"wrong": {Username: `CORP\svc-monitor`, Password: "not-it"},
	}}
	res := runMonitor(t, New(Options{}), monitor(step("intranet", "ntlm"), step("again", "wrong")), secrets)
	want := []stepBrief{
		{Name: "intranet", Passed: true, Status: 200, Attempts: 1},
		{Name: "again", Status: 401, Attempts: 1, Class: lookoutv1.ErrorClass_ERROR_CLASS_ASSERTION, Error: "expected status 200, got 401"},
	}
	if diff := cmp.Diff(briefs(res), want); diff != "" {
		t.Errorf("steps (-got +want):\n%s", diff)
	}
	ns.mu.Lock()
	seen := ns.seen
	ns.mu.Unlock()
	if diff := cmp.Diff(seen, []string{`CORP\svc-monitor`, `CORP\svc-monitor`}); diff != "" {
		t.Errorf("AUTHENTICATE identities (-got +want):\n%s", diff)
	}
	if got := ns.negotiates.Load(); got != 2 {
		t.Errorf("NEGOTIATE messages = %d, want one per step", got)
	}
	for _, st := range res.GetSteps() {
		for _, h := range st.GetRequestHeaders() {
			if strings.EqualFold(h.GetName(), "Authorization") {
				t.Errorf("step %q records an Authorization header %q", st.GetName(), h.GetValue())
			}
		}
	}
	assertNoSecret(t, res, password, "not-it")
}

// tokenServer is an OAuth2 token endpoint (client credentials, client
// authentication by basic auth) plus an API that accepts its tokens.
type tokenServer struct {
	clientID, secret string
	requests         atomic.Int32
	lastScope        atomic.Value
}

func (ts *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/token":
		ts.requests.Add(1)
		id, secret, ok := r.BasicAuth()
		if r.Method != http.MethodPost || r.PostFormValue("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if !ok || id != ts.clientID || secret != ts.secret {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"unknown client"}`)
			return
		}
		ts.lastScope.Store(r.PostFormValue("scope"))
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at-" + ts.secret + "-xyz", "token_type": "Bearer", "expires_in": 3600})
	default:
		if r.Header.Get("Authorization") != "Bearer at-"+ts.secret+"-xyz" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "token %s", r.Header.Get("Authorization"))
	}
}

func TestOAuth2ClientCredentials(t *testing.T) {
	t.Parallel()
	const secret = "cl1ent-S3cret"
	ts := &tokenServer{clientID: "lookout-client", secret: secret}
	srv := newServer(t, ts)
	oauth := func(name, cred string) *lookoutv1.Step {
		s := get(name, srv.URL+"/api/"+name, statusIs("200"))
		s.Request.Auth = &lookoutv1.Auth{Type: lookoutv1.AuthType_AUTH_TYPE_OAUTH2_CLIENT_CREDENTIALS, Credentials: cred,
			TokenUrl: "{{base}}/token", Scopes: []string{"orders.read", "orders.write"}}
		return s
	}
	secrets := &Secrets{Credentials: map[string]Credential{
		"client": {Username: "lookout-client", Password: secret},
		"bad":    {Username: "lookout-client", Password: "bad-secret"},
	}}
	t.Run("token cached for the run", func(t *testing.T) {
		m := monitor(oauth("one", "client"), oauth("two", "client"))
		m.Variables = map[string]string{"base": srv.URL}
		res := runMonitor(t, New(Options{}), m, secrets)
		want := []stepBrief{{Name: "one", Passed: true, Status: 200, Attempts: 1}, {Name: "two", Passed: true, Status: 200, Attempts: 1}}
		if diff := cmp.Diff(briefs(res), want); diff != "" {
			t.Fatalf("steps (-got +want):\n%s", diff)
		}
		if n := ts.requests.Load(); n != 1 {
			t.Errorf("token requests = %d, want 1 for two steps", n)
		}
		if got := ts.lastScope.Load(); got != "orders.read orders.write" {
			t.Errorf("scope = %v", got)
		}
		if got := res.GetSteps()[1].GetBodyExcerpt(); got != "token Bearer [redacted]" {
			t.Errorf("body = %q, want the token redacted", got)
		}
		assertNoSecret(t, res, secret, "at-"+secret+"-xyz")
	})
	t.Run("refused by the token endpoint", func(t *testing.T) {
		m := monitor(oauth("one", "bad"))
		m.Variables = map[string]string{"base": srv.URL}
		res := runMonitor(t, New(Options{}), m, secrets)
		want := []stepBrief{{Name: "one", Attempts: 1, Class: lookoutv1.ErrorClass_ERROR_CLASS_HTTP,
			Error: "OAuth2 token request to " + srv.URL + "/token failed: status 401 Unauthorized: invalid_client (unknown client)"}}
		if diff := cmp.Diff(briefs(res), want); diff != "" {
			t.Errorf("steps (-got +want):\n%s", diff)
		}
		assertNoSecret(t, res, "bad-secret")
	})
	t.Run("configuration errors", func(t *testing.T) {
		missing := oauth("no-cred", "absent")
		noVar := oauth("no-var", "client") // {{base}} is not defined
		res := runMonitor(t, New(Options{}), monitor(missing), secrets)
		res2 := runMonitor(t, New(Options{}), monitor(noVar), secrets)
		got := append(briefs(res), briefs(res2)...)
		want := []stepBrief{
			{Name: "no-cred", Attempts: 1, Class: lookoutv1.ErrorClass_ERROR_CLASS_SECRET, Error: `credential set "absent" was not provided for this run`},
			{Name: "no-var", Attempts: 1, Class: lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE, Error: `variable "base" is not defined`},
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("steps (-got +want):\n%s", diff)
		}
	})
}

// TestAuthNotSentToOtherHosts follows a redirect from the authenticated host
// to another one: the second host gets no digest answer.
func TestAuthNotSentToOtherHosts(t *testing.T) {
	t.Parallel()
	var otherAuth atomic.Value
	other := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherAuth.Store(r.Header.Get("Authorization"))
		w.Header().Set("WWW-Authenticate", `Digest realm="other", qop="auth", nonce="x"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	ds := &digestServer{algorithm: "MD5", user: "u", password: "p4ss", realm: "r", nonce: "n"}
	first := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/go" {
			http.Redirect(w, r, other.URL+"/elsewhere", http.StatusFound)
			return
		}
		ds.ServeHTTP(w, r)
	}))
	step := get("s", first.URL+"/go", statusIs("401"))
	step.Request.Auth = &lookoutv1.Auth{Type: lookoutv1.AuthType_AUTH_TYPE_DIGEST, Credentials: "c"}
	res := runMonitor(t, New(Options{}), monitor(step), &Secrets{Credentials: map[string]Credential{"c": {Username: "u", Password: "p4ss"}}})
	if st := res.GetSteps()[0]; st.GetStatusCode() != 401 {
		t.Fatalf("status = %d (%s), want the other host's 401", st.GetStatusCode(), st.GetError())
	}
	if got := otherAuth.Load(); got != "" {
		t.Errorf("the other host got Authorization %q", got)
	}
}
