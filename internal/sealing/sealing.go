// Package sealing seals a run's secrets to one agent with HPKE (RFC 9180: DHKEM(X25519),
// HKDF-SHA256, AES-256-GCM). The info string binds the agent, the run and the attempt, so a sealed
// answer cannot be replayed to another agent or used for another run.
package sealing

import (
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/rand"
	"fmt"
)

func suite() (hpke.KDF, hpke.AEAD) { return hpke.HKDFSHA256(), hpke.AES256GCM() }

// Info is the context both sides bind into the seal.
func Info(agentID, runID string, attempt int32) []byte {
	return fmt.Appendf(nil, "lookout/v1 run-secrets agent=%s run=%s attempt=%d", agentID, runID, attempt)
}

// NewKey makes an agent's sealing key pair.
func NewKey() (*ecdh.PrivateKey, error) { return ecdh.X25519().GenerateKey(rand.Reader) }

// Seal encrypts plaintext to the X25519 public key pub (32 raw bytes).
func Seal(pub []byte, info, plaintext []byte) ([]byte, error) {
	pk, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("agent sealing key is not an X25519 public key: %w", err)
	}
	hpk, err := hpke.NewDHKEMPublicKey(pk)
	if err != nil {
		return nil, err
	}
	kdf, aead := suite()
	return hpke.Seal(hpk, kdf, aead, info, plaintext)
}

// Open decrypts what Seal produced for priv.
func Open(priv *ecdh.PrivateKey, info, sealed []byte) ([]byte, error) {
	hk, err := hpke.NewDHKEMPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	kdf, aead := suite()
	pt, err := hpke.Open(hk, kdf, aead, info, sealed)
	if err != nil {
		return nil, fmt.Errorf("opening sealed run secrets: %w", err)
	}
	return pt, nil
}
