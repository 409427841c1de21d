package lookoutv1

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// MaxCABundle caps the PEM text of one step's extra CA bundle.
const MaxCABundle = 256 << 10

// ParseCABundle reads a step's extra CA bundle: one or more PEM CERTIFICATE
// blocks. Text between blocks is ignored (bundles often carry comments); any
// other kind of PEM block is refused, so that a private key pasted by mistake
// is never accepted and stored in a monitor. Errors never quote the input.
func ParseCABundle(text string) ([]*x509.Certificate, error) {
	if len(text) > MaxCABundle {
		return nil, fmt.Errorf("is %d bytes, more than the %d allowed", len(text), MaxCABundle)
	}
	var certs []*x509.Certificate
	rest := []byte(text)
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			if strings.Contains(block.Type, "PRIVATE KEY") {
				return nil, fmt.Errorf("PEM block %d is a %s: a CA bundle holds certificates only; remove the key (and treat it as exposed)", n, block.Type)
			}
			return nil, fmt.Errorf("PEM block %d is a %s, not a CERTIFICATE", n, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %w", n, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("holds no certificate: give PEM text with -----BEGIN CERTIFICATE----- blocks")
	}
	return certs, nil
}

func (v *validator) caBundle(p, text string) {
	if text == "" {
		return
	}
	if _, err := ParseCABundle(text); err != nil {
		v.addf(p, "%v", err)
	}
}
