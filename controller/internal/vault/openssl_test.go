package vault

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The archives in these tests are made by the openssl command, as users make them.

const opensslPassword = "openssl-pass-123"

func requireOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl command not found: the tests of archives made by openssl need it (e.g. apt-get install openssl)")
	}
}

// opensslFiles writes the chain's PEM files: leaf.pem, key.pem, intermediate.pem, root.pem,
// cas.pem (intermediate then root) and cas-root-first.pem.
func opensslFiles(t *testing.T, c testChain) string {
	t.Helper()
	dir := t.TempDir()
	certPEM := func(certs ...*x509.Certificate) []byte {
		var out []byte
		for _, cert := range certs {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
		}
		return out
	}
	files := map[string][]byte{
		"leaf.pem":           certPEM(c.leaf.cert),
		"key.pem":            pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8Of(t, c.leaf.key)}),
		"intermediate.pem":   certPEM(c.intermediate.cert),
		"root.pem":           certPEM(c.root.cert),
		"cas.pem":            certPEM(c.intermediate.cert, c.root.cert),
		"cas-root-first.pem": certPEM(c.root.cert, c.intermediate.cert),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// opensslExport runs `openssl pkcs12 -export` in dir with args and returns the archive.
func opensslExport(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	out := filepath.Join(dir, "out.p12")
	args = append([]string{"pkcs12", "-export", "-out", out}, args...)
	cmd := exec.CommandContext(t.Context(), "openssl", args...)
	cmd.Dir = dir
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %q: %v\n%s", args, err, output)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestImportOpenSSL(t *testing.T) {
	t.Parallel()
	requireOpenSSL(t)
	pass := "pass:" + opensslPassword
	variants := map[string][]string{
		"default AES-256 PBKDF2":   {"-in", "leaf.pem", "-inkey", "key.pem", "-certfile", "cas.pem", "-passout", pass},
		"legacy RC2 3DES":          {"-legacy", "-in", "leaf.pem", "-inkey", "key.pem", "-certfile", "cas.pem", "-passout", pass},
		"descert":                  {"-descert", "-in", "leaf.pem", "-inkey", "key.pem", "-certfile", "cas.pem", "-passout", pass},
		"certfile root first":      {"-in", "leaf.pem", "-inkey", "key.pem", "-certfile", "cas-root-first.pem", "-passout", pass},
		"chain built by openssl":   {"-chain", "-CAfile", "cas.pem", "-in", "leaf.pem", "-inkey", "key.pem", "-passout", pass},
		"certificates unencrypted": {"-certpbe", "NONE", "-in", "leaf.pem", "-inkey", "key.pem", "-certfile", "cas.pem", "-passout", pass},
		"SHA-512 MAC":              {"-macalg", "sha512", "-in", "leaf.pem", "-inkey", "key.pem", "-certfile", "cas.pem", "-passout", pass},
		"empty password":           {"-in", "leaf.pem", "-inkey", "key.pem", "-certfile", "cas.pem", "-passout", "pass:"},
	}
	for _, keyName := range []string{"p256", "rsa"} {
		chain := newChain(t, keyName)
		dir := opensslFiles(t, chain)
		for name, args := range variants {
			// openssl writes out.p12 in dir, so one chain's variants run one after another.
			archive := opensslExport(t, dir, args...)
			t.Run(keyName+"/"+name, func(t *testing.T) {
				t.Parallel()
				password := opensslPassword
				if name == "empty password" {
					password = ""
				}
				got, err := ImportPKCS12(archive, password, time.Now())
				if err != nil {
					t.Fatalf("ImportPKCS12: %v", err)
				}
				checkImported(t, got, chain.certs(), chain.leaf.key)
			})
		}
	}
}

func TestImportOpenSSLErrors(t *testing.T) {
	t.Parallel()
	requireOpenSSL(t)
	pass := "pass:" + opensslPassword
	dir := opensslFiles(t, newChain(t, "p256"))
	tests := map[string]struct {
		args     []string
		password string
		want     string
		prefix   bool
	}{
		"wrong password": {
			[]string{"-in", "leaf.pem", "-inkey", "key.pem", "-passout", pass},
			"wrong", "archive password is incorrect", false,
		},
		"wrong password legacy": {
			[]string{"-legacy", "-in", "leaf.pem", "-inkey", "key.pem", "-passout", pass},
			"wrong", "archive password is incorrect", false,
		},
		"nomac": {
			[]string{"-nomac", "-in", "leaf.pem", "-inkey", "key.pem", "-passout", pass},
			opensslPassword, "archive has no integrity check (MAC); re-export it with one (openssl pkcs12 -export without -nomac)", false,
		},
		"nokeys": {
			[]string{"-nokeys", "-in", "leaf.pem", "-certfile", "cas.pem", "-passout", pass},
			opensslPassword, "archive holds no private key: export the certificate together with its key", false,
		},
		"nocerts": {
			[]string{"-nocerts", "-inkey", "key.pem", "-passout", pass},
			opensslPassword, "archive holds no certificate: export the certificate together with its key", false,
		},
		"SHA-384 MAC": {
			[]string{"-macalg", "sha384", "-in", "leaf.pem", "-inkey", "key.pem", "-passout", pass},
			opensslPassword, "archive uses an unsupported algorithm: MAC digest algorithm not supported: 2.16.840.1.101.3.4.2.2: " +
				"re-export it with `openssl pkcs12 -export` (AES-256-CBC, SHA-256 MAC)", false,
		},
		"iterations everywhere": {
			[]string{"-iter", "700000", "-in", "leaf.pem", "-inkey", "key.pem", "-passout", pass},
			opensslPassword, "archive asks for 700000 key-derivation iterations; the limit is 600000 per derivation (MAC): re-export it with fewer iterations", false,
		},
		"iterations in the encrypted safe": {
			[]string{"-iter", "700000", "-nomaciter", "-in", "leaf.pem", "-inkey", "key.pem", "-passout", pass},
			opensslPassword, "archive asks for 700000 key-derivation iterations; the limit is 600000 per derivation (encrypted safe): re-export it with fewer iterations", false,
		},
		"iterations in the key bag": {
			[]string{"-iter", "700000", "-nomaciter", "-certpbe", "NONE", "-in", "leaf.pem", "-inkey", "key.pem", "-passout", pass},
			opensslPassword, "archive asks for 700000 key-derivation iterations; the limit is 600000 per derivation (private key): re-export it with fewer iterations", false,
		},
	}
	for name, tt := range tests {
		archive := opensslExport(t, dir, tt.args...)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := ImportPKCS12(archive, tt.password, time.Now())
			if got != nil {
				t.Errorf("ImportPKCS12 returned %v", got)
			}
			wantInputError(t, err, tt.want, tt.prefix, tt.password)
		})
	}
}

// TestImportOpenSSLTruncated uploads an archive made by openssl and cut short, as a copy that
// stopped early leaves it: the message says so in the user's terms, not as an asn1 syntax error.
func TestImportOpenSSLTruncated(t *testing.T) {
	t.Parallel()
	requireOpenSSL(t)
	dir := opensslFiles(t, newChain(t, "p256"))
	archive := opensslExport(t, dir, "-in", "leaf.pem", "-inkey", "key.pem", "-certfile", "cas.pem", "-passout", "pass:"+opensslPassword)
	for name, cut := range map[string]int{"half": len(archive) / 2, "last byte": len(archive) - 1, "first 100 bytes": 100} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ImportPKCS12(archive[:cut], opensslPassword, time.Now())
			wantInputError(t, err, errTruncated.Msg, false, opensslPassword)
		})
	}
}
