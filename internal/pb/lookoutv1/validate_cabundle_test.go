package lookoutv1

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
)

// selfSignedPEM makes a throwaway CA certificate and its key, both as PEM.
func selfSignedPEM(t testing.TB) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bundle test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

func TestValidateCABundle(t *testing.T) {
	cert, key := selfSignedPEM(t)
	broken := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})
	cases := map[string]struct {
		bundle string
		want   []string
	}{
		"one certificate":               {cert, nil},
		"two certificates and comments": {"# partner CA\n" + cert + "\n# again\n" + cert, nil},
		"no PEM at all": {"hello", []string{
			"steps[0].request.tls.ca_bundle: holds no certificate: give PEM text with -----BEGIN CERTIFICATE----- blocks"}},
		"a private key": {cert + key, []string{
			"steps[0].request.tls.ca_bundle: PEM block 2 is a PRIVATE KEY: a CA bundle holds certificates only; remove the key (and treat it as exposed)"}},
		"another block": {"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", []string{
			"steps[0].request.tls.ca_bundle: PEM block 1 is a X509 CRL, not a CERTIFICATE"}},
		"too large": {cert + strings.Repeat("#", MaxCABundle), []string{
			"steps[0].request.tls.ca_bundle: is " + strconv.Itoa(len(cert)+MaxCABundle) + " bytes, more than the 262144 allowed"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := validMonitor()
			m.Steps[0].Request.Tls = &TlsOptions{CaBundle: tc.bundle}
			got := errorLines(m.Validate())
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, g := range got {
				if strings.Contains(g, "PRIVATE KEY-----") || strings.Contains(g, "MII") {
					t.Errorf("the error quotes the bundle: %s", g)
				}
			}
		})
	}
	t.Run("broken certificate", func(t *testing.T) {
		_, err := ParseCABundle(string(broken))
		if err == nil || !strings.HasPrefix(err.Error(), "certificate 1 does not parse: ") {
			t.Errorf("err = %v", err)
		}
	})
}

func FuzzParseCABundle(f *testing.F) {
	cert, key := selfSignedPEM(f)
	f.Add(cert)
	f.Add(cert + key)
	f.Add("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		certs, err := ParseCABundle(text)
		if (err == nil) == (len(certs) == 0) {
			t.Errorf("%d certificates with error %v", len(certs), err)
		}
	})
}
