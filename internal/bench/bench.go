// Package bench measures Lookout's costs against their baselines in one
// process, alternating, over a fixed number of rounds.
package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"slices"
	"time"

	"github.com/lookout-synthetics/lookout/internal/sealing"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

const rounds = 5

// figure is one measured cost: the median and spread over rounds, in µs.
type figure struct {
	key    string
	median float64
	min    float64
	max    float64
}

// Run measures every figure and writes the table and key=value lines to w.
func Run(w io.Writer) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench-client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	p12, err := pkcs12.Modern.Encode(key, leaf, nil, "bench")
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	cache := map[string]*tls.Certificate{}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return err
	}
	cache["partner-cert"] = &c

	priv, err := sealing.NewKey()
	if err != nil {
		return err
	}
	info := sealing.Info("agent-1", "run-1", 1)
	sealed, err := sealing.Seal(priv.PublicKey().Bytes(), info, make([]byte, 4096))
	if err != nil {
		return err
	}

	var figs []figure
	// Alternate the candidates round by round so drift hits all of them.
	cands := []struct {
		key   string
		iters int
		f     func() error
	}{
		{"pkcs12_decode_us", 50, func() error { _, _, _, err := pkcs12.DecodeChain(p12, "bench"); return err }},
		{"x509keypair_us", 200, func() error { _, err := tls.X509KeyPair(certPEM, keyPEM); return err }},
		{"cached_cert_us", 100000, func() error {
			if cache["partner-cert"] == nil {
				return fmt.Errorf("cache miss")
			}
			return nil
		}},
		{"unseal_4k_us", 200, func() error { _, err := sealing.Open(priv, info, sealed); return err }},
	}
	samples := make([][]float64, len(cands))
	for range rounds {
		for i, cd := range cands {
			fg, err := measureOnce(cd.iters, cd.f)
			if err != nil {
				return fmt.Errorf("%s: %w", cd.key, err)
			}
			samples[i] = append(samples[i], fg)
		}
	}
	for i, cd := range cands {
		s := samples[i]
		slices.Sort(s)
		figs = append(figs, figure{key: cd.key, median: s[len(s)/2], min: s[0], max: s[len(s)-1]})
	}
	fmt.Fprintf(w, "%-22s %12s %12s %12s\n", "figure", "median", "min", "max")
	for _, f := range figs {
		fmt.Fprintf(w, "%-22s %12.3f %12.3f %12.3f\n", f.key, f.median, f.min, f.max)
	}
	for _, f := range figs {
		fmt.Fprintf(w, "%s=%.3f\n", f.key, f.median)
	}
	return nil
}

// measureOnce returns µs per call of f over iters calls.
func measureOnce(iters int, f func() error) (float64, error) {
	start := time.Now()
	for range iters {
		if err := f(); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Nanoseconds()) / 1e3 / float64(iters), nil
}
