package vault

import (
	"bytes"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Limits of the upload pipeline; see the package documentation. DecodeBudget is CPU time, not
// wall-clock time: an archive at the iteration caps needs about a second of it whatever else the
// machine is doing, while its wall-clock time grows with the load. SlotWait is how long an upload
// waits for a decode slot before it is told to try again.
const (
	MaxArchiveSize             = 256 << 10
	MaxIterationsPerDerivation = 600_000
	MaxIterationsTotal         = 2_000_000
	DecodeBudget               = 10 * time.Second
	SlotWait                   = 10 * time.Second
)

// Imported is a certificate archive after normalisation: what the vault stores and describes.
type Imported struct {
	ChainDER [][]byte // leaf first, then its issuers in order, then any unrelated certificates
	PKCS8Key []byte
	Info     *lookoutv1.CertificateInfo
	Warnings []string // problems that do not stop the upload, such as an expired certificate
}

type limits struct {
	size          int
	perDerivation int64
	total         int64
	budget        time.Duration // CPU time of one decode
	slotWait      time.Duration
}

var defaultLimits = limits{
	size:          MaxArchiveSize,
	perDerivation: MaxIterationsPerDerivation,
	total:         MaxIterationsTotal,
	budget:        DecodeBudget,
	slotWait:      SlotWait,
}

// ImportPKCS12 reads a PKCS#12 archive (.pfx/.p12; DER, PEM or base64) and returns its leaf,
// chain and key in normalised form. now decides the validity warnings. Every problem with the
// input is an *InputError; the only other error is ErrBusy.
func ImportPKCS12(data []byte, password string, now time.Time) (*Imported, error) {
	return importWith(data, password, now, defaultLimits)
}

func importWith(data []byte, password string, now time.Time, lim limits) (*Imported, error) {
	der, err := sniff(data, lim.size)
	if err != nil {
		return nil, err
	}
	if err := checkIterations(der, password == "", lim); err != nil {
		return nil, err
	}
	key, certificates, err := decodeWithBudget(der, password, lim)
	if err != nil {
		return nil, err
	}
	return normalise(key, certificates, now)
}

var (
	errNotPKCS12 = inputError("file is not a PKCS#12 archive (.pfx/.p12)")
	errBER       = inputError("archive is BER-encoded (indefinite lengths), which cannot be read: re-export it as DER with " +
		"`openssl pkcs12 -in in.p12 -nodes | openssl pkcs12 -export -out out.p12`")
	errTruncated = inputError("the file is truncated or damaged (it is not a whole PKCS#12 archive: re-export it, " +
		"or copy it again as a binary file)")
)

// sniff applies the size cap and returns the archive as DER, decoding PEM or base64 text once.
func sniff(data []byte, maxSize int) ([]byte, error) {
	switch {
	case len(data) == 0:
		return nil, inputError("file is empty: upload the .pfx/.p12 archive")
	case len(data) > maxSize:
		return nil, inputError(fmt.Sprintf("file is %d bytes; a PKCS#12 archive may be at most %d KiB", len(data), maxSize>>10))
	case data[0] == 0x30:
		return checkDER(data)
	}
	inner, err := unwrapText(data)
	if err != nil {
		return nil, err
	}
	if len(inner) == 0 || inner[0] != 0x30 {
		return nil, errNotPKCS12
	}
	return checkDER(inner)
}

// checkDER refuses an outer SEQUENCE of indefinite length, the mark of BER, and one that is cut
// short or malformed, the mark of a copy that stopped early or altered the bytes.
func checkDER(der []byte) ([]byte, error) {
	if len(der) > 1 && der[1] == 0x80 {
		return nil, errBER
	}
	var outer asn1.RawValue
	if _, err := asn1.Unmarshal(der, &outer); err != nil {
		return nil, errTruncated
	}
	return der, nil
}

func unwrapText(data []byte) ([]byte, error) {
	text := bytes.TrimSpace(data)
	if bytes.Contains(text, []byte("-----BEGIN ")) {
		return unwrapPEM(text)
	}
	return unwrapBase64(text)
}

func unwrapPEM(text []byte) ([]byte, error) {
	block, _ := pem.Decode(text)
	if block == nil {
		return nil, errNotPKCS12
	}
	if isCertOrKeyPEM(block.Type) {
		return nil, inputError(fmt.Sprintf("file is a PEM %s, not a PKCS#12 archive: bundle the certificate and its key with "+
			"`openssl pkcs12 -export -in cert.pem -inkey key.pem -out out.p12`", block.Type))
	}
	return block.Bytes, nil
}

func isCertOrKeyPEM(blockType string) bool {
	return strings.Contains(blockType, "CERTIFICATE") || strings.HasSuffix(blockType, "KEY")
}

func unwrapBase64(text []byte) ([]byte, error) {
	compact := strings.Join(strings.Fields(string(text)), "")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if der, err := enc.DecodeString(compact); err == nil {
			return der, nil
		}
	}
	return nil, errNotPKCS12
}
