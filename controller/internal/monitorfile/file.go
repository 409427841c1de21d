package monitorfile

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lookout-synthetics/lookout/internal/suggest"
)

// The structs below are the file's shape. Their yaml tags are the field names
// the decoder accepts, and the names Format writes.

type monitorFile struct {
	Name        string            `yaml:"name"`
	Interval    *duration         `yaml:"interval,omitempty"`
	Timeout     *duration         `yaml:"timeout,omitempty"`
	Checkpoints []string          `yaml:"checkpoints,flow"`
	Variables   map[string]string `yaml:"variables,omitempty"`
	// SecretVariables maps variable names to vault secret items: variables whose values are
	// redacted from results.
	SecretVariables map[string]string `yaml:"secret_variables,omitempty"`
	Steps           []step            `yaml:"steps"`
	Alerting        *alertingBlock    `yaml:"alerting,omitempty"`
}

type step struct {
	Name    string       `yaml:"name,omitempty"`
	Wait    *duration    `yaml:"wait,omitempty"`
	Timeout *duration    `yaml:"timeout,omitempty"`
	Retry   *retry       `yaml:"retry,omitempty,flow"`
	Request *request     `yaml:"request,omitempty"`
	Extract []extraction `yaml:"extract,omitempty"`
	Assert  []assertion  `yaml:"assert,omitempty"`
}

type retry struct {
	MaxAttempts int32     `yaml:"max_attempts,omitempty"`
	Wait        *duration `yaml:"wait,omitempty"`
}

type request struct {
	Method                  string             `yaml:"method,omitempty"`
	URL                     string             `yaml:"url"`
	Headers                 map[string]string  `yaml:"headers,omitempty"`
	Body                    string             `yaml:"body,omitempty"`
	Auth                    *auth              `yaml:"auth,omitempty,flow"`
	ClientCertificate       *clientCertificate `yaml:"client_certificate,omitempty,flow"`
	IgnoreCertificateErrors bool               `yaml:"ignore_certificate_errors,omitempty"`
	Form                    []formField        `yaml:"form,omitempty"`
	Multipart               []formField        `yaml:"multipart,omitempty"`
	TLS                     *tlsOptions        `yaml:"tls,omitempty,flow"`
	HTTPVersion             httpVersion        `yaml:"http_version,omitempty"`
	BodyFile                string             `yaml:"body_file,omitempty"` // vault file item sent as the raw body
}

type auth struct {
	Type        authType `yaml:"type,omitempty"`
	Credentials string   `yaml:"credentials,omitempty"`
	Token       string   `yaml:"token,omitempty"`
	TokenURL    string   `yaml:"token_url,omitempty"`
	Scopes      []string `yaml:"scopes,omitempty,flow"`
	Username    string   `yaml:"username,omitempty"`
	Password    string   `yaml:"password,omitempty"` // a {{variable}}, never the password itself
}

type formField struct {
	Name        string `yaml:"name,omitempty"`
	Value       string `yaml:"value,omitempty"`
	Filename    string `yaml:"filename,omitempty"`
	ContentType string `yaml:"content_type,omitempty"`
	File        string `yaml:"file,omitempty"` // multipart only: vault file item holding the part's content
}

type tlsOptions struct {
	MinVersion   tlsVersion `yaml:"min_version,omitempty"`
	MaxVersion   tlsVersion `yaml:"max_version,omitempty"`
	ServerName   string     `yaml:"server_name,omitempty"`
	CABundle     string     `yaml:"ca_bundle,omitempty"`      // PEM certificates trusted in addition to the agent's roots
	CABundleFile string     `yaml:"ca_bundle_file,omitempty"` // vault file item holding such PEM certificates
}

type clientCertificate struct {
	Source certificateSource `yaml:"source,omitempty"`
	Item   string            `yaml:"item,omitempty"`
}

type extraction struct {
	Name string      `yaml:"name,omitempty"`
	From extractFrom `yaml:"from,omitempty"`
	Path string      `yaml:"path,omitempty"`
}

type assertion struct {
	Source     assertSource `yaml:"source,omitempty"`
	Path       string       `yaml:"path,omitempty"`
	Comparison comparison   `yaml:"comparison,omitempty"`
	Value      string       `yaml:"value,omitempty"`
}

// Extractions, assertions and form fields are written on one line each, as
// in the docs.
type (
	plainExtraction extraction
	plainAssertion  assertion
	plainFormField  formField
)

func (e extraction) MarshalYAML() (any, error) { return flowNode(plainExtraction(e)) }
func (a assertion) MarshalYAML() (any, error)  { return flowNode(plainAssertion(a)) }
func (f formField) MarshalYAML() (any, error)  { return flowNode(plainFormField(f)) }

func flowNode(v any) (*yaml.Node, error) {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return nil, err
	}
	n.Style = yaml.FlowStyle
	return &n, nil
}

// scalarValue is a field type that decodes itself from one YAML scalar.
type scalarValue interface {
	decodeScalar(n *yaml.Node) error
}

// duration is written in Go syntax: "30s", "1m", "500ms".
type duration time.Duration

func (d *duration) decodeScalar(n *yaml.Node) error {
	if _, err := strconv.ParseFloat(n.Value, 64); err == nil {
		return fmt.Errorf("%q is not a duration; write %ss", n.Value, n.Value)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("%q is not a duration", n.Value)
	}
	*d = duration(v)
	return nil
}

func (d duration) MarshalYAML() (any, error) { return formatDuration(time.Duration(d)), nil }

// formatDuration drops trailing zero units: "1m" rather than "1m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// enumWord is one spelling of an enum value in a monitor file.
type enumWord[T ~int32] struct {
	word  string
	value T
}

func parseEnum[T ~int32](words []enumWord[T], n *yaml.Node) (T, error) {
	s := strings.ToLower(n.Value)
	for _, w := range words {
		if w.word == s {
			return w.value, nil
		}
	}
	return 0, fmt.Errorf("%q is not one of %s%s", n.Value, wordList(words), suggest.Hint(n.Value, strings.Split(wordList(words), ", ")))
}

func formatEnum[T ~int32](words []enumWord[T], v T) (any, error) {
	for _, w := range words {
		if w.value == v {
			return w.word, nil
		}
	}
	return nil, fmt.Errorf("value %d has no name in a monitor file (one of %s)", v, wordList(words))
}

func wordList[T ~int32](words []enumWord[T]) string {
	list := make([]string, len(words))
	for i, w := range words {
		list[i] = w.word
	}
	return strings.Join(list, ", ")
}
