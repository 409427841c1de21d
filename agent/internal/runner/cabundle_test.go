package runner

import (
	"encoding/pem"
	"strings"
	"testing"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func (ca *testCA) pem() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))
}

// TestCABundle runs steps against a server whose CA only a step's bundle
// holds. The steps alternate bundles within one run, so a step that reused a
// connection verified under another step's bundle would pass where it must
// fail: connections are keyed by the bundle.
func TestCABundle(t *testing.T) {
	t.Parallel()
	agentCA, privateCA, otherCA := newCA(t), newCA(t), newCA(t)
	private := newTLSServer(t, privateCA, false, echoTLS)
	public := newTLSServer(t, agentCA, false, echoTLS)
	withBundle := func(name, url, bundle string) *lookoutv1.Step {
		s := get(name, url, statusIs("200"))
		s.Request.Tls = &lookoutv1.TlsOptions{CaBundle: bundle}
		return s
	}
	tlsClass := lookoutv1.ErrorClass_ERROR_CLASS_TLS
	r := New(Options{RootCAs: agentCA.pool})
	// A failed step ends its run, so each run ends with its failing step,
	// after steps that left verified connections to the same server.
	runs := []struct {
		steps []*lookoutv1.Step
		want  []stepBrief
	}{
		{[]*lookoutv1.Step{
			withBundle("bundle", private.URL, "# partner CA\n"+privateCA.pem()),
			withBundle("bundle again", private.URL, privateCA.pem()+otherCA.pem()),
			withBundle("agent roots kept", public.URL, privateCA.pem()),
			withBundle("none", private.URL, ""),
		}, []stepBrief{{Name: "bundle", Passed: true}, {Name: "bundle again", Passed: true},
			{Name: "agent roots kept", Passed: true}, {Name: "none", Class: tlsClass}}},
		{[]*lookoutv1.Step{
			withBundle("bundle", private.URL, privateCA.pem()),
			withBundle("other bundle", private.URL, otherCA.pem()),
		}, []stepBrief{{Name: "bundle", Passed: true}, {Name: "other bundle", Class: tlsClass}}},
		{[]*lookoutv1.Step{
			withBundle("not PEM", private.URL, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		}, []stepBrief{{Name: "not PEM", Class: tlsClass}}},
	}
	var results []*lookoutv1.RunResult
	for _, run := range runs {
		res := runMonitor(t, r, &lookoutv1.Monitor{Name: "m", Steps: run.steps}, nil)
		results = append(results, res)
		got := briefs(res)
		if len(got) != len(run.want) {
			t.Fatalf("got %d step results, want %d: %+v", len(got), len(run.want), got)
		}
		for i, w := range run.want {
			if g := got[i]; g.Name != w.Name || g.Passed != w.Passed || g.Class != w.Class {
				t.Errorf("step %q: got %+v, want passed %v class %v (error %q)", w.Name, g, w.Passed, w.Class, res.Steps[i].GetError())
			}
		}
	}
	if e := results[0].Steps[3].GetError(); !strings.Contains(e, "certificate") {
		t.Errorf("the step without the bundle says %q; want a certificate verification error", e)
	}
	const notPEM = "tls.ca_bundle: PEM block 1 is a PRIVATE KEY: a CA bundle holds certificates only; remove the key (and treat it as exposed)"
	if e := results[2].Steps[0].GetError(); e != notPEM {
		t.Errorf("error %q, want %q", e, notPEM)
	}
}
