package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
)

// TestConsoleActionsAreAuditedAsTheSignedInToken: what a session does through the admin backend is
// audited under the token it signed in with, as that token's gRPC calls are: an API token named
// ops as token:ops, the bootstrap admin token as admin.
func TestConsoleActionsAreAuditedAsTheSignedInToken(t *testing.T) {
	s := startSystem(t)
	s.c.MustCLI(t, "", "checkpoint", "token", "--name", "edge-1", "--kind", "public")
	s.applyMonitor(t, "api-a", "http://127.0.0.1:9/x", "edge-1")
	ops := strings.TrimSpace(s.c.MustCLI(t, "", "token", "create", "--name", "ops", "--scope", "admin"))

	opsCl, adminCl := client(t), client(t)
	assertRedirect(t, signIn(t, opsCl, s.url, ops), "/")
	assertRedirect(t, signIn(t, adminCl, s.url, s.token), "/")
	post := func(cl *http.Client, action string, form url.Values) {
		t.Helper()
		form.Set("csrf", csrfOf(t, cl, s.url))
		assertRedirect(t, mustDo(t, cl, http.MethodPost, s.url+"/monitors/api-a/"+action, form), "/monitors/api-a")
	}
	post(opsCl, "pause", url.Values{})
	post(opsCl, "mute", url.Values{"for": {"1h"}})
	post(adminCl, "resume", url.Values{})

	got := map[string]string{}
	for _, e := range auditEntries(t, s) {
		if e.Target == "api-a" {
			got[e.Action] = e.Actor
		}
	}
	want := map[string]string{"monitor_apply": "admin", "monitor_pause": "token:ops", "monitor_mute": "token:ops", "monitor_resume": "admin"}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("actors of the console's actions on api-a (-got +want):\n%s", d)
	}
}

// TestRefusedSignInsAreAuditedMergedAndWithoutTheToken: refused console sign-ins are audited as
// refused gRPC calls are (denied_token, named by source, merged per source), and no entry holds a
// token that was tried.
func TestRefusedSignInsAreAuditedMergedAndWithoutTheToken(t *testing.T) {
	s := startSystem(t)
	gone := strings.TrimSpace(s.c.MustCLI(t, "", "token", "create", "--name", "gone", "--scope", "admin"))
	s.c.MustCLI(t, "", "token", "revoke", "gone")
	wrong := []string{"guess-one-Zq81", "lkt_" + strings.Repeat("7", 64), s.token + "x"}

	cl := client(t)
	for _, tok := range append(slices.Clone(wrong), gone, "") {
		if resp := signIn(t, cl, s.url, tok); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("signing in with a wrong token: status %d, want 401", resp.StatusCode)
		}
	}
	// Stopping the controller writes what its limiter merged since the first refusal of each source.
	s.c.Stop()
	st, err := store.Open(s.c.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.AuditLog()
	if err != nil {
		t.Fatal(err)
	}

	var got []string
	for _, e := range entries {
		b, _ := json.Marshal(e)
		for _, tok := range append(slices.Clone(wrong), gone) {
			if strings.Contains(string(b), tok) {
				t.Errorf("audit entry %s holds a token that was tried", b)
			}
		}
		if e.Action == "denied_token" {
			detail, _, _ := strings.Cut(e.Detail, " since ") // a merged entry's count, without its time
			got = append(got, e.Actor+" | "+e.Target+" | "+detail)
		}
	}
	want := []string{
		"unknown token from 127.0.0.1 | console sign-in | admin token is not valid for this controller, nor is it a valid API token (check --token-file)",
		"unknown token from 127.0.0.1 | console sign-in | 2 more refused",
		"token:gone from 127.0.0.1 | console sign-in | token has been revoked: ask an administrator for a new one (`token create`)",
		"no token from 127.0.0.1 | console sign-in | no token",
	}
	slices.Sort(got)
	slices.Sort(want)
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("denied_token entries (-got +want):\n%s", d)
	}
}

type auditEntry struct{ Actor, Action, Target, Detail string }

// auditEntries reads the whole audit log with `audit -o json`.
func auditEntries(t *testing.T, s *system) []auditEntry {
	t.Helper()
	var resp struct{ Entries []auditEntry }
	if err := json.Unmarshal([]byte(s.c.MustCLI(t, "", "audit", "-o", "json", "--limit", "10000")), &resp); err != nil {
		t.Fatalf("reading `audit -o json`: %v", err)
	}
	return resp.Entries
}
