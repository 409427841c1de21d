package vault

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"github.com/lookout-synthetics/lookout/internal/certs"
)

// maxCertificates bounds the chain ordering, which checks signatures pairwise.
const maxCertificates = 64

// normalise turns a decoded key and certificates into the stored form.
func normalise(key any, certificates []*x509.Certificate, now time.Time) (*Imported, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	certificates = dedupe(certificates)
	if len(certificates) > maxCertificates {
		return nil, inputError(fmt.Sprintf("archive holds %d certificates; the limit is %d", len(certificates), maxCertificates))
	}
	leaf, rest, err := pickLeaf(key, certificates)
	if err != nil {
		return nil, err
	}
	chain, unrelated := orderChain(leaf, rest)
	return assemble(key, append(chain, unrelated...), len(unrelated), now)
}

// checkKey accepts RSA of 2048 bits or more, ECDSA P-256/384/521 and Ed25519.
func checkKey(key any) error {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < 2048 {
			return inputError(fmt.Sprintf("private key is RSA %d, which is too weak: RSA keys need at least 2048 bits", bits))
		}
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
			return inputError(fmt.Sprintf("private key is ECDSA %s, which is not supported: use P-256, P-384 or P-521", k.Curve.Params().Name))
		}
	case ed25519.PrivateKey:
	default:
		return inputError(fmt.Sprintf("private key type %s is not supported: use RSA (2048 bits or more), ECDSA P-256/P-384/P-521 or Ed25519", keyTypeName(key)))
	}
	return nil
}

func keyTypeName(key any) string {
	if k, ok := key.(*ecdh.PrivateKey); ok {
		return fmt.Sprint(k.Curve())
	}
	return fmt.Sprintf("%T", key)
}

func dedupe(certificates []*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range certificates {
		if !slices.ContainsFunc(out, c.Equal) {
			out = append(out, c)
		}
	}
	return out
}

// pickLeaf finds the certificate of the private key; of several (a renewal), the one valid
// longest. go-pkcs12 calls the first certificate the leaf, which is wrong for root-first archives.
func pickLeaf(key any, certificates []*x509.Certificate) (*x509.Certificate, []*x509.Certificate, error) {
	best := -1
	for i, c := range certificates {
		if certs.KeyMatches(key, c.PublicKey) && (best < 0 || c.NotAfter.After(certificates[best].NotAfter)) {
			best = i
		}
	}
	if best < 0 {
		return nil, nil, inputError("private key matches no certificate in the archive")
	}
	rest := slices.Delete(slices.Clone(certificates), best, best+1)
	return certificates[best], rest, nil
}

// orderChain follows issuers from the leaf up; certificates off that path are returned apart.
func orderChain(leaf *x509.Certificate, rest []*x509.Certificate) (chain, unrelated []*x509.Certificate) {
	chain = []*x509.Certificate{leaf}
	for {
		current := chain[len(chain)-1]
		if bytes.Equal(current.RawIssuer, current.RawSubject) {
			return chain, rest
		}
		i := findIssuer(current, rest)
		if i < 0 {
			return chain, rest
		}
		chain = append(chain, rest[i])
		rest = slices.Delete(rest, i, i+1)
	}
}

// findIssuer prefers a candidate whose signature verifies over one that only has the right name.
func findIssuer(c *x509.Certificate, candidates []*x509.Certificate) int {
	byName := -1
	for i, candidate := range candidates {
		if !bytes.Equal(c.RawIssuer, candidate.RawSubject) {
			continue
		}
		if c.CheckSignatureFrom(candidate) == nil {
			return i
		}
		if byName < 0 {
			byName = i
		}
	}
	return byName
}

// assemble builds the stored form and checks that it loads as a TLS certificate.
func assemble(key any, chain []*x509.Certificate, unrelated int, now time.Time) (*Imported, error) {
	pkcs8Key, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, inputError(fmt.Sprintf("private key cannot be stored: %v", err))
	}
	chainDER := make([][]byte, len(chain))
	for i, c := range chain {
		chainDER[i] = c.Raw
	}
	if _, err := certs.TLSCertificate(chainDER, pkcs8Key); err != nil {
		return nil, inputError(fmt.Sprintf("archive does not load as a TLS client certificate: %v", err))
	}
	return &Imported{
		ChainDER: chainDER,
		PKCS8Key: pkcs8Key,
		Info:     certs.Describe(chain),
		Warnings: warnings(chain[0], unrelated, now),
	}, nil
}

// warnings names what will not stop the upload but may stop the certificate working.
func warnings(leaf *x509.Certificate, unrelated int, now time.Time) []string {
	var out []string
	if now.After(leaf.NotAfter) {
		out = append(out, "certificate expired on "+leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	if now.Before(leaf.NotBefore) {
		out = append(out, "certificate is not yet valid: it becomes valid on "+leaf.NotBefore.UTC().Format(time.DateOnly))
	}
	if !certs.ClientAuthAllowed(leaf) {
		out = append(out, "certificate's extended key usage does not include client authentication: servers may reject it")
	}
	if unrelated > 0 {
		out = append(out, fmt.Sprintf("archive holds %d certificate(s) that are not in the leaf's chain; they are kept after the chain", unrelated))
	}
	return out
}
