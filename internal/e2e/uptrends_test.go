package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

const uptrendsPassword = "pa55-inline-XQ"

// partnerAPI wants basic credentials for a token, then that token and the
// region for the orders, and says which client certificate it saw.
func partnerAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "api-user" || p != uptrendsPassword {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"access_token":"tok-123"}`)
	})
	mux.HandleFunc("GET /orders", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-123" || r.URL.Query().Get("region") != "eu-west" {
			http.Error(w, "no token or region", http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, `{"items":[{"id":"A1","Price":5}],"client":%q}`, r.TLS.PeerCertificates[0].Subject.CommonName)
	})
	return mux
}

// uptrendsMonitor is a current-generation Uptrends export: steps in the
// MultiStepApiTransactionScript string, an inline password, the platform
// certificate, a constant and an extracted variable.
func uptrendsMonitor(t *testing.T, base, wantID string) []byte {
	t.Helper()
	script := map[string]any{
		"Version":             2,
		"PredefinedVariables": []map[string]string{{"Key": "base", "Value": base}},
		"MsaSteps": []map[string]any{
			{"StepType": "HttpRequest", "Name": "Get token", "Url": "{{base}}/token", "Method": "POST", "BodyType": "Raw", "Body": "{}",
				"Authentication":            map[string]string{"AuthenticationType": "Basic", "UserName": "api-user", "Password": uptrendsPassword},
				"UseFixedClientCertificate": true,
				"Variables": []map[string]string{
					{"Source": "ResponseBodyJson", "Property": "access_token", "Name": "token"},
					{"Source": "Constant", "Property": "eu-west", "Name": "region"}},
				"Assertions": []map[string]string{{"Source": "ResponseStatusCode", "Comparison": "Equal", "TargetValue": "200"}}},
			{"StepType": "Delay", "Name": "Breathe", "Delay": 10},
			{"StepType": "HttpRequest", "Name": "Orders", "Url": "{{base}}/orders?region={{region}}", "Method": "GET",
				"RequestHeaders":            []map[string]string{{"Key": "Authorization", "Value": "Bearer {{token}}"}},
				"UseFixedClientCertificate": true,
				"Assertions": []map[string]string{
					{"Source": "ResponseStatusCode", "Comparison": "Equal", "TargetValue": "200"},
					{"Source": "ResponseBodyJson", "Property": "items[0].id", "Comparison": "Equal", "TargetValue": wantID},
					{"Source": "ResponseBodyJson", "Property": "items[0].Price", "Comparison": "GreaterThan", "TargetValue": "1"},
					{"Source": "ResponseBodyJson", "Property": "client", "Comparison": "ContainsText", "TargetValue": "platform-client"},
					{"Source": "ResponseStatusDescription", "Comparison": "Equal", "TargetValue": "OK"}}},
		},
	}
	sb, err := json.Marshal(script)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{"Name": "partner-orders", "MonitorType": "MultiStepApi", "CheckInterval": 60, "IsActive": true,
		"SelectedCheckpoints": map[string]any{"Checkpoints": []int{1}}, "MultiStepApiTransactionScript": string(sb)}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUptrendsImportThenRun imports an Uptrends monitor with the CLI and runs
// it against a local mTLS API: the inline password goes to the vault, the
// platform certificate is used on the public checkpoint and refused on the
// private one, assertions are evaluated and variables carried between steps.
func TestUptrendsImportThenRun(t *testing.T) {
	s := startSystemWith(t, partnerAPI())
	file := testutil.WriteFile(t, s.dir, "uptrends.json", uptrendsMonitor(t, s.target, "a1"))

	t.Run("dry run prints the monitor and stores nothing", func(t *testing.T) {
		r := s.c.CLI(t, "", "monitor", "apply", "--format", "uptrends", "-f", file, "--dry-run")
		if r.Code != 0 {
			t.Fatalf("dry run: exit %d\n%s", r.Code, r.Stderr)
		}
		for _, w := range []string{"name: partner-orders", "source: platform", "credentials: partner-orders-Get-token", "checkpoints: [public-1]"} {
			if !strings.Contains(r.Stdout, w) {
				t.Errorf("dry-run YAML lacks %q:\n%s", w, r.Stdout)
			}
		}
		for _, w := range []string{"would store the inline credentials", "MultiStepApiTransactionScript.MsaSteps[2].Assertions[4]: not imported", "nothing was stored"} {
			if !strings.Contains(r.Stderr, w) {
				t.Errorf("dry-run stderr lacks %q:\n%s", w, r.Stderr)
			}
		}
		if strings.Contains(r.Stdout+r.Stderr, uptrendsPassword) {
			t.Errorf("the dry run printed the inline password")
		}
		if list := s.c.MustCLI(t, "", "vault", "list"); strings.Contains(list, "partner-orders") {
			t.Errorf("the dry run stored credentials:\n%s", list)
		}
	})

	t.Run("import and run on the public checkpoint", func(t *testing.T) {
		r := s.c.CLI(t, "", "monitor", "apply", "--format", "uptrends", "-f", file, "--checkpoint-map", "1=public-1")
		if r.Code != 0 || !strings.Contains(r.Stdout, "monitor partner-orders created") || !strings.Contains(r.Stderr, "as vault credential set partner-orders-Get-token") {
			t.Fatalf("import: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
		res, code := s.run(t, "partner-orders", "public-1")
		if code != 0 || res.Outcome != pb.Outcome_OUTCOME_PASSED {
			t.Fatalf("run: exit %d outcome %v: %s", code, res.Outcome, res.Message)
		}
		if n := len(res.Steps[2].Assertions); n != 4 {
			t.Errorf("orders step evaluated %d assertions, want 4", n)
		}
		if got := res.Steps[2].ClientCertificate.GetSubject(); !strings.Contains(got, "platform-client") {
			t.Errorf("orders step used client certificate %q, want the platform certificate", got)
		}
	})

	t.Run("a failing assertion fails the run", func(t *testing.T) {
		bad := strings.Replace(string(uptrendsMonitor(t, s.target, "zz9")), `partner-orders`, `partner-orders-bad`, 1)
		s.c.MustCLI(t, "", "monitor", "apply", "--format", "uptrends", "-f", testutil.WriteFile(t, s.dir, "bad.json", []byte(bad)),
			"--checkpoint-map", "1=public-1", "--bind", "Get token=partner-orders-Get-token")
		res, code := s.run(t, "partner-orders-bad", "public-1")
		if code == 0 || res.Outcome != pb.Outcome_OUTCOME_FAILED || !strings.Contains(res.Message, "zz9") {
			t.Errorf("run: exit %d outcome %v message %q, want a failed assertion naming zz9", code, res.Outcome, res.Message)
		}
	})

	t.Run("the platform certificate is refused on the private checkpoint", func(t *testing.T) {
		r := s.c.CLI(t, "", "monitor", "apply", "--format", "uptrends", "-f", file, "--checkpoint-map", "1=private-1")
		if r.Code == 0 || !strings.Contains(r.Stderr, "platform certificate cannot be used on private checkpoint") {
			t.Fatalf("import on private-1: exit %d\n%s", r.Code, r.Stderr)
		}
	})

	t.Run("export round-trips", func(t *testing.T) {
		out := s.c.MustCLI(t, "", "monitor", "show", "partner-orders", "--format", "uptrends", "--checkpoint-map", "1=public-1")
		if !strings.Contains(out, `UserName\": \"api-user`) || strings.Contains(out, uptrendsPassword) {
			t.Errorf("export should name the user and never the password:\n%s", out)
		}
		back := s.c.MustCLI(t, "", "monitor", "apply", "--format", "uptrends", "-f", testutil.WriteFile(t, s.dir, "back.json", []byte(out)), "--checkpoint-map", "1=public-1")
		if !strings.Contains(back, "monitor partner-orders unchanged") {
			t.Errorf("re-importing the export changed the monitor: %s", back)
		}
	})
}
