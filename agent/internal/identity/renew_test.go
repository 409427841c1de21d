package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/lookout-synthetics/lookout/internal/pki"
)

// issued is an identity holding a certificate the controller's CA issued now for ttl.
func issued(t *testing.T, ttl time.Duration) (*Identity, time.Time) {
	t.Helper()
	ca, _, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	der, err := ca.IssueAgentCertificate(csr, pki.Identity{AgentID: "ag_1", CheckpointID: "cp_1", Kind: "private"}, ttl)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Identity{Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}, at
}

// TestRenewDueCountsFromIssue: the controller backdates NotBefore; a certificate is due once two
// thirds of the span from its issue to its expiry have passed, whatever its lifetime.
func TestRenewDueCountsFromIssue(t *testing.T) {
	t.Parallel()
	for name, ttl := range map[string]time.Duration{"15 seconds": 15 * time.Second, "one day": 24 * time.Hour, "90 days": 90 * 24 * time.Hour} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			id, at := issued(t, ttl)
			for _, tc := range []struct {
				after time.Duration
				want  bool
			}{{0, false}, {ttl / 2, false}, {ttl*2/3 + time.Second, true}, {ttl + time.Second, true}} {
				due, notAfter, err := id.RenewDue(at.Add(tc.after))
				if err != nil {
					t.Fatal(err)
				}
				if due != tc.want {
					t.Errorf("%s after issue of a %s certificate (expires %s): due = %v, want %v", tc.after, ttl, notAfter.Format(time.TimeOnly), due, tc.want)
				}
			}
		})
	}
}

// TestRenewAtWithoutBackdate: a certificate shorter than the backdate, or not backdated at all,
// counts its lifetime from NotBefore.
func TestRenewAtWithoutBackdate(t *testing.T) {
	t.Parallel()
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{NotBefore: nb, NotAfter: nb.Add(3 * time.Minute)}
	if got, want := RenewAt(leaf), nb.Add(2*time.Minute); !got.Equal(want) {
		t.Errorf("RenewAt = %s, want %s", got, want)
	}
}
