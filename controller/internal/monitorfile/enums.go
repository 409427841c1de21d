package monitorfile

import (
	"go.yaml.in/yaml/v3"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// The words a monitor file uses for each enum, in the order error messages
// list them.
var (
	authTypes = []enumWord[pb.AuthType]{
		{"none", pb.AuthType_AUTH_TYPE_NONE},
		{"basic", pb.AuthType_AUTH_TYPE_BASIC},
		{"bearer", pb.AuthType_AUTH_TYPE_BEARER},
		{"digest", pb.AuthType_AUTH_TYPE_DIGEST},
		{"ntlm", pb.AuthType_AUTH_TYPE_NTLM},
		{"oauth2_client_credentials", pb.AuthType_AUTH_TYPE_OAUTH2_CLIENT_CREDENTIALS},
	}
	tlsVersions = []enumWord[pb.TlsVersion]{
		{"1.0", pb.TlsVersion_TLS_VERSION_1_0},
		{"1.1", pb.TlsVersion_TLS_VERSION_1_1},
		{"1.2", pb.TlsVersion_TLS_VERSION_1_2},
		{"1.3", pb.TlsVersion_TLS_VERSION_1_3},
	}
	httpVersions = []enumWord[pb.HttpVersion]{
		{"1.1", pb.HttpVersion_HTTP_VERSION_1_1},
		{"2", pb.HttpVersion_HTTP_VERSION_2},
	}
	certificateSources = []enumWord[pb.CertificateSource]{
		{"vault", pb.CertificateSource_CERTIFICATE_SOURCE_VAULT},
		{"platform", pb.CertificateSource_CERTIFICATE_SOURCE_PLATFORM},
		{"none", pb.CertificateSource_CERTIFICATE_SOURCE_NONE},
	}
	extractFroms = []enumWord[pb.ExtractFrom]{
		{"json", pb.ExtractFrom_EXTRACT_FROM_JSON},
		{"xpath", pb.ExtractFrom_EXTRACT_FROM_XPATH},
		{"regex", pb.ExtractFrom_EXTRACT_FROM_REGEX},
		{"header", pb.ExtractFrom_EXTRACT_FROM_HEADER},
		{"cookie", pb.ExtractFrom_EXTRACT_FROM_COOKIE},
		{"status", pb.ExtractFrom_EXTRACT_FROM_STATUS},
		{"status_text", pb.ExtractFrom_EXTRACT_FROM_STATUS_TEXT},
		{"duration", pb.ExtractFrom_EXTRACT_FROM_DURATION},
	}
	assertSources = []enumWord[pb.AssertSource]{
		{"status", pb.AssertSource_ASSERT_SOURCE_STATUS},
		{"body", pb.AssertSource_ASSERT_SOURCE_BODY},
		{"json", pb.AssertSource_ASSERT_SOURCE_JSON},
		{"xpath", pb.AssertSource_ASSERT_SOURCE_XPATH},
		{"header", pb.AssertSource_ASSERT_SOURCE_HEADER},
		{"cookie", pb.AssertSource_ASSERT_SOURCE_COOKIE},
		{"duration", pb.AssertSource_ASSERT_SOURCE_DURATION},
		{"size", pb.AssertSource_ASSERT_SOURCE_SIZE},
		{"cert_days_left", pb.AssertSource_ASSERT_SOURCE_CERT_DAYS_LEFT},
	}
	comparisons = []enumWord[pb.Comparison]{
		{"equal", pb.Comparison_COMPARISON_EQUAL},
		{"not_equal", pb.Comparison_COMPARISON_NOT_EQUAL},
		{"contains", pb.Comparison_COMPARISON_CONTAINS},
		{"not_contains", pb.Comparison_COMPARISON_NOT_CONTAINS},
		{"less_than", pb.Comparison_COMPARISON_LESS_THAN},
		{"less_or_equal", pb.Comparison_COMPARISON_LESS_OR_EQUAL},
		{"greater_than", pb.Comparison_COMPARISON_GREATER_THAN},
		{"greater_or_equal", pb.Comparison_COMPARISON_GREATER_OR_EQUAL},
		{"is_empty", pb.Comparison_COMPARISON_IS_EMPTY},
		{"not_empty", pb.Comparison_COMPARISON_NOT_EMPTY},
		{"exists", pb.Comparison_COMPARISON_EXISTS},
		{"not_exists", pb.Comparison_COMPARISON_NOT_EXISTS},
		{"matches", pb.Comparison_COMPARISON_MATCHES},
	}
)

type (
	authType          pb.AuthType
	tlsVersion        pb.TlsVersion
	httpVersion       pb.HttpVersion
	certificateSource pb.CertificateSource
	extractFrom       pb.ExtractFrom
	assertSource      pb.AssertSource
	comparison        pb.Comparison
)

func (t *authType) decodeScalar(n *yaml.Node) error {
	v, err := parseEnum(authTypes, n)
	*t = authType(v)
	return err
}

func (t authType) MarshalYAML() (any, error) { return formatEnum(authTypes, pb.AuthType(t)) }

func (s *certificateSource) decodeScalar(n *yaml.Node) error {
	v, err := parseEnum(certificateSources, n)
	*s = certificateSource(v)
	return err
}

func (s certificateSource) MarshalYAML() (any, error) {
	return formatEnum(certificateSources, pb.CertificateSource(s))
}

func (f *extractFrom) decodeScalar(n *yaml.Node) error {
	v, err := parseEnum(extractFroms, n)
	*f = extractFrom(v)
	return err
}

func (f extractFrom) MarshalYAML() (any, error) { return formatEnum(extractFroms, pb.ExtractFrom(f)) }

func (s *assertSource) decodeScalar(n *yaml.Node) error {
	v, err := parseEnum(assertSources, n)
	*s = assertSource(v)
	return err
}

func (s assertSource) MarshalYAML() (any, error) {
	return formatEnum(assertSources, pb.AssertSource(s))
}

func (c *comparison) decodeScalar(n *yaml.Node) error {
	v, err := parseEnum(comparisons, n)
	*c = comparison(v)
	return err
}

func (c comparison) MarshalYAML() (any, error) { return formatEnum(comparisons, pb.Comparison(c)) }

func (v *tlsVersion) decodeScalar(n *yaml.Node) error {
	w, err := parseEnum(tlsVersions, n)
	*v = tlsVersion(w)
	return err
}

func (v tlsVersion) MarshalYAML() (any, error) { return formatEnum(tlsVersions, pb.TlsVersion(v)) }

func (v *httpVersion) decodeScalar(n *yaml.Node) error {
	w, err := parseEnum(httpVersions, n)
	*v = httpVersion(w)
	return err
}

func (v httpVersion) MarshalYAML() (any, error) { return formatEnum(httpVersions, pb.HttpVersion(v)) }
