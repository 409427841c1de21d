package checkpoint

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// A needle is one encoding of a secret, named for the report. The report never prints the bytes.
type needle struct {
	form string
	b    []byte
}

// hay is one captured payload and where it came from.
type hay struct {
	channel string
	b       []byte
}

// keyNeedles lists every form of key we look for: PKCS#8 DER, the algorithm's own DER (SEC1 for
// EC, PKCS#1 for RSA), the bare private scalar, and each of those as PEM, hex, base64 (standard
// and URL-safe, padded or not, at every alignment inside a longer base64 text), decimal byte lists
// (Go's %v of a []byte), Go-quoted and protobuf-text-quoted strings.
func keyNeedles(t testing.TB, label string, key crypto.PrivateKey) []needle {
	t.Helper()
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	ns := encodings(label+" PKCS#8", pkcs8, "PRIVATE KEY")
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		sec1, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		scalar, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		ns = append(ns, encodings(label+" SEC1", sec1, "EC PRIVATE KEY")...)
		ns = append(ns, encodings(label+" scalar", scalar, "")...)
	case *rsa.PrivateKey:
		ns = append(ns, encodings(label+" PKCS#1", x509.MarshalPKCS1PrivateKey(k), "RSA PRIVATE KEY")...)
		ns = append(ns, encodings(label+" exponent", k.D.Bytes(), "")...)
	default:
		t.Fatalf("keyNeedles: unsupported key type %T", key)
	}
	return ns
}

// archiveNeedles lists the forms of a PKCS#12 archive and its password.
func archiveNeedles(label string, archive []byte, password string) []needle {
	ns := encodings(label+" PKCS#12 archive", archive, "")
	return append(ns, needle{label + " archive password", []byte(password)})
}

// encodings is b in every form a program might write it in. pemType "" skips PEM.
func encodings(label string, b []byte, pemType string) []needle {
	ns := []needle{
		{label + " raw DER/bytes", b},
		{label + " hex", []byte(hex.EncodeToString(b))},
		{label + " HEX", []byte(strings.ToUpper(hex.EncodeToString(b)))},
		{label + " base64 std padded", []byte(base64.StdEncoding.EncodeToString(b))},
		{label + " base64 std unpadded", []byte(base64.RawStdEncoding.EncodeToString(b))},
		{label + " base64 url padded", []byte(base64.URLEncoding.EncodeToString(b))},
		{label + " base64 url unpadded", []byte(base64.RawURLEncoding.EncodeToString(b))},
		{label + " decimal byte list", []byte(strings.Trim(fmt.Sprint(b), "[]"))},
		{label + " Go quoted", []byte(strings.Trim(strconv.Quote(string(b)), `"`))},
		{label + " protobuf text", protoTextBytes(b)},
	}
	// Inside a longer base64 text, b starts at some offset mod 3; one of b[0:], b[1:], b[2:] then
	// starts on a group boundary, and its whole groups encode to the same characters there.
	for shift := range 3 {
		whole := b[shift:]
		whole = whole[:len(whole)/3*3]
		ns = append(ns,
			needle{fmt.Sprintf("%s base64 std fragment@%d", label, shift), []byte(base64.RawStdEncoding.EncodeToString(whole))},
			needle{fmt.Sprintf("%s base64 url fragment@%d", label, shift), []byte(base64.RawURLEncoding.EncodeToString(whole))})
	}
	if pemType != "" {
		ns = append(ns, needle{label + " PEM", pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: b})})
	}
	return ns
}

// protoTextBytes is b as the protobuf text format writes a bytes field, without the quotes.
func protoTextBytes(b []byte) []byte {
	s := prototext.MarshalOptions{}.Format(&pb.CertificateMaterial{Pkcs8Key: b})
	i, j := strings.Index(s, `"`), strings.LastIndex(s, `"`)
	return []byte(s[i+1 : j])
}

// variants are the ways a payload is searched: as is; without whitespace (PEM or base64 wrapped
// over lines); and without the two-character escapes \n \r \t and whitespace (PEM inside a quoted
// log value or JSON string).
func variants(b []byte) [][]byte {
	noSpace := bytes.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, b)
	unescaped := []byte(strings.NewReplacer(`\n`, "", `\r`, "", `\t`, "").Replace(string(noSpace)))
	return [][]byte{b, noSpace, unescaped}
}

// findSecrets returns "form in channel" for every needle found in any hay.
func findSecrets(needles []needle, hays []hay) []string {
	var hits []string
	for _, h := range hays {
		vs := variants(h.b)
		for _, n := range needles {
			for _, v := range vs {
				if bytes.Contains(v, n.b) {
					hits = append(hits, fmt.Sprintf("%s in %s", n.form, h.channel))
					break
				}
			}
		}
	}
	return hits
}

// capture records everything a Tap sees, copied: the agent clears unsealed buffers after use.
type capture struct {
	mu    sync.Mutex
	items []hay
}

func (c *capture) tap(channel string, payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items = append(c.items, hay{channel, bytes.Clone(payload)})
}

func (c *capture) all() []hay {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]hay(nil), c.items...)
}

// count counts captures whose channel starts with prefix ("nats", "grpc:/…/Method", "unsealed").
func (c *capture) count(prefix string) int {
	n := 0
	for _, h := range c.all() {
		if strings.HasPrefix(h.channel, prefix) {
			n++
		}
	}
	return n
}

// syncBuffer is a log sink safe for the agent's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// TestLeakSearchFindsEveryForm proves the search used on the private agent's captures can find each
// form of a key, archive and password in the places a program might put it, and finds nothing of
// another key.
func TestLeakSearchFindsEveryForm(t *testing.T) {
	t.Parallel()
	ca := testutil.NewCA(t, "search CA")
	leaf, other := ca.Issue(t, "secret", false), ca.Issue(t, "other", false)
	archive, password := leaf.PKCS12(t, ca, "pw-0f3c9a51d2e84b7a"), "pw-0f3c9a51d2e84b7a"
	otherArchive := other.PKCS12(t, ca, "pw-1122334455667788")
	pkcs8 := leaf.PKCS8()
	sec1, _ := x509.MarshalECPrivateKey(leaf.Key)
	scalar, _ := leaf.Key.Bytes()
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	material := &pb.RunSecret{ItemId: "x", Value: &pb.RunSecret_Certificate{Certificate: &pb.CertificateMaterial{Pkcs8Key: pkcs8}}}
	logLine := func(json bool, k string, v any) []byte {
		var buf bytes.Buffer
		h := slog.Handler(slog.NewTextHandler(&buf, nil))
		if json {
			h = slog.NewJSONHandler(&buf, nil)
		}
		slog.New(h).Info("m", k, v)
		return buf.Bytes()
	}
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	wire, _ := proto.Marshal(&pb.RunSecrets{Secrets: []*pb.RunSecret{material}})
	pjson, _ := protojson.Marshal(material)
	cases := map[string][]byte{
		"PKCS#8 in a protobuf message":      wire,
		"PKCS#8 in protobuf JSON":           pjson,
		"PKCS#8 in protobuf text":           []byte(prototext.Format(material)),
		"PEM in a text log":                 logLine(false, "key", string(keyPEM)),
		"PEM in a JSON log":                 logLine(true, "key", string(keyPEM)),
		"bytes in a text log":               logLine(false, "key", pkcs8),
		"bytes at offset 1 in a JSON log":   logLine(true, "key", append([]byte{1}, pkcs8...)),
		"bytes at offset 2 in a JSON log":   logLine(true, "key", append([]byte{1, 2}, pkcs8...)),
		"SEC1 in upper-case hex":            fmt.Appendf(nil, "k=%X;", sec1),
		"scalar as %v":                      fmt.Appendf(nil, "d=%v", scalar),
		"scalar as a JWK d":                 fmt.Appendf(nil, `{"kty":"EC","d":%q}`, base64.RawURLEncoding.EncodeToString(scalar)),
		"archive at offset 1 in JSON bytes": mustJSON(struct{ A []byte }{append([]byte{7}, archive...)}),
		"password in a text log":            logLine(false, "password", password),
	}
	needles := append(keyNeedles(t, "k", leaf.Key), archiveNeedles("k", archive, password)...)
	others := append(keyNeedles(t, "other", other.Key), archiveNeedles("other", otherArchive, "pw-1122334455667788")...)
	for name, b := range cases {
		if hits := findSecrets(needles, []hay{{name, b}}); len(hits) == 0 {
			t.Errorf("%s: the search found nothing", name)
		}
		if hits := findSecrets(others, []hay{{name, b}}); len(hits) > 0 {
			t.Errorf("%s: the search found another key's forms: %v", name, hits)
		}
	}
}
