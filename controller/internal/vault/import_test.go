package vault

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/lookout-synthetics/lookout/internal/certs"
)

// checkImported compares an import with the chain and key it should hold.
func checkImported(t *testing.T, got *Imported, wantChain []*x509.Certificate, wantKey crypto.PrivateKey) {
	t.Helper()
	if diff := cmp.Diff(got.ChainDER, rawCerts(wantChain)); diff != "" {
		t.Errorf("ChainDER (-got +want):\n%s", diff)
	}
	key, err := x509.ParsePKCS8PrivateKey(got.PKCS8Key)
	if err != nil {
		t.Fatalf("stored key does not parse: %v", err)
	}
	if !key.(interface{ Equal(crypto.PrivateKey) bool }).Equal(wantKey) {
		t.Error("stored key is not the archive's key")
	}
	if diff := cmp.Diff(got.Info, certs.Describe(wantChain), protocmp.Transform()); diff != "" {
		t.Errorf("Info (-got +want):\n%s", diff)
	}
}

// wantInputError checks err is an *InputError with message want (or starting with want, when
// prefix is set) and that it does not reveal the password.
func wantInputError(t *testing.T, err error, want string, prefix bool, password string) {
	t.Helper()
	var inputErr *InputError
	if !errors.As(err, &inputErr) {
		t.Fatalf("error = %v (%T), want *InputError %q", err, err, want)
	}
	got := inputErr.Msg
	if prefix && !strings.HasPrefix(got, want) || !prefix && got != want {
		t.Errorf("message:\n got %q\nwant %q", got, want)
	}
	if password != "" && strings.Contains(got, password) {
		t.Errorf("message %q reveals the password", got)
	}
}

func TestImportPKCS12Encoders(t *testing.T) {
	t.Parallel()
	encoders := map[string]struct {
		enc      *pkcs12.Encoder
		password string
	}{
		"Modern2023":   {pkcs12.Modern2023, testPassword},
		"Modern2026":   {pkcs12.Modern2026, testPassword},
		"LegacyRC2":    {pkcs12.LegacyRC2, testPassword},
		"LegacyDES":    {pkcs12.LegacyDES, testPassword},
		"Passwordless": {pkcs12.Passwordless, ""},
		"empty-pass":   {pkcs12.Modern2023, ""},
	}
	for name, e := range encoders {
		for _, keyName := range []string{"p256", "rsa", "ed25519"} {
			t.Run(name+"/"+keyName, func(t *testing.T) {
				t.Parallel()
				chain := newChain(t, keyName)
				got, err := ImportPKCS12(encodeChain(t, e.enc, chain, e.password), e.password, time.Now())
				if err != nil {
					t.Fatalf("ImportPKCS12: %v", err)
				}
				checkImported(t, got, chain.certs(), chain.leaf.key)
				if len(got.Warnings) != 0 {
					t.Errorf("Warnings = %q, want none", got.Warnings)
				}
			})
		}
	}
}

func TestImportPKCS12Info(t *testing.T) {
	t.Parallel()
	chain := newChain(t, "rsa")
	got, err := ImportPKCS12(encodeChain(t, pkcs12.Modern2023, chain, testPassword), testPassword, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	info := got.Info
	if info.GetKeyType() != "RSA 2048" || info.GetChainLength() != 3 || !info.GetClientAuthAllowed() ||
		info.GetSubject() != "CN=client rsa" || info.GetSha256Fingerprint() != certs.Fingerprint(chain.leaf.cert.Raw) {
		t.Errorf("Info = %v", info)
	}
}

// TestImportPKCS12LeafOrder covers archives whose certificates are not leaf first: go-pkcs12 would
// call the first one the leaf.
func TestImportPKCS12LeafOrder(t *testing.T) {
	t.Parallel()
	chain := newChain(t, "p256")
	orders := map[string][]*x509.Certificate{
		"root first":         {chain.root.cert, chain.intermediate.cert, chain.leaf.cert},
		"intermediate first": {chain.intermediate.cert, chain.leaf.cert, chain.root.cert},
		"leaf, root, inter":  {chain.leaf.cert, chain.root.cert, chain.intermediate.cert},
		"duplicated":         {chain.root.cert, chain.leaf.cert, chain.root.cert, chain.intermediate.cert},
	}
	for name, order := range orders {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			archive := encodeP12(t, pkcs12.Modern2023, chain.leaf.key, order[0], order[1:], testPassword)
			got, err := ImportPKCS12(archive, testPassword, time.Now())
			if err != nil {
				t.Fatalf("ImportPKCS12: %v", err)
			}
			checkImported(t, got, chain.certs(), chain.leaf.key)
		})
	}
}

func TestImportPKCS12Wrapped(t *testing.T) {
	t.Parallel()
	chain := newChain(t, "p256")
	der := encodeChain(t, pkcs12.Modern2023, chain, testPassword)
	b64 := base64.StdEncoding.EncodeToString(der)
	wrapped := map[string][]byte{
		"PEM PKCS12":       pem.EncodeToMemory(&pem.Block{Type: "PKCS12", Bytes: der}),
		"PEM other label":  pem.EncodeToMemory(&pem.Block{Type: "PFX", Bytes: der}),
		"PEM after text":   append([]byte("exported by a tool\n"), pem.EncodeToMemory(&pem.Block{Type: "PKCS12", Bytes: der})...),
		"base64":           []byte(b64),
		"base64 wrapped":   []byte(wrapLines(b64, 64, "\r\n")),
		"base64 unpadded":  []byte(base64.RawStdEncoding.EncodeToString(der) + "\n"),
		"base64 indented":  []byte("  " + wrapLines(b64, 76, "\n  ")),
		"DER with newline": append(slices.Clone(der), '\n'),
	}
	for name, data := range wrapped {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := ImportPKCS12(data, testPassword, time.Now())
			if name == "DER with newline" {
				// Trailing bytes after DER are not an archive go-pkcs12 accepts; the message says so.
				wantInputError(t, err, "file is not a readable PKCS#12 archive: ", true, testPassword)
				return
			}
			if err != nil {
				t.Fatalf("ImportPKCS12: %v", err)
			}
			checkImported(t, got, chain.certs(), chain.leaf.key)
		})
	}
}

func wrapLines(s string, n int, sep string) string {
	var lines []string
	for len(s) > n {
		lines, s = append(lines, s[:n]), s[n:]
	}
	return strings.Join(append(lines, s), sep)
}

func TestImportPKCS12Warnings(t *testing.T) {
	t.Parallel()
	root := newCA(t, "Warn Root", "p256#root", nil)
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	leaf := newLeaf(t, root, "p256", leafOptions{notBefore: start, notAfter: start.Add(30 * day)})
	serverOnly := newLeaf(t, root, "p256#server", leafOptions{
		notBefore: time.Now().Add(-day), notAfter: time.Now().Add(day), eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	stranger := newCA(t, "Unrelated CA", "p256#stranger", nil)
	archive := encodeP12(t, pkcs12.Modern2023, leaf.key, leaf.cert, []*x509.Certificate{root.cert}, testPassword)

	tests := map[string]struct {
		archive []byte
		now     time.Time
		want    []string
	}{
		"valid": {archive, start.Add(day), nil},
		"expired": {archive, start.Add(31 * day), []string{
			"certificate expired on 2026-03-31",
		}},
		"not yet valid": {archive, start.Add(-day), []string{
			"certificate is not yet valid: it becomes valid on 2026-03-01",
		}},
		"server auth only": {
			encodeP12(t, pkcs12.Modern2023, serverOnly.key, serverOnly.cert, []*x509.Certificate{root.cert}, testPassword),
			time.Now(),
			[]string{"certificate's extended key usage does not include client authentication: servers may reject it"},
		},
		"unrelated certificate": {
			encodeP12(t, pkcs12.Modern2023, leaf.key, stranger.cert, []*x509.Certificate{leaf.cert, root.cert}, testPassword),
			start.Add(day),
			[]string{"archive holds 1 certificate(s) that are not in the leaf's chain; they are kept after the chain"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := ImportPKCS12(tt.archive, testPassword, tt.now)
			if err != nil {
				t.Fatalf("ImportPKCS12: %v", err)
			}
			if diff := cmp.Diff(got.Warnings, tt.want); diff != "" {
				t.Errorf("Warnings (-got +want):\n%s", diff)
			}
		})
	}
	t.Run("unrelated kept last", func(t *testing.T) {
		t.Parallel()
		got, err := ImportPKCS12(tests["unrelated certificate"].archive, testPassword, start.Add(day))
		if err != nil {
			t.Fatal(err)
		}
		checkImported(t, got, []*x509.Certificate{leaf.cert, root.cert, stranger.cert}, leaf.key)
	})
}

func TestImportPKCS12Errors(t *testing.T) {
	t.Parallel()
	chain := newChain(t, "p256")
	modern := encodeChain(t, pkcs12.Modern2023, chain, testPassword)
	legacy := encodeChain(t, pkcs12.LegacyDES, chain, testPassword)
	otherKey := testKey(t, "p256#other")
	rsa1024 := newLeaf(t, chain.intermediate, "rsa1024", leafOptions{})
	p224 := newLeaf(t, chain.intermediate, "p224", leafOptions{})
	ber := append(append([]byte{0x30, 0x80}, modern[4:]...), 0, 0) // modern's header is 30 82 LL LL
	trustStore, err := pkcs12.Passwordless.EncodeTrustStore([]*x509.Certificate{chain.leaf.cert}, "")
	if err != nil {
		t.Fatal(err)
	}
	twoKeys := duplicateKeyBag(t, encodeChain(t, pkcs12.Passwordless, chain, ""))
	hostileMAC := rewriteInts(t, encodeChain(t, pkcs12.Modern2023.WithIterations(1999), chain, testPassword), 1999, 40_000_000)
	hostilePBMAC1 := rewriteInts(t, encodeChain(t, pkcs12.Modern2026.WithIterations(1999), chain, testPassword), 1999, 40_000_000)
	hostileTotal := rewriteInts(t, encodeChain(t, pkcs12.LegacyDES.WithIterations(1999), chain, testPassword), 1999, 500_000)
	hostileEmpty := rewriteInts(t, encodeChain(t, pkcs12.Modern2023.WithIterations(1999), chain, ""), 1999, 600_000)

	tests := map[string]struct {
		data     []byte
		password string
		want     string
		prefix   bool
	}{
		"empty":                 {nil, testPassword, "file is empty: upload the .pfx/.p12 archive", false},
		"too large":             {bytes.Repeat([]byte{0x30}, MaxArchiveSize+1), testPassword, "file is 262145 bytes; a PKCS#12 archive may be at most 256 KiB", false},
		"text":                  {[]byte("hello, this is not an archive\n"), testPassword, "file is not a PKCS#12 archive (.pfx/.p12)", false},
		"binary":                {[]byte{0x01, 0x02, 0xff, 0x00}, testPassword, "file is not a PKCS#12 archive (.pfx/.p12)", false},
		"base64 of text":        {[]byte(base64.StdEncoding.EncodeToString([]byte("not der"))), testPassword, "file is not a PKCS#12 archive (.pfx/.p12)", false},
		"truncated DER":         {modern[:len(modern)/2], testPassword, errTruncated.Msg, false},
		"DER certificate":       {chain.leaf.cert.Raw, testPassword, "file is a certificate without its private key, not a PKCS#12 archive: export the certificate together with its key", false},
		"PEM certificate":       {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain.leaf.cert.Raw}), testPassword, "file is a PEM CERTIFICATE, not a PKCS#12 archive: bundle the certificate and its key with `openssl pkcs12 -export -in cert.pem -inkey key.pem -out out.p12`", false},
		"PEM private key":       {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8Of(t, otherKey)}), testPassword, "file is a PEM PRIVATE KEY, not a PKCS#12 archive: ", true},
		"BER":                   {ber, testPassword, "archive is BER-encoded (indefinite lengths), which cannot be read: re-export it as DER with `openssl pkcs12 -in in.p12 -nodes | openssl pkcs12 -export -out out.p12`", false},
		"BER in base64":         {[]byte(base64.StdEncoding.EncodeToString(ber)), testPassword, "archive is BER-encoded", true},
		"wrong password":        {modern, "not-the-password", "archive password is incorrect", false},
		"wrong password legacy": {legacy, "not-the-password", "archive password is incorrect", false},
		"password missing":      {modern, "", "archive password is incorrect (no password was given)", false},
		"UCS-2 password":        {modern, "pass🔑word", "the password has characters PKCS#12 cannot encode (it allows only UCS-2, so no emoji or other characters outside the Basic Multilingual Plane): re-export the archive with a different password", false},
		"wrong password RC2":    {encodeChain(t, pkcs12.LegacyRC2, chain, testPassword), "not-the-password", "archive password is incorrect", false},
		"wrong password PBMAC1": {encodeChain(t, pkcs12.Modern2026, chain, testPassword), "not-the-password", "archive password is incorrect", false},
		"password given for a passwordless archive": {encodeChain(t, pkcs12.Passwordless, chain, ""), testPassword, "archive has no integrity check (MAC); re-export it with one (openssl pkcs12 -export without -nomac)", false},
		"no private key":                 {trustStore, "", "archive holds no private key: export the certificate together with its key", false},
		"two private keys":               {twoKeys, "", "archive holds more than one private key: export only the client certificate with its key", false},
		"key matches none":               {encodeP12(t, pkcs12.Modern2023, otherKey, chain.leaf.cert, []*x509.Certificate{chain.root.cert}, testPassword), testPassword, "private key matches no certificate in the archive", false},
		"RSA 1024":                       {encodeP12(t, pkcs12.Modern2023, rsa1024.key, rsa1024.cert, nil, testPassword), testPassword, "private key is RSA 1024, which is too weak: RSA keys need at least 2048 bits", false},
		"ECDSA P-224":                    {encodeP12(t, pkcs12.Modern2023, p224.key, p224.cert, nil, testPassword), testPassword, "private key is ECDSA P-224, which is not supported: use P-256, P-384 or P-521", false},
		"X25519":                         {encodeP12(t, pkcs12.Modern2023, testKey(t, "x25519"), chain.leaf.cert, nil, testPassword), testPassword, "private key type X25519 is not supported: use RSA (2048 bits or more), ECDSA P-256/P-384/P-521 or Ed25519", false},
		"MAC iterations":                 {hostileMAC, testPassword, "archive asks for 40000000 key-derivation iterations; the limit is 600000 per derivation (MAC): re-export it with fewer iterations", false},
		"PBMAC1 iterations":              {hostilePBMAC1, testPassword, "archive asks for 40000000 key-derivation iterations; the limit is 600000 per derivation (MAC): re-export it with fewer iterations", false},
		"total iterations":               {hostileTotal, testPassword, "archive asks for 2500000 key-derivation iterations; the limit is 2000000 in total: re-export it with fewer iterations", false},
		"empty password doubles the MAC": {hostileEmpty, "", "archive asks for 2400000 key-derivation iterations; the limit is 2000000 in total: re-export it with fewer iterations", false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := ImportPKCS12(tt.data, tt.password, time.Now())
			if got != nil {
				t.Errorf("ImportPKCS12 returned %v with error %v", got, err)
			}
			wantInputError(t, err, tt.want, tt.prefix, tt.password)
		})
	}
}

// TestCheckIterationsEmptyPassword shows why an empty password counts the MAC twice: go-pkcs12
// tries it both as an empty BMPString and as no bytes at all.
func TestCheckIterationsEmptyPassword(t *testing.T) {
	t.Parallel()
	der := rewriteInts(t, encodeChain(t, pkcs12.Modern2023.WithIterations(1999), newChain(t, "p256"), ""), 1999, 600_000)
	if err := checkIterations(der, false, defaultLimits); err != nil {
		t.Errorf("with a password: %v, want nil", err)
	}
	if err := checkIterations(der, true, defaultLimits); err == nil {
		t.Error("with an empty password: nil, want an error")
	}
}

// TestScanDerivations checks the pre-scan reaches every place go-pkcs12 will derive a key from.
func TestScanDerivations(t *testing.T) {
	t.Parallel()
	chain := newChain(t, "p256")
	tests := map[string]struct {
		enc  *pkcs12.Encoder
		want []derivation
	}{
		"Modern2023": {pkcs12.Modern2023, []derivation{{"MAC", 1999}, {"encrypted safe", 1999}, {"private key", 1999}}},
		"Modern2026": {pkcs12.Modern2026, []derivation{{"MAC", 1999}, {"encrypted safe", 1999}, {"private key", 1999}}},
		"LegacyDES": {pkcs12.LegacyDES, []derivation{
			{"MAC", 1999}, {"encrypted safe key", 1999}, {"encrypted safe IV", 1999}, {"private key key", 1999}, {"private key IV", 1999},
		}},
		"LegacyRC2": {pkcs12.LegacyRC2, []derivation{
			{"MAC", 1999}, {"encrypted safe key", 1999}, {"encrypted safe IV", 1999}, {"private key key", 1999}, {"private key IV", 1999},
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			der := encodeChain(t, tt.enc.WithIterations(1999), chain, testPassword)
			got := scanDerivations(der, false)
			if diff := cmp.Diff(got, tt.want, cmp.AllowUnexported(derivation{})); diff != "" {
				t.Errorf("scanDerivations (-got +want):\n%s", diff)
			}
		})
	}
	t.Run("Passwordless", func(t *testing.T) {
		t.Parallel()
		if got := scanDerivations(encodeChain(t, pkcs12.Passwordless, chain, ""), true); len(got) != 0 {
			t.Errorf("scanDerivations = %v, want none", got)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		t.Parallel()
		garbage := make([]byte, 512)
		rand.Read(garbage)
		garbage[0] = 0x30
		if got := scanDerivations(garbage, false); len(got) != 0 {
			t.Errorf("scanDerivations = %v, want none", got)
		}
	})
}

// TestImportPKCS12Budget gives the decoder less CPU time than it needs.
func TestImportPKCS12Budget(t *testing.T) {
	t.Parallel()
	chain := newChain(t, "p256")
	archive := encodeChain(t, pkcs12.Modern2023.WithIterations(20_000), chain, testPassword)
	lim := defaultLimits
	lim.budget = time.Nanosecond
	_, err := importWith(archive, testPassword, time.Now(), lim)
	wantInputError(t, err, "archive needs more than 1ns of CPU time to decode: re-export it with fewer key-derivation iterations", false, testPassword)
}

// TestImportPKCS12Busy holds every decode slot, as abandoned decodes would. It is not parallel:
// it must not starve the other tests.
func TestImportPKCS12Busy(t *testing.T) {
	archive := encodeChain(t, pkcs12.Modern2023, newChain(t, "p256"), testPassword)
	for range cap(decodeSlots) {
		decodeSlots <- struct{}{}
	}
	lim := defaultLimits
	lim.slotWait = 50 * time.Millisecond
	_, err := importWith(archive, testPassword, time.Now(), lim)
	for range cap(decodeSlots) {
		<-decodeSlots
	}
	if !errors.Is(err, ErrBusy) {
		t.Errorf("error = %v, want ErrBusy", err)
	}
	if _, err := ImportPKCS12(archive, testPassword, time.Now()); err != nil {
		t.Errorf("after the slots were freed: %v", err)
	}
}
