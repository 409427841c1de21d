package vault

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// The pre-scan mirrors the parts of go-pkcs12's structures that carry iteration counts. It is
// best effort: whatever it cannot parse it skips, since go-pkcs12 will refuse the same bytes.

var (
	oidData                 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidPKCS8ShroudedKeyBag  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidPBES2                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidPBMAC1               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
	oidPBEWithSHAPrefix     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1}
	pkcs12LegacyPBEArcCount = len(oidPBEWithSHAPrefix) + 1
)

type scanPFX struct {
	Version  int
	AuthSafe scanContentInfo
	MacData  scanMacData `asn1:"optional"`
}

type scanContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type scanMacData struct {
	Mac struct {
		Algorithm pkix.AlgorithmIdentifier
		Digest    []byte
	}
	MacSalt    []byte
	Iterations int64 `asn1:"optional,default:1"`
}

type scanSafeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue `asn1:"tag:0,explicit"`
	Attributes asn1.RawValue `asn1:"optional"`
}

type scanEncryptedData struct {
	Version int
	Info    struct {
		ContentType asn1.ObjectIdentifier
		Algorithm   pkix.AlgorithmIdentifier
		Content     asn1.RawValue `asn1:"optional"`
	}
}

type scanEncryptedKey struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

type scanPBES2Params struct {
	KDF        pkix.AlgorithmIdentifier
	Encryption pkix.AlgorithmIdentifier
}

type scanPBKDF2Params struct {
	Salt       asn1.RawValue
	Iterations int64
	KeyLength  int64                    `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

type scanPBEParams struct {
	Salt       []byte
	Iterations int64
}

// derivation is one key derivation an archive asks for: where, and how many iterations.
type derivation struct {
	where      string
	iterations int64
}

// checkIterations refuses an archive whose key derivations would cost more than lim allows.
func checkIterations(der []byte, emptyPassword bool, lim limits) error {
	var total int64
	for _, d := range scanDerivations(der, emptyPassword) {
		if d.iterations > lim.perDerivation {
			return inputError(fmt.Sprintf("archive asks for %d key-derivation iterations; the limit is %d per derivation (%s): "+
				"re-export it with fewer iterations", d.iterations, lim.perDerivation, d.where))
		}
		total += max(d.iterations, 0)
	}
	if total > lim.total {
		return inputError(fmt.Sprintf("archive asks for %d key-derivation iterations; the limit is %d in total: "+
			"re-export it with fewer iterations", total, lim.total))
	}
	return nil
}

// scanDerivations lists the derivations it can find before any password is tried.
func scanDerivations(der []byte, emptyPassword bool) []derivation {
	var pfx scanPFX
	if _, err := asn1.Unmarshal(der, &pfx); err != nil {
		return nil
	}
	out := macDerivations(pfx.MacData, emptyPassword)
	return append(out, authSafeDerivations(pfx.AuthSafe)...)
}

// macDerivations counts the MAC's derivation; go-pkcs12 tries an empty password twice.
func macDerivations(mac scanMacData, emptyPassword bool) []derivation {
	alg := mac.Mac.Algorithm
	if len(alg.Algorithm) == 0 {
		return nil
	}
	d := derivation{where: "MAC", iterations: mac.Iterations}
	if alg.Algorithm.Equal(oidPBMAC1) {
		var params scanPBES2Params // PBMAC1-params has the same shape: KDF, then an algorithm
		if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &params); err != nil {
			return nil
		}
		n, ok := pbkdf2Iterations(params.KDF)
		if !ok {
			return nil
		}
		d.iterations = n
	}
	if emptyPassword {
		return []derivation{d, d}
	}
	return []derivation{d}
}

func authSafeDerivations(authSafe scanContentInfo) []derivation {
	if !authSafe.ContentType.Equal(oidData) {
		return nil
	}
	var content []byte
	if _, err := asn1.Unmarshal(authSafe.Content.Bytes, &content); err != nil {
		return nil
	}
	var safes []scanContentInfo
	if _, err := asn1.Unmarshal(content, &safes); err != nil {
		return nil
	}
	var out []derivation
	for _, safe := range safes {
		out = append(out, safeDerivations(safe)...)
	}
	return out
}

func safeDerivations(safe scanContentInfo) []derivation {
	switch {
	case safe.ContentType.Equal(oidData):
		return plainSafeDerivations(safe.Content.Bytes)
	case safe.ContentType.Equal(oidEncryptedData):
		var ed scanEncryptedData
		if _, err := asn1.Unmarshal(safe.Content.Bytes, &ed); err != nil {
			return nil
		}
		return algorithmDerivations(ed.Info.Algorithm, "encrypted safe")
	}
	return nil
}

// plainSafeDerivations reads the shrouded key bags of an unencrypted safe.
func plainSafeDerivations(content []byte) []derivation {
	var raw []byte
	if _, err := asn1.Unmarshal(content, &raw); err != nil {
		return nil
	}
	var bags []scanSafeBag
	if _, err := asn1.Unmarshal(raw, &bags); err != nil {
		return nil
	}
	var out []derivation
	for _, bag := range bags {
		if !bag.ID.Equal(oidPKCS8ShroudedKeyBag) {
			continue
		}
		var key scanEncryptedKey
		if _, err := asn1.Unmarshal(bag.Value.Bytes, &key); err == nil {
			out = append(out, algorithmDerivations(key.Algorithm, "private key")...)
		}
	}
	return out
}

// algorithmDerivations reads a password-based encryption algorithm: PBES2 derives once, the
// legacy PKCS#12 ciphers derive the key and the IV separately.
func algorithmDerivations(alg pkix.AlgorithmIdentifier, where string) []derivation {
	switch {
	case alg.Algorithm.Equal(oidPBES2):
		var params scanPBES2Params
		if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &params); err != nil {
			return nil
		}
		if n, ok := pbkdf2Iterations(params.KDF); ok {
			return []derivation{{where, n}}
		}
	case isLegacyPBE(alg.Algorithm):
		var params scanPBEParams
		if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &params); err == nil {
			return []derivation{{where + " key", params.Iterations}, {where + " IV", params.Iterations}}
		}
	}
	return nil
}

func isLegacyPBE(oid asn1.ObjectIdentifier) bool {
	return len(oid) == pkcs12LegacyPBEArcCount && oid[:len(oidPBEWithSHAPrefix)].Equal(oidPBEWithSHAPrefix)
}

func pbkdf2Iterations(kdf pkix.AlgorithmIdentifier) (int64, bool) {
	if !kdf.Algorithm.Equal(oidPBKDF2) {
		return 0, false
	}
	var params scanPBKDF2Params
	if _, err := asn1.Unmarshal(kdf.Parameters.FullBytes, &params); err != nil {
		return 0, false
	}
	return params.Iterations, true
}
