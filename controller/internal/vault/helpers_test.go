package vault

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// testPassword has a character outside ASCII (but inside UCS-2) on purpose.
const testPassword = "correct-hörse-battery"

// Keys are slow to make (RSA especially) and safe to share, so each kind is made once.
var (
	keyMu    sync.Mutex
	keyCache = map[string]crypto.PrivateKey{}
)

// testKey returns the shared key named name; its kind is the part before any '#'.
func testKey(tb testing.TB, name string) crypto.PrivateKey {
	tb.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	if key, ok := keyCache[name]; ok {
		return key
	}
	key, err := generateKey(strings.Split(name, "#")[0])
	if err != nil {
		tb.Fatalf("generating %s key: %v", name, err)
	}
	keyCache[name] = key
	return key
}

func generateKey(kind string) (crypto.PrivateKey, error) {
	switch kind {
	case "rsa":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "rsa1024":
		return rsa.GenerateKey(rand.Reader, 1024)
	case "p256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p224":
		return ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case "ed25519":
		_, key, err := ed25519.GenerateKey(rand.Reader)
		return key, err
	case "x25519":
		return ecdh.X25519().GenerateKey(rand.Reader)
	}
	return nil, errors.New("unknown key kind " + kind)
}

func publicKey(key crypto.PrivateKey) crypto.PublicKey {
	return key.(interface{ Public() crypto.PublicKey }).Public()
}

type testCert struct {
	cert *x509.Certificate
	key  crypto.PrivateKey
}

var serials sync.Mutex
var nextSerial int64 = 1000

func serial() *big.Int {
	serials.Lock()
	defer serials.Unlock()
	nextSerial++
	return big.NewInt(nextSerial)
}

// issueCert signs tmpl for key by parent, or self-signs when parent is nil.
func issueCert(tb testing.TB, tmpl *x509.Certificate, key crypto.PrivateKey, parent *testCert) testCert {
	tb.Helper()
	tmpl.SerialNumber = serial()
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, publicKey(key), signerKey)
	if err != nil {
		tb.Fatalf("creating certificate %s: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return testCert{cert: cert, key: key}
}

func newCA(tb testing.TB, name, keyName string, parent *testCert) testCert {
	tb.Helper()
	return issueCert(tb, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Lookout Tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, testKey(tb, keyName), parent)
}

type leafOptions struct {
	notBefore, notAfter time.Time
	eku                 []x509.ExtKeyUsage
}

func newLeaf(tb testing.TB, issuer testCert, keyName string, opts leafOptions) testCert {
	tb.Helper()
	if opts.notBefore.IsZero() {
		opts.notBefore, opts.notAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	}
	if opts.eku == nil {
		opts.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return issueCert(tb, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "client " + keyName},
		NotBefore:   opts.notBefore,
		NotAfter:    opts.notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: opts.eku,
		DNSNames:    []string{"client.example"},
	}, testKey(tb, keyName), &issuer)
}

// testChain is a root, an intermediate it signed, and a client leaf the intermediate signed.
type testChain struct {
	root, intermediate, leaf testCert
}

func newChain(tb testing.TB, leafKey string) testChain {
	tb.Helper()
	root := newCA(tb, "Test Root", "p256#root", nil)
	intermediate := newCA(tb, "Test Intermediate", "p256#intermediate", &root)
	return testChain{root: root, intermediate: intermediate, leaf: newLeaf(tb, intermediate, leafKey, leafOptions{})}
}

// certs is the chain leaf first.
func (c testChain) certs() []*x509.Certificate {
	return []*x509.Certificate{c.leaf.cert, c.intermediate.cert, c.root.cert}
}

func encodeP12(tb testing.TB, enc *pkcs12.Encoder, key crypto.PrivateKey, first *x509.Certificate, others []*x509.Certificate, password string) []byte {
	tb.Helper()
	der, err := enc.Encode(key, first, others, password)
	if err != nil {
		tb.Fatalf("encoding PKCS#12: %v", err)
	}
	return der
}

// encodeChain encodes the chain leaf first, the usual way.
func encodeChain(tb testing.TB, enc *pkcs12.Encoder, c testChain, password string) []byte {
	tb.Helper()
	return encodeP12(tb, enc, c.leaf.key, c.leaf.cert, []*x509.Certificate{c.intermediate.cert, c.root.cert}, password)
}

func pkcs8Of(tb testing.TB, key crypto.PrivateKey) []byte {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

func rawCerts(certs []*x509.Certificate) [][]byte {
	out := make([][]byte, len(certs))
	for i, c := range certs {
		out[i] = c.Raw
	}
	return out
}

// rewriteInts returns der with every INTEGER equal to from replaced by to, looking inside
// constructed values and inside OCTET STRINGs that hold DER. It forges hostile archives without
// paying for their key derivations.
func rewriteInts(tb testing.TB, der []byte, from, to int64) []byte {
	tb.Helper()
	out, changed := rewriteAll(der, from, to)
	if out == nil || !changed {
		tb.Fatalf("no INTEGER %d found to rewrite", from)
	}
	return out
}

func rewriteAll(der []byte, from, to int64) ([]byte, bool) {
	var out []byte
	changedAny := false
	for rest := der; len(rest) > 0; {
		var v asn1.RawValue
		next, err := asn1.Unmarshal(rest, &v)
		if err != nil {
			return nil, false
		}
		encoded, changed := rewriteValue(v, from, to)
		out, changedAny, rest = append(out, encoded...), changedAny || changed, next
	}
	return out, changedAny
}

func rewriteValue(v asn1.RawValue, from, to int64) ([]byte, bool) {
	universal := v.Class == asn1.ClassUniversal
	switch {
	case universal && v.Tag == asn1.TagInteger && !v.IsCompound:
		var n int64
		if _, err := asn1.Unmarshal(v.FullBytes, &n); err == nil && n == from {
			b, _ := asn1.Marshal(to)
			return b, true
		}
	case v.IsCompound || (universal && v.Tag == asn1.TagOctetString):
		if inner, changed := rewriteAll(v.Bytes, from, to); inner != nil && changed {
			b, _ := asn1.Marshal(asn1.RawValue{Class: v.Class, Tag: v.Tag, IsCompound: v.IsCompound, Bytes: inner})
			return b, true
		}
	}
	return v.FullBytes, false
}

// duplicateKeyBag returns a Passwordless archive with its key bag twice, as no encoder makes.
func duplicateKeyBag(tb testing.TB, der []byte) []byte {
	tb.Helper()
	var pfx scanPFX
	var content []byte
	var safes []scanContentInfo
	mustUnmarshal(tb, der, &pfx)
	mustUnmarshal(tb, pfx.AuthSafe.Content.Bytes, &content)
	mustUnmarshal(tb, content, &safes)
	for i, safe := range safes {
		var raw []byte
		var bags []asn1.RawValue
		mustUnmarshal(tb, safe.Content.Bytes, &raw)
		mustUnmarshal(tb, raw, &bags)
		var seq []byte
		for _, bag := range bags {
			seq = append(seq, bag.FullBytes...)
			var sb scanSafeBag
			mustUnmarshal(tb, bag.FullBytes, &sb)
			if sb.ID.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}) {
				seq = append(seq, bag.FullBytes...)
			}
		}
		safes[i].Content = explicitOctets(tb, mustMarshal(tb, asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: seq}))
	}
	pfx.AuthSafe.Content = explicitOctets(tb, mustMarshal(tb, safes))
	return mustMarshal(tb, pfx)
}

func explicitOctets(tb testing.TB, data []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustMarshal(tb, data)}
}

func mustUnmarshal(tb testing.TB, der []byte, v any) {
	tb.Helper()
	if _, err := asn1.Unmarshal(der, v); err != nil {
		tb.Fatalf("asn1: %v", err)
	}
}

func mustMarshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		tb.Fatalf("asn1: %v", err)
	}
	return b
}

// openDB opens a fresh bbolt file in a temporary directory.
func openDB(tb testing.TB) *bbolt.DB {
	tb.Helper()
	return openDBAt(tb, filepath.Join(tb.TempDir(), "lookout.db"))
}

func openDBAt(tb testing.TB, path string) *bbolt.DB {
	tb.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func newMasterKey(tb testing.TB) []byte {
	tb.Helper()
	key := make([]byte, MasterKeySize)
	rand.Read(key)
	return key
}
