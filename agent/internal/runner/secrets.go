package runner

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"

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

// pickIdentity resolves a step's client certificate choice against the run's secrets.
func pickIdentity(cc *lookoutv1.ClientCertificate, s *Secrets) (identity, error) {
	switch cc.GetSource() {
	case lookoutv1.CertificateSource_CERTIFICATE_SOURCE_VAULT:
		return vaultIdentity(cc.GetItem(), s.Certificates[cc.GetItem()])
	case lookoutv1.CertificateSource_CERTIFICATE_SOURCE_PLATFORM:
		if s.Platform == nil {
			return identity{}, failf(lookoutv1.ErrorClass_ERROR_CLASS_POLICY,
				"the platform certificate is not available on this checkpoint")
		}
		return newIdentity("platform", s.Platform)
	}
	return noIdentity, nil
}

func vaultIdentity(item string, cert *tls.Certificate) (identity, error) {
	if item == "" {
		return identity{}, failf(lookoutv1.ErrorClass_ERROR_CLASS_SECRET,
			"the step asks for a vault client certificate but names no vault item")
	}
	if cert == nil {
		return identity{}, failf(lookoutv1.ErrorClass_ERROR_CLASS_SECRET,
			"client certificate %q was not provided for this run", item)
	}
	return newIdentity("vault:"+item, cert)
}

func newIdentity(key string, cert *tls.Certificate) (identity, error) {
	leaf, err := leafOf(cert)
	if err != nil {
		return identity{}, failf(lookoutv1.ErrorClass_ERROR_CLASS_SECRET,
			"client certificate (%s) is unusable: %v", key, err)
	}
	return identity{key: key, cert: cert, info: certificateInfo(leaf)}, nil
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

// certificateInfo describes a client certificate for results: public facts only.
func certificateInfo(leaf *x509.Certificate) *lookoutv1.CertificateInfo {
	return &lookoutv1.CertificateInfo{
		Subject:           leaf.Subject.String(),
		Sha256Fingerprint: fingerprint(leaf.Raw),
		NotAfter:          timestamppb.New(leaf.NotAfter),
	}
}

// fingerprint is the lower-case hex SHA-256 of a certificate's DER.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
