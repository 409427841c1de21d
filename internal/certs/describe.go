package certs

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"

	"google.golang.org/protobuf/types/known/timestamppb"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Describe returns the public description of a certificate chain whose leaf is chain[0]. It
// returns nil for an empty chain.
func Describe(chain []*x509.Certificate) *lookoutv1.CertificateInfo {
	if len(chain) == 0 || chain[0] == nil {
		return nil
	}
	leaf := chain[0]
	return &lookoutv1.CertificateInfo{
		Subject:           leaf.Subject.String(),
		Issuer:            leaf.Issuer.String(),
		Sans:              SANs(leaf),
		Serial:            leaf.SerialNumber.Text(16),
		NotBefore:         timestamppb.New(leaf.NotBefore),
		NotAfter:          timestamppb.New(leaf.NotAfter),
		Sha256Fingerprint: Fingerprint(leaf.Raw),
		KeyType:           KeyType(leaf.PublicKey),
		ChainLength:       int32(len(chain)),
		ClientAuthAllowed: ClientAuthAllowed(leaf),
	}
}

// Fingerprint is the SHA-256 of der as lower-case hex without colons.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// SANs lists the subject alternative names of cert: DNS names, then IP addresses, e-mail
// addresses and URIs.
func SANs(cert *x509.Certificate) []string {
	sans := slices.Clone(cert.DNSNames)
	for _, ip := range cert.IPAddresses {
		sans = append(sans, ip.String())
	}
	sans = append(sans, cert.EmailAddresses...)
	for _, u := range cert.URIs {
		sans = append(sans, u.String())
	}
	return sans
}

// KeyType names a public key the way users read it: "RSA 2048", "ECDSA P-256", "Ed25519".
// Other keys are named by their Go type.
func KeyType(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return fmt.Sprintf("unsupported (%T)", pub)
	}
}

// ClientAuthAllowed reports whether cert may be used as a TLS client certificate: its extended
// key usage is absent, or names client authentication or any usage.
func ClientAuthAllowed(cert *x509.Certificate) bool {
	if len(cert.ExtKeyUsage) == 0 && len(cert.UnknownExtKeyUsage) == 0 {
		return true
	}
	return slices.ContainsFunc(cert.ExtKeyUsage, func(u x509.ExtKeyUsage) bool {
		return u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny
	})
}
