package console_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestSessionsAndRefusals checks the console's contract (DESIGN §10) over plain HTTP against the
// real controller: what needs a session, the cookie, sign-out, and refused changes.
func TestSessionsAndRefusals(t *testing.T) {
	s := startSystem(t)
	s.c.MustCLI(t, "", "checkpoint", "token", "--name", "edge-1", "--kind", "public")
	s.applyMonitor(t, "api-a", "http://127.0.0.1:9/x", "edge-1")
	cl := client(t)

	t.Run("every page but /login and /healthz sends a stranger to /login", func(t *testing.T) {
		for _, path := range []string{"/", "/monitors/api-a", "/runs/run_x", "/checkpoints", "/vault", "/alerts", "/audit", "/events", "/nope"} {
			assertRedirect(t, mustDo(t, cl, http.MethodGet, s.url+path, nil), "/login")
		}
		assertRedirect(t, mustDo(t, cl, http.MethodPost, s.url+"/monitors/api-a/pause", url.Values{"csrf": {"x"}}), "/login")
		for _, path := range []string{"/login", "/healthz", "/static/style.css"} {
			get(t, cl, s.url+path, http.StatusOK)
		}
	})

	t.Run("a wrong token gets no session", func(t *testing.T) {
		resp := signIn(t, cl, s.url, "not-the-token")
		if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
			t.Fatalf("wrong token: status %d, cookies %v; want 401 and none", resp.StatusCode, resp.Cookies())
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("Content-Security-Policy is %q", csp)
		}
	})

	t.Run("sign-in sets an expiring HttpOnly SameSite=Strict cookie", func(t *testing.T) {
		resp := signIn(t, cl, s.url, s.token)
		assertRedirect(t, resp, "/")
		ck := sessionCookie(t, resp)
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge <= 0 || ck.Secure {
			t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, a Max-Age, and not Secure over plain HTTP", ck)
		}
		get(t, cl, s.url+"/audit", http.StatusOK)
	})

	t.Run("vault and checkpoints show metadata, never secrets", func(t *testing.T) {
		s.c.MustCLI(t, "s3cret-Passw0rd\n", "vault", "add-credentials", "--name", "api-user", "--username", "svc-orders", "--password-stdin")
		page := get(t, cl, s.url+"/vault", http.StatusOK)
		if !strings.Contains(page, "svc-orders") || strings.Contains(page, "s3cret-Passw0rd") {
			t.Errorf("the vault page should name the user and never show the password:\n%s", page)
		}
		if page := get(t, cl, s.url+"/checkpoints", http.StatusOK); !strings.Contains(page, "edge-1") {
			t.Errorf("the checkpoints page lacks edge-1:\n%s", page)
		}
	})

	t.Run("a change without the CSRF token is refused and changes nothing", func(t *testing.T) {
		for _, form := range []url.Values{{}, {"csrf": {"forged"}}} {
			if resp := mustDo(t, cl, http.MethodPost, s.url+"/monitors/api-a/pause", form); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("POST without a valid CSRF token: status %d, want 403", resp.StatusCode)
			}
		}
		if out := s.c.MustCLI(t, "", "monitor", "list"); strings.Contains(out, "paused") {
			t.Fatalf("a refused POST paused the monitor:\n%s", out)
		}
		assertRedirect(t, mustDo(t, cl, http.MethodPost, s.url+"/monitors/api-a/pause", url.Values{"csrf": {csrfOf(t, cl, s.url)}}), "/monitors/api-a")
		if out := s.c.MustCLI(t, "", "monitor", "list"); !strings.Contains(out, "paused") {
			t.Fatalf("pause with the CSRF token did not pause the monitor:\n%s", out)
		}
	})

	t.Run("sign-out ends the session", func(t *testing.T) {
		assertRedirect(t, mustDo(t, cl, http.MethodPost, s.url+"/logout", url.Values{"csrf": {csrfOf(t, cl, s.url)}}), "/login")
		assertRedirect(t, mustDo(t, cl, http.MethodGet, s.url+"/", nil), "/login")
	})

	if out := s.c.Output(); strings.Contains(out, s.token) || strings.Contains(out, "not-the-token") {
		t.Errorf("a token reached the controller's log:\n%s", out)
	}
}

// TestListenFlags: plain HTTP only on loopback, with a clear error; TLS gives a Secure cookie.
func TestListenFlags(t *testing.T) {
	bin, _ := testutil.Binaries(t)
	for name, args := range map[string][]string{
		"plain HTTP off loopback":     {"--http-listen", "0.0.0.0:0"},
		"certificate without key":     {"--http-listen", "127.0.0.1:0", "--http-cert-file", "c.pem"},
		"certificate without console": {"--http-cert-file", "c.pem", "--http-key-file", "k.pem"},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		out, err := exec.CommandContext(ctx, bin, append([]string{"serve", "--data-dir", t.TempDir(), "--grpc-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"}, args...)...).CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), "--http-") {
			t.Errorf("%s: serve %v: err %v, output %q; want a refusal naming the flags", name, args, err, out)
		}
	}

	ca := testutil.NewCA(t, "console CA")
	leaf := ca.Issue(t, "console", true)
	dir := t.TempDir()
	certFile, keyFile := leaf.WritePEM(t, dir, "console")
	s := startSystem(t, "--http-cert-file", certFile, "--http-key-file", keyFile)
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("console URL %s, want https", s.url)
	}
	cl := client(t)
	cl.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}
	if ck := sessionCookie(t, signIn(t, cl, s.url, s.token)); !ck.Secure {
		t.Fatalf("session cookie over TLS is not Secure: %+v", ck)
	}
}

func mustDo(t *testing.T, cl *http.Client, method, u string, form url.Values) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func assertRedirect(t *testing.T, resp *http.Response, to string) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != to {
		t.Fatalf("%s %s: status %d, Location %q; want 303 to %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, resp.Header.Get("Location"), to)
	}
}

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, ck := range resp.Cookies() {
		if ck.Name == "lookout_session" && ck.Value != "" {
			return ck
		}
	}
	t.Fatalf("no session cookie in %v", resp.Header["Set-Cookie"])
	return nil
}

// TestRevokedTokenEndsItsConsoleSession: a results:read API token made with `token create` signs
// in to the real controller's console; once `token revoke` has run, its session is gone at the
// next request, as its gRPC calls are.
func TestRevokedTokenEndsItsConsoleSession(t *testing.T) {
	s := startSystem(t)
	tok := strings.TrimSpace(s.c.MustCLI(t, "", "token", "create", "--name", "wallboard", "--scope", "results:read"))
	cl := client(t)
	assertRedirect(t, signIn(t, cl, s.url, tok), "/")
	get(t, cl, s.url+"/", http.StatusOK)
	get(t, cl, s.url+"/audit", http.StatusForbidden) // read-only, as the scope says
	get(t, cl, s.url+"/vault", http.StatusForbidden) // vault metadata is admin-only, over gRPC too

	s.c.MustCLI(t, "", "token", "revoke", "wallboard")
	assertRedirect(t, mustDo(t, cl, http.MethodGet, s.url+"/", nil), "/login")
	if resp := signIn(t, cl, s.url, tok); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("signing in again with the revoked token: status %d, want 401", resp.StatusCode)
	}
}
