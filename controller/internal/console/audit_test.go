package console_test

import (
	"encoding/json"
	"fmt"
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
	unknown := map[string]int{} // refusals per source and target, merged counts included
	for _, e := range entries {
		b, _ := json.Marshal(e)
		for _, tok := range append(slices.Clone(wrong), gone) {
			if strings.Contains(string(b), tok) {
				t.Errorf("audit entry %s holds a token that was tried", b)
			}
		}
		if e.Action != "denied_token" {
			continue
		}
		// Refusals merge per source within the limiter's interval; a slow machine may split the
		// three unknown tokens over two intervals, so they are counted, not matched entry by entry.
		var n int
		if _, err := fmt.Sscanf(e.Detail, "%d more refused", &n); err == nil {
			unknown[e.Actor+" | "+e.Target] += n
			continue
		}
		unknown[e.Actor+" | "+e.Target]++
		got = append(got, e.Actor+" | "+e.Target+" | "+e.Detail)
	}
	want := []string{
		"unknown token from 127.0.0.1 | console sign-in | admin token is not valid for this controller, nor is it a valid API token (check --token-file)",
		"token:gone from 127.0.0.1 | console sign-in | token has been revoked: ask an administrator for a new one (`token create`)",
		"no token from 127.0.0.1 | console sign-in | no token",
	}
	// Only the first refusal of a source in an interval is an entry of its own; a split over two
	// intervals writes the unknown tokens' first entry again.
	all := slices.Clone(got)
	got = slices.Compact(slices.Sorted(slices.Values(got)))
	slices.Sort(want)
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("denied_token entries (-got +want):\n%s", d)
	}
	wantCounts := map[string]int{"unknown token from 127.0.0.1 | console sign-in": 3, "token:gone from 127.0.0.1 | console sign-in": 1, "no token from 127.0.0.1 | console sign-in": 1}
	if d := cmp.Diff(unknown, wantCounts); d != "" {
		t.Errorf("refused sign-ins counted per source (-got +want):\n%s", d)
	}
	if own := len(slices.DeleteFunc(slices.Clone(all), func(s string) bool { return !strings.HasPrefix(s, "unknown token") })); own > 2 {
		t.Errorf("the 3 unknown tokens wrote %d entries of their own, want them merged (at most one per interval, two intervals)", own)
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
