package monitorfile

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// indent prefixes every line of s with n spaces, for a YAML literal block.
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad) + "\n"
}

func TestParseCABundle(t *testing.T) {
	t.Parallel()
	caPEM := string(testutil.NewCA(t, "partner CA").PEM())
	file := "name: partner\ncheckpoints: [private-1]\nsteps:\n  - request:\n      url: https://partner.example.com/\n" +
		"      tls:\n        ca_bundle: |\n" + indent(caPEM, 10)
	got, err := Parse([]byte(file))
	if err != nil {
		t.Fatalf("Parse() error:\n%v", err)
	}
	if b := got.GetSteps()[0].GetRequest().GetTls().GetCaBundle(); b != caPEM {
		t.Errorf("ca_bundle = %q, want the PEM as written", b)
	}
	want := &pb.Monitor{Name: "x", Interval: dur(time.Minute), Timeout: dur(30 * time.Second), Checkpoints: []string{"a"}, Steps: []*pb.Step{{Name: "s", Request: &pb.HttpRequest{
		Method: "GET", Url: "https://partner.example.com/",
		Tls: &pb.TlsOptions{CaBundle: caPEM, ServerName: "partner.internal"}}}}}
	checkRoundTrip(t, want)
}

func TestParseCABundleErrors(t *testing.T) {
	t.Parallel()
	const head = "name: x\ncheckpoints: [a]\nsteps:\n  - request:\n      url: https://example.com/\n"
	tests := map[string]struct {
		lines string
		want  []string
	}{
		"no certificate": {"      tls: {ca_bundle: not a certificate}\n", []string{
			"steps[0].request.tls.ca_bundle: holds no certificate: give PEM text with -----BEGIN CERTIFICATE----- blocks (line 6)"}},
		"a list": {"      tls: {ca_bundle: [a, b]}\n", nil},
		"a private key": {"      tls:\n        ca_bundle: |\n          -----BEGIN PRIVATE KEY-----\n          AAAA\n          -----END PRIVATE KEY-----\n", []string{
			"steps[0].request.tls.ca_bundle: PEM block 1 is a PRIVATE KEY: a CA bundle holds certificates only; remove the key (and treat it as exposed) (line 7)"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := Parse([]byte(head + tc.lines))
			var fe pb.FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("Parse() = %v, %v; want FieldErrors", m, err)
			}
			if tc.want == nil {
				if !strings.Contains(err.Error(), "steps[0].request.tls.ca_bundle") {
					t.Errorf("error does not name the field: %v", err)
				}
				return
			}
			if diff := cmp.Diff(strings.Split(err.Error(), "\n"), tc.want); diff != "" {
				t.Errorf("Parse() errors (-got +want):\n%s", diff)
			}
			if strings.Contains(err.Error(), "AAAA") {
				t.Errorf("the error quotes the bundle: %v", err)
			}
		})
	}
}
