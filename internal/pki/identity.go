package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// KeyPair is a certificate and its key, ready for tls.Certificate.
type KeyPair struct {
	DER []byte
	Key crypto.Signer
}

// TLS returns the pair as a tls.Certificate chained to the CA.
func (p *KeyPair) TLS(ca *CA) tls.Certificate {
	leaf, _ := x509.ParseCertificate(p.DER)
	return tls.Certificate{Certificate: [][]byte{p.DER, ca.Cert.Raw}, PrivateKey: p.Key, Leaf: leaf}
}

// Identity is what an agent client certificate asserts. The controller writes it; it is read only
// from certificates whose chain verified against the internal CA.
type Identity struct {
	AgentID      string
	CheckpointID string
	Kind         string // "public" | "private"
}

const identityScheme = "lookout"

// URI encodes the identity as the certificate's URI SAN.
func (id Identity) URI() *url.URL {
	q := url.Values{"checkpoint": {id.CheckpointID}, "kind": {id.Kind}}
	return &url.URL{Scheme: identityScheme, Host: "agent", Path: "/" + id.AgentID, RawQuery: q.Encode()}
}

// IdentityFromCert reads the identity from a verified agent certificate.
func IdentityFromCert(c *x509.Certificate) (Identity, error) {
	for _, u := range c.URIs {
		if u.Scheme != identityScheme || u.Host != "agent" {
			continue
		}
		q := u.Query()
		id := Identity{AgentID: trimSlash(u.Path), CheckpointID: q.Get("checkpoint"), Kind: q.Get("kind")}
		if id.AgentID == "" || id.CheckpointID == "" || (id.Kind != "public" && id.Kind != "private") {
			return Identity{}, errors.New("agent certificate has an incomplete identity")
		}
		return id, nil
	}
	return Identity{}, errors.New("certificate does not name a Lookout agent")
}

func trimSlash(p string) string {
	if len(p) > 0 && p[0] == '/' {
		return p[1:]
	}
	return p
}

// Backdate is how far before its issue an agent certificate's NotBefore is set, so that an agent
// whose clock runs a little behind the controller's accepts it at once. Agents add it back to
// NotBefore to learn when their certificate was issued: the lifetime they renew within is
// NotAfter minus that, not minus the backdated NotBefore.
const Backdate = 5 * time.Minute

// IssueAgentCertificate checks the CSR's signature (proof that the agent holds the key) and issues a
// client certificate for it naming id, valid for ttl.
func (ca *CA) IssueAgentCertificate(csrDER []byte, id Identity, ttl time.Duration) ([]byte, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("certificate request is not valid PKCS#10: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request signature does not verify: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "lookout-agent " + id.AgentID, OrganizationalUnit: []string{id.Kind, id.CheckpointID}},
		NotBefore:    now.Add(-Backdate),
		NotAfter:     now.Add(ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{id.URI()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issuing agent certificate: %w", err)
	}
	return der, nil
}

// ControllerURI is the URI SAN of the controller's own NATS client certificate; an external NATS
// deployment with `verify_and_map` maps it to the controller's user.
const ControllerURI = "lookout://controller"

// ControllerClientCertificate issues the controller a client certificate (ECDSA P-256, 90 days)
// naming ControllerURI, for connecting to an external NATS server that verifies client certificates.
func (ca *CA) ControllerClientCertificate() (*KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(ControllerURI)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "lookout-controller"},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.AddDate(0, 0, 90),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{u},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issuing the controller's client certificate: %w", err)
	}
	return &KeyPair{DER: der, Key: key}, nil
}
