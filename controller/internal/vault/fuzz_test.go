package vault

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

const fuzzPassword = "fuzz-password"

// fuzzLimits are tighter than the real ones so the fuzzer spends its time parsing, not deriving
// keys: the seeds use 16 iterations, and a mutated count may grow at most to 4096.
var fuzzLimits = limits{size: MaxArchiveSize, perDerivation: 4096, total: 16_384, budget: DecodeBudget, slotWait: SlotWait}

// fuzzChain is a chain every fuzz worker process rebuilds byte for byte: Ed25519 keys from fixed
// seeds (Ed25519 signatures are deterministic), fixed serials and validity.
func fuzzChain(tb testing.TB) testChain {
	tb.Helper()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cert := func(name string, seed byte, ca bool, parent *testCert) testCert {
		key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(int64(seed)),
			Subject:               pkix.Name{CommonName: name},
			NotBefore:             start,
			NotAfter:              start.AddDate(20, 0, 0),
			IsCA:                  ca,
			BasicConstraintsValid: ca,
		}
		signerCert, signerKey := tmpl, crypto.PrivateKey(key)
		if parent != nil {
			signerCert, signerKey = parent.cert, parent.key
		}
		der, err := x509.CreateCertificate(nil, tmpl, signerCert, key.Public(), signerKey)
		if err != nil {
			tb.Fatal(err)
		}
		parsed, err := x509.ParseCertificate(der)
		if err != nil {
			tb.Fatal(err)
		}
		return testCert{cert: parsed, key: key}
	}
	root := cert("Fuzz Root", 1, true, nil)
	intermediate := cert("Fuzz Intermediate", 2, true, &root)
	return testChain{root: root, intermediate: intermediate, leaf: cert("Fuzz Leaf", 3, false, &intermediate)}
}

// FuzzImportPKCS12 mutates archives that carry a MAC. Whatever the mutation, the import must not
// panic, must fail only with an *InputError (or ErrBusy) that hides the password, and must never
// yield a key or leaf other than the original's.
func FuzzImportPKCS12(f *testing.F) {
	chain := fuzzChain(f)
	wantKey := pkcs8Of(f, chain.leaf.key)
	for _, enc := range []*pkcs12.Encoder{pkcs12.Modern2023, pkcs12.Modern2026, pkcs12.LegacyDES, pkcs12.LegacyRC2} {
		f.Add(encodeChain(f, enc.WithIterations(16), chain, fuzzPassword))
	}
	root := encodeP12(f, pkcs12.Modern2023.WithIterations(16), chain.leaf.key, chain.root.cert, chain.certs()[:2], fuzzPassword)
	f.Add(root)
	f.Add([]byte(strings.Repeat("MIIK", 10)))
	f.Add([]byte("-----BEGIN PKCS12-----\nMAo=\n-----END PKCS12-----\n"))
	f.Add([]byte{0x30, 0x80, 0x02, 0x01, 0x03, 0x00, 0x00})

	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := importWith(data, fuzzPassword, time.Now(), fuzzLimits)
		if err != nil {
			var inputErr *InputError
			if !errors.As(err, &inputErr) && !errors.Is(err, ErrBusy) {
				t.Fatalf("error %v (%T) is not an *InputError", err, err)
			}
			if strings.Contains(err.Error(), fuzzPassword) {
				t.Fatalf("error %q reveals the password", err)
			}
			return
		}
		if !bytes.Equal(got.PKCS8Key, wantKey) {
			t.Fatal("a mutated archive yielded a different key")
		}
		if !bytes.Equal(got.ChainDER[0], chain.leaf.cert.Raw) {
			t.Fatal("a mutated archive yielded a different leaf")
		}
	})
}
