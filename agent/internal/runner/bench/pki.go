package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"
)

// pki is the bench's CA, a server certificate for its targets and the client certificate every
// side presents (ECDSA P-256, made fresh for each run).
type pki struct {
	caDER  []byte
	pool   *x509.CertPool
	server tls.Certificate
	client tls.Certificate
}

func newPKI() (*pki, error) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	k := &pki{caDER: caDER, pool: x509.NewCertPool()}
	k.pool.AddCert(ca)
	if k.server, err = issue(ca, caKey, "target", true); err != nil {
		return nil, err
	}
	if k.client, err = issue(ca, caKey, "client", false); err != nil {
		return nil, err
	}
	return k, nil
}

// target starts an mTLS server on loopback that requires the bench's client certificate.
func (k *pki) target(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{k.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: k.pool}
	srv.StartTLS()
	return srv
}

// pkiFiles are the CA and the client certificate and key as PEM files, for child processes and curl.
type pkiFiles struct{ ca, cert, key string }

func (k *pki) write(dir string) (pkiFiles, error) {
	f := pkiFiles{ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "client.pem"), key: filepath.Join(dir, "client.key")}
	keyDER, err := x509.MarshalPKCS8PrivateKey(k.client.PrivateKey)
	if err != nil {
		return f, err
	}
	for path, data := range map[string][]byte{
		f.ca:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.caDER}),
		f.cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.client.Certificate[0]}),
		f.key:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return f, err
		}
	}
	return f, nil
}

// loadPKI reads what write wrote: the roots and the client certificate of a child process.
func loadPKI(f pkiFiles) (*x509.CertPool, tls.Certificate, error) {
	caPEM, err := os.ReadFile(f.ca)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(f.cert, f.key)
	return pool, cert, err
}
func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, server bool) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
