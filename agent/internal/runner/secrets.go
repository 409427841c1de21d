package runner

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"time"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Credential is a credential set from the vault: a user name and password
// (for OAuth2 client credentials, the client id and secret).
type Credential struct{ Username, Password string }

// Secrets is what the agent fetched for this run (already unsealed and parsed).
type Secrets struct {
	Certificates map[string]*tls.Certificate // by vault item NAME (tls.Certificate.Leaf set)
	Credentials  map[string]Credential       // by vault item NAME
	Platform     *tls.Certificate            // nil on private checkpoints / when not configured
	Values       map[string]string           // vault secrets by item NAME: redacted wherever they appear
	Files        map[string]File             // vault files by item NAME
}

// identity is the client certificate a step presents, if any.
type identity struct {
	key  string // distinguishes transports: "none", "platform", "vault:<item>"
	cert *tls.Certificate
	info *lookoutv1.CertificateInfo
}

var noIdentity = identity{key: "none"}

// pickIdentity resolves a step's client certificate choice against the run's secrets. A run's
// steps mostly share one certificate: its public facts are worked out once per run.
func (rs *runState) pickIdentity(cc *lookoutv1.ClientCertificate) (identity, error) {
	s := rs.secrets
	switch cc.GetSource() {
	case lookoutv1.CertificateSource_CERTIFICATE_SOURCE_VAULT:
		item := cc.GetItem()
		if item == "" {
			return identity{}, failf(lookoutv1.ErrorClass_ERROR_CLASS_SECRET,
				"the step asks for a vault client certificate but names no vault item")
		}
		cert := s.Certificates[item]
		if cert == nil {
			return identity{}, failf(lookoutv1.ErrorClass_ERROR_CLASS_SECRET,
				"client certificate %q was not provided for this run", item)
		}
		return rs.identity("vault:"+item, cert)
	case lookoutv1.CertificateSource_CERTIFICATE_SOURCE_PLATFORM:
		if s.Platform == nil {
			return identity{}, failf(lookoutv1.ErrorClass_ERROR_CLASS_POLICY,
				"the platform certificate is not available on this checkpoint")
		}
		return rs.identity("platform", s.Platform)
	}
	return noIdentity, nil
}

// identity returns the identity for cert under key, with a CertificateInfo of its own for the
// step's result (the facts in it are computed on the run's first use of cert).
func (rs *runState) identity(key string, cert *tls.Certificate) (identity, error) {
	f, ok := rs.certs[cert]
	if !ok {
		leaf, err := leafOf(cert)
		if err != nil {
			return identity{}, failf(lookoutv1.ErrorClass_ERROR_CLASS_SECRET,
				"client certificate (%s) is unusable: %v", key, err)
		}
		f = certFacts{subject: leaf.Subject.String(), fingerprint: fingerprint(leaf.Raw), notAfter: leaf.NotAfter}
		if rs.certs == nil {
			rs.certs = map[*tls.Certificate]certFacts{}
		}
		rs.certs[cert] = f
	}
	return identity{key: key, cert: cert, info: f.info()}, nil
}

// certFacts are the public facts of a client certificate that results show.
type certFacts struct {
	subject, fingerprint string
	notAfter             time.Time
}

func (f certFacts) info() *lookoutv1.CertificateInfo {
	return &lookoutv1.CertificateInfo{Subject: f.subject, Sha256Fingerprint: f.fingerprint, NotAfter: timestamppb.New(f.notAfter)}
}

func leafOf(cert *tls.Certificate) (*x509.Certificate, error) {
	if cert.Leaf != nil {
		return cert.Leaf, nil
	}
	if len(cert.Certificate) == 0 {
		return nil, errNoCertificate
	}
	return x509.ParseCertificate(cert.Certificate[0])
}

type constError string

func (e constError) Error() string { return string(e) }

const errNoCertificate = constError("it holds no certificate")

// fingerprint is the lower-case hex SHA-256 of a certificate's DER.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
