package monitorfile

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

const examplesDir = "../../../deploy/examples"

// TestExamples parses every monitor file the dev command loads.
func TestExamples(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 2 {
		t.Fatalf("found %d monitor files in %s, want at least 2", len(paths), examplesDir)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse(%s):\n%v", path, err)
			}
			if got := m.GetVariables()["base"]; got != "https://127.0.0.1:8443" {
				t.Errorf("variable base = %q, want the written default https://127.0.0.1:8443", got)
			}
			checkRoundTrip(t, m)
		})
	}
}

// TestExamplesPlatformCertificateStaysPublic checks the policy the controller
// enforces on apply: a monitor using the platform certificate runs only from
// public checkpoints (the dev command's public one is public-1).
func TestExamplesPlatformCertificateStaysPublic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file        string
		checkpoints []string
		source      pb.CertificateSource
	}{
		{"partner-orders.yaml", []string{"public-1", "private-1"}, pb.CertificateSource_CERTIFICATE_SOURCE_VAULT},
		{"platform-health.yaml", []string{"public-1"}, pb.CertificateSource_CERTIFICATE_SOURCE_PLATFORM},
	} {
		data, err := os.ReadFile(filepath.Join(examplesDir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(data)
		if err != nil {
			t.Fatalf("Parse(%s):\n%v", tc.file, err)
		}
		if !slices.Equal(m.GetCheckpoints(), tc.checkpoints) {
			t.Errorf("%s: checkpoints = %v, want %v", tc.file, m.GetCheckpoints(), tc.checkpoints)
		}
		for i, s := range m.GetSteps() {
			if r := s.GetRequest(); r != nil && r.GetClientCertificate().GetSource() != tc.source {
				t.Errorf("%s: steps[%d] certificate source = %v, want %v", tc.file, i, r.GetClientCertificate().GetSource(), tc.source)
			}
		}
	}
}

// TestAuthExamples parses the authentication examples, which the dev command
// does not load, and checks each uses the auth type its file is named for.
func TestAuthExamples(t *testing.T) {
	t.Parallel()
	for file, want := range map[string]pb.AuthType{
		"digest.yaml": pb.AuthType_AUTH_TYPE_DIGEST,
		"ntlm.yaml":   pb.AuthType_AUTH_TYPE_NTLM,
		"oauth2.yaml": pb.AuthType_AUTH_TYPE_OAUTH2_CLIENT_CREDENTIALS,
	} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join(examplesDir, "auth", file))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse(%s):\n%v", file, err)
			}
			for i, s := range m.GetSteps() {
				if got := s.GetRequest().GetAuth().GetType(); got != want {
					t.Errorf("steps[%d] auth type = %v, want %v", i, got, want)
				}
			}
			checkRoundTrip(t, m)
		})
	}
}
