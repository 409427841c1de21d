package certs

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
)

// TLSCertificate builds a tls.Certificate, with Leaf set, from a leaf-first DER chain and a PKCS#8
// private key. It fails when the key does not belong to the leaf.
func TLSCertificate(chainDER [][]byte, pkcs8Key []byte) (tls.Certificate, error) {
	if len(chainDER) == 0 {
		return tls.Certificate{}, errors.New("certificate chain is empty")
	}
	leaf, err := x509.ParseCertificate(chainDER[0])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parsing leaf certificate: %w", err)
	}
	key, err := x509.ParsePKCS8PrivateKey(pkcs8Key)
	if err != nil {
		// The parser's error never quotes the key bytes.
		return tls.Certificate{}, fmt.Errorf("parsing private key: %w", err)
	}
	if !KeyMatches(key, leaf.PublicKey) {
		return tls.Certificate{}, fmt.Errorf("private key does not match the certificate %q", leaf.Subject.String())
	}
	chain := make([][]byte, len(chainDER))
	for i, der := range chainDER {
		chain[i] = slices.Clone(der)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// KeyMatches reports whether private key key is the counterpart of public key pub.
func KeyMatches(key crypto.PrivateKey, pub crypto.PublicKey) bool {
	signer, ok := key.(interface{ Public() crypto.PublicKey })
	if !ok {
		return false
	}
	own, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && own.Equal(pub)
}
