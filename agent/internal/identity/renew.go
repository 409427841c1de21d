package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/pki"
)

// Renewal writes the new pair next to the old one, then renames the key and the certificate into
// place. A crash between the two renames leaves the new key with the old certificate; loadKeyPair
// then finds the new certificate still waiting under its temporary name and finishes the swap.
const renewSuffix = ".new"

func loadKeyPair(dir string) (tls.Certificate, error) {
	certFile, keyFile := filepath.Join(dir, fileCert), filepath.Join(dir, fileKey)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err == nil {
		return pair, nil
	}
	if next, err2 := tls.LoadX509KeyPair(certFile+renewSuffix, keyFile); err2 == nil {
		if err := os.Rename(certFile+renewSuffix, certFile); err != nil {
			return tls.Certificate{}, fmt.Errorf("finishing an interrupted certificate renewal: %w", err)
		}
		return next, nil
	}
	return tls.Certificate{}, err
}

// RenewDue says whether the current certificate has less than a third of its lifetime left, and
// when it expires. The lifetime counts from when the controller issued the certificate, not from
// its NotBefore, which the controller sets pki.Backdate earlier to absorb clock skew: measured from
// NotBefore, a certificate whose lifetime is short beside the backdate would look due at once.
func (id *Identity) RenewDue(now time.Time) (due bool, notAfter time.Time, err error) {
	leaf, err := id.Leaf()
	if err != nil {
		return false, time.Time{}, err
	}
	return !now.Before(RenewAt(leaf)), leaf.NotAfter, nil
}

// RenewAt is when a certificate is due for renewal: once two thirds of the span from its issue to
// its expiry have passed. A certificate not backdated as pki.Backdate says (one shorter than the
// backdate itself) counts its lifetime from NotBefore.
func RenewAt(leaf *x509.Certificate) time.Time {
	issued := leaf.NotBefore.Add(pki.Backdate)
	if !issued.Before(leaf.NotAfter) {
		issued = leaf.NotBefore
	}
	return leaf.NotAfter.Add(-leaf.NotAfter.Sub(issued) / 3)
}

// Renew asks the controller for a certificate for a new key, saves the pair in the state dir and
// makes it the one new connections present. It returns the new certificate's expiry.
func (id *Identity) Renew(ctx context.Context, client pb.AgentServiceClient) (time.Time, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return time.Time{}, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return time.Time{}, err
	}
	resp, err := client.RenewCertificate(ctx, &pb.RenewCertificateRequest{CsrDer: csr})
	if err != nil {
		return time.Time{}, fmt.Errorf("renewing the agent certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return time.Time{}, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(resp.CertificatePem, keyPEM)
	if err != nil {
		return time.Time{}, fmt.Errorf("the renewed certificate does not fit the new key: %w", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return time.Time{}, err
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: id.CAPool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return time.Time{}, fmt.Errorf("the renewed certificate is not from the controller's CA: %w", err)
	}
	pair.Leaf = leaf
	if id.dir != "" {
		if err := id.saveKeyPair(keyPEM, resp.CertificatePem); err != nil {
			return time.Time{}, err
		}
	}
	id.mu.Lock()
	id.renewed = &pair
	id.mu.Unlock()
	return leaf.NotAfter, nil
}

func (id *Identity) saveKeyPair(keyPEM, certPEM []byte) error {
	certFile, keyFile := filepath.Join(id.dir, fileCert), filepath.Join(id.dir, fileKey)
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{keyFile + renewSuffix, keyPEM, 0o600}, {certFile + renewSuffix, certPEM, 0o644}} {
		if err := writeSynced(f.name, f.data, f.mode); err != nil {
			return fmt.Errorf("saving the renewed certificate: %w", err)
		}
	}
	if err := os.Rename(keyFile+renewSuffix, keyFile); err != nil {
		return fmt.Errorf("saving the renewed certificate: %w", err)
	}
	if err := os.Rename(certFile+renewSuffix, certFile); err != nil {
		return fmt.Errorf("saving the renewed certificate: %w", err)
	}
	if d, err := os.Open(id.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func writeSynced(name string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ErrExpired means the agent's certificate expired before it could be renewed: only a new
// enrollment helps.
var ErrExpired = errors.New("this agent's certificate has expired, so the controller will not renew it: enroll the agent again with a new token and a new --state-dir")
