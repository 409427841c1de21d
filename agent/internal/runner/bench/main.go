// Command bench measures the runner's cost per step against a bare net/http client doing the same
// mTLS request with the same certificate, in the same process, alternating, and prints the medians
// and their ratios. `make bench` runs it next to internal/bench (it lives under agent/ because the
// runner is internal to the agent).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"sort"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lookout-synthetics/lookout/agent/internal/runner"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

const (
	rounds     = 5
	newconnN   = 200 // runs per round, each a fresh connection
	keepaliveN = 40  // runs per round, each keepaliveSteps steps on one connection
	keepSteps  = 20
)

var (
	cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the measured cases to this file")
	only       = flag.String("only", "", "run only the case with this name (e.g. runner_keepalive), for profiling")
)

func main() {
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, server bool) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func run() error {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	serverCert, err := issue(ca, caKey, "target", true)
	if err != nil {
		return err
	}
	clientCert, err := issue(ca, caKey, "client", false)
	if err != nil {
		return err
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()
	url := srv.URL + "/health"

	r := runner.New(runner.Options{RootCAs: pool})
	secrets := &runner.Secrets{Certificates: map[string]*tls.Certificate{"c": &clientCert}}
	monitor := func(steps int) *pb.Monitor {
		m := &pb.Monitor{Id: "m", Name: "bench", Timeout: durationpb.New(30 * time.Second)}
		for i := 0; i < steps; i++ {
			m.Steps = append(m.Steps, &pb.Step{Name: fmt.Sprint("s", i), Request: &pb.HttpRequest{Url: url,
				ClientCertificate: &pb.ClientCertificate{Source: pb.CertificateSource_CERTIFICATE_SOURCE_VAULT, Item: "c"}},
				Assert: []*pb.Assertion{{Source: pb.AssertSource_ASSERT_SOURCE_STATUS, Comparison: pb.Comparison_COMPARISON_EQUAL, Value: "200"}}})
		}
		return m
	}
	one, many := monitor(1), monitor(keepSteps)
	ctx := context.Background()
	runOnce := func(m *pb.Monitor) error {
		res := r.Run(ctx, &pb.RunRequest{RunId: "r", Attempt: 1, CheckpointId: "cp", Monitor: m}, secrets)
		if res.Outcome != pb.Outcome_OUTCOME_PASSED {
			return fmt.Errorf("runner: %s", res.Message)
		}
		return nil
	}
	bareTransport := func() *http.Transport {
		return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}}, ForceAttemptHTTP2: true}
	}
	get := func(c *http.Client) error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("bare: status %d", resp.StatusCode)
		}
		return nil
	}

	// Each case returns the time per step of one round.
	cases := []struct {
		name string
		fn   func() (time.Duration, error)
	}{
		{"runner_newconn", func() (time.Duration, error) {
			t0 := time.Now()
			for i := 0; i < newconnN; i++ {
				if err := runOnce(one); err != nil {
					return 0, err
				}
			}
			return time.Since(t0) / newconnN, nil
		}},
		{"bare_newconn", func() (time.Duration, error) {
			t0 := time.Now()
			for i := 0; i < newconnN; i++ {
				tr := bareTransport()
				if err := get(&http.Client{Transport: tr}); err != nil {
					return 0, err
				}
				tr.CloseIdleConnections()
			}
			return time.Since(t0) / newconnN, nil
		}},
		{"runner_keepalive", func() (time.Duration, error) {
			t0 := time.Now()
			for i := 0; i < keepaliveN; i++ {
				if err := runOnce(many); err != nil {
					return 0, err
				}
			}
			return time.Since(t0) / (keepaliveN * keepSteps), nil
		}},
		{"bare_keepalive", func() (time.Duration, error) {
			t0 := time.Now()
			for i := 0; i < keepaliveN; i++ {
				tr := bareTransport()
				c := &http.Client{Transport: tr}
				for s := 0; s < keepSteps; s++ {
					if err := get(c); err != nil {
						return 0, err
					}
				}
				tr.CloseIdleConnections()
			}
			return time.Since(t0) / (keepaliveN * keepSteps), nil
		}},
	}
	samples := map[string][]time.Duration{}
	for round := 0; round < rounds; round++ {
		for _, c := range cases {
			if *only != "" && c.name != *only {
				continue
			}
			d, err := c.fn()
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			samples[c.name] = append(samples[c.name], d)
		}
	}
	med := func(name string) time.Duration {
		s := append([]time.Duration(nil), samples[name]...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[len(s)/2]
	}
	fmt.Printf("%-18s %12s %12s %12s\n", "agent step (µs)", "median", "min", "max")
	for _, c := range cases {
		if len(samples[c.name]) == 0 {
			continue
		}
		s := append([]time.Duration(nil), samples[c.name]...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		fmt.Printf("%-18s %12.1f %12.1f %12.1f\n", c.name, us(s[len(s)/2]), us(s[0]), us(s[len(s)-1]))
	}
	if *only != "" {
		return nil
	}
	fmt.Printf("agent_step_newconn_us=%.1f\nbare_step_newconn_us=%.1f\n", us(med("runner_newconn")), us(med("bare_newconn")))
	fmt.Printf("agent_step_keepalive_us=%.1f\nbare_step_keepalive_us=%.1f\n", us(med("runner_keepalive")), us(med("bare_keepalive")))
	fmt.Printf("agent_step_ratio_newconn=%.2f\n", float64(med("runner_newconn"))/float64(med("bare_newconn")))
	fmt.Printf("agent_step_ratio_keepalive=%.2f\n", float64(med("runner_keepalive"))/float64(med("bare_keepalive")))
	return nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
