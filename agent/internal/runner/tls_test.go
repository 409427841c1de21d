package runner

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// echoClientCN answers with the common name of the client certificate.
var echoClientCN = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprint(w, r.TLS.PeerCertificates[0].Subject.CommonName)
})

func TestClientCertificates(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	srv := newTLSServer(t, ca, true, echoClientCN)
	vault := ca.issue(t, "partner-client", false)
	platform := ca.issue(t, "lookout-platform", false)
	full := &Secrets{Certificates: map[string]*tls.Certificate{"partner-cert": vault}, Platform: platform}
	vaultCert := &lookoutv1.ClientCertificate{Source: lookoutv1.CertificateSource_CERTIFICATE_SOURCE_VAULT, Item: "partner-cert"}
	platformCert := &lookoutv1.ClientCertificate{Source: lookoutv1.CertificateSource_CERTIFICATE_SOURCE_PLATFORM}

	tests := map[string]struct {
		cert     *lookoutv1.ClientCertificate
		secrets  *Secrets
		want     stepBrief
		wantBody string
		wantInfo *lookoutv1.CertificateInfo
	}{
		"vault certificate": {
			cert: vaultCert, secrets: full,
			want:     stepBrief{Name: "orders", Passed: true, Status: 200, Attempts: 1},
			wantBody: "partner-client", wantInfo: info(vault),
		},
		"platform certificate": {
			cert: platformCert, secrets: full,
			want:     stepBrief{Name: "orders", Passed: true, Status: 200, Attempts: 1},
			wantBody: "lookout-platform", wantInfo: info(platform),
		},
		"no certificate": {
			secrets: full,
			want: stepBrief{Name: "orders", Class: lookoutv1.ErrorClass_ERROR_CLASS_TLS, Attempts: 3,
				Error: "TLS handshake failed: the server requires a client certificate; the step presents no client certificate (set client_certificate to a vault item or platform)"},
		},
		"platform certificate not on this checkpoint": {
			cert: platformCert, secrets: &Secrets{},
			want: stepBrief{Name: "orders", Class: lookoutv1.ErrorClass_ERROR_CLASS_POLICY, Attempts: 1,
				Error: "the platform certificate is not available on this checkpoint"},
		},
		"vault certificate not provided": {
			cert: vaultCert, secrets: &Secrets{},
			want: stepBrief{Name: "orders", Class: lookoutv1.ErrorClass_ERROR_CLASS_SECRET, Attempts: 1,
				Error: `client certificate "partner-cert" was not provided for this run`},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			step := get("orders", srv.URL, statusIs("200"))
			step.Request.ClientCertificate = tt.cert
			step.Retry = &lookoutv1.Retry{MaxAttempts: 3} // configuration errors are not retried
			res := runMonitor(t, New(Options{RootCAs: ca.pool}), monitor(step), tt.secrets)
			if diff := cmp.Diff(briefs(res), []stepBrief{tt.want}); diff != "" {
				t.Errorf("steps (-got +want):\n%s", diff)
			}
			got := res.GetSteps()[0]
			if got.GetBodyExcerpt() != tt.wantBody {
				t.Errorf("body = %q, want %q", got.GetBodyExcerpt(), tt.wantBody)
			}
			if diff := cmp.Diff(got.GetClientCertificate(), tt.wantInfo, protocmp.Transform()); diff != "" {
				t.Errorf("client certificate (-got +want):\n%s", diff)
			}
		})
	}
}

func info(c *tls.Certificate) *lookoutv1.CertificateInfo {
	sum := sha256.Sum256(c.Leaf.Raw)
	return &lookoutv1.CertificateInfo{
		Subject:           "CN=" + c.Leaf.Subject.CommonName + ",O=Lookout Tests",
		Sha256Fingerprint: hex.EncodeToString(sum[:]),
		NotAfter:          timestamppb.New(c.Leaf.NotAfter),
	}
}

func TestClientCertificateFromUntrustedIssuer(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	srv := newTLSServer(t, ca, true, echoClientCN)
	stranger := newCA(t).issue(t, "stranger", false)
	step := get("orders", srv.URL)
	step.Request.ClientCertificate = &lookoutv1.ClientCertificate{Source: lookoutv1.CertificateSource_CERTIFICATE_SOURCE_PLATFORM}
	res := runMonitor(t, New(Options{RootCAs: ca.pool}), monitor(step), &Secrets{Platform: stranger})
	want := []stepBrief{{Name: "orders", Class: lookoutv1.ErrorClass_ERROR_CLASS_TLS, Attempts: 1,
		Error: "TLS handshake failed: the server does not trust the issuer of the client certificate; the step presented the platform certificate (subject " +
			infoOf(stranger) + ")"}}
	if diff := cmp.Diff(briefs(res), want); diff != "" {
		t.Errorf("steps (-got +want):\n%s", diff)
	}
}

func TestServerCertificate(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	srv := newTLSServer(t, ca, false, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tests := map[string]struct {
		insecure bool
		want     stepBrief
	}{
		"untrusted": {want: stepBrief{Name: "s", Class: lookoutv1.ErrorClass_ERROR_CLASS_TLS, Attempts: 1,
			Error: "TLS handshake failed: the server's certificate is signed by an unknown authority " +
				"(trust its CA or set ignore_certificate_errors)"}},
		"ignored": {insecure: true, want: stepBrief{Name: "s", Passed: true, Status: 200, Attempts: 1}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			step := get("s", srv.URL)
			step.Request.IgnoreCertificateErrors = tt.insecure
			res := runMonitor(t, New(Options{}), monitor(step), nil) // system roots do not know ca
			if diff := cmp.Diff(briefs(res), []stepBrief{tt.want}); diff != "" {
				t.Errorf("steps (-got +want):\n%s", diff)
			}
		})
	}
}

// TestConnectionsPerIdentity checks that steps with the same identity share
// a connection, other identities get their own, and runs never share.
func TestConnectionsPerIdentity(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	var mu sync.Mutex
	conns := 0
	srv := newTLSServer(t, ca, true, echoClientCN, func(srv *httptest.Server) {
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				mu.Lock()
				conns++
				mu.Unlock()
			}
		}
	})
	secrets := &Secrets{
		Certificates: map[string]*tls.Certificate{"a": ca.issue(t, "a", false)},
		Platform:     ca.issue(t, "p", false),
	}
	withCert := func(src lookoutv1.CertificateSource, item string) *lookoutv1.Step {
		s := get("s", srv.URL, statusIs("200"))
		s.Request.ClientCertificate = &lookoutv1.ClientCertificate{Source: src, Item: item}
		return s
	}
	m := monitor(
		withCert(lookoutv1.CertificateSource_CERTIFICATE_SOURCE_VAULT, "a"),
		withCert(lookoutv1.CertificateSource_CERTIFICATE_SOURCE_VAULT, "a"),
		withCert(lookoutv1.CertificateSource_CERTIFICATE_SOURCE_PLATFORM, ""),
		withCert(lookoutv1.CertificateSource_CERTIFICATE_SOURCE_VAULT, "a"),
	)
	r := New(Options{RootCAs: ca.pool})
	var bodies []string
	for range 2 {
		res := runMonitor(t, r, m, secrets)
		for _, st := range res.GetSteps() {
			bodies = append(bodies, st.GetBodyExcerpt())
		}
	}
	if diff := cmp.Diff(bodies, []string{"a", "a", "p", "a", "a", "a", "p", "a"}); diff != "" {
		t.Errorf("identities seen by the server (-got +want):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 4 {
		t.Errorf("server saw %d connections, want 4 (two identities × two runs)", conns)
	}
}

// TestMissingClientCertificateTLS12 covers servers that stop at TLS 1.2,
// where the refusal is a handshake failure alert during the handshake.
func TestMissingClientCertificateTLS12(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	srv := newTLSServer(t, ca, true, echoClientCN, func(srv *httptest.Server) { srv.TLS.MaxVersion = tls.VersionTLS12 })
	res := runMonitor(t, New(Options{RootCAs: ca.pool}), monitor(get("orders", srv.URL)), nil)
	want := []stepBrief{{Name: "orders", Class: lookoutv1.ErrorClass_ERROR_CLASS_TLS, Attempts: 1,
		Error: "TLS handshake failed: the server refused the handshake (it may require a client certificate, " +
			"or support none of the offered TLS versions and ciphers)"}}
	if diff := cmp.Diff(briefs(res), want); diff != "" {
		t.Errorf("steps (-got +want):\n%s", diff)
	}
}
