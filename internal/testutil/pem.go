package testutil

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/lookout-synthetics/lookout/internal/pki"
)

// WritePEMPair writes a certificate (DER) and its private key (PKCS#8) as PEM files dir/name.pem
// and dir/name.key, mode 0600, and returns their paths: what a server's tls block or a
// --cert-file/--key-file pair of flags names.
func WritePEMPair(t testing.TB, dir, name string, certDER []byte, key any) (certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encoding the key of %s as PKCS#8: %v", name, err)
	}
	certFile = WriteFile(t, dir, name+".pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}))
	keyFile = WriteFile(t, dir, name+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return certFile, keyFile
}

// WritePEM writes the leaf certificate and its key as dir/name.pem and dir/name.key.
func (l *Leaf) WritePEM(t testing.TB, dir, name string) (certFile, keyFile string) {
	t.Helper()
	return WritePEMPair(t, dir, name, l.Cert.Raw, l.Key)
}

// ServerPEM is a server certificate from the controller's internal CA, written as PEM files.
type ServerPEM struct {
	CA                        *pki.CA
	CAFile, CertFile, KeyFile string
}

// ControllerCAServerPEM loads the controller's internal CA from dataDir, making it (and dataDir)
// when missing, as a controller started on dataDir adopts the CA it finds there. It issues a
// server certificate for hosts from that CA and writes it with its key as dir/name.pem and
// dir/name.key: the files an external nats-server's tls block names, with CAFile as its ca_file.
func ControllerCAServerPEM(t testing.TB, dataDir, dir, name string, hosts ...string) ServerPEM {
	t.Helper()
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ca, _, err := pki.LoadOrCreateCA(dataDir)
	if err != nil {
		t.Fatalf("making the controller's CA in %s: %v", dataDir, err)
	}
	pair, err := ca.ServerCertificate(hosts)
	if err != nil {
		t.Fatalf("issuing a server certificate for %v: %v", hosts, err)
	}
	s := ServerPEM{CA: ca, CAFile: filepath.Join(dataDir, "ca.pem")}
	s.CertFile, s.KeyFile = WritePEMPair(t, dir, name, pair.DER, pair.Key)
	return s
}
