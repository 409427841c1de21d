package monitorfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// MaxSize is the largest monitor file Parse reads.
const MaxSize = 1 << 20

// Defaults for fields a file may leave out.
const (
	DefaultInterval = time.Minute
	DefaultTimeout  = 30 * time.Second // or a valid interval, when that is shorter
	DefaultMethod   = "GET"
)

// Parse reads a monitor file. Problems with fields come back as
// lookoutv1.FieldErrors, one per problem, each naming its path and, where
// the field is in the file, its line. Problems with the file as a whole
// (too big, not YAML, empty) are plain errors.
func Parse(data []byte) (*lookoutv1.Monitor, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("monitor file is %d bytes; the limit is %d (1 MiB)", len(data), MaxSize)
	}
	root, err := parseYAML(data)
	if err != nil {
		return nil, err
	}
	var f monitorFile
	d := newDecoder()
	d.value(root, reflect.ValueOf(&f).Elem(), "")
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	m := f.proto()
	var fe lookoutv1.FieldErrors
	if err := m.Validate(); err != nil && !errors.As(err, &fe) {
		return nil, err
	}
	if fe = append(append(fe, checkVaultFields(m)...), checkAlerting(m)...); len(fe) > 0 {
		return nil, d.withLines(fe)
	}
	return m, nil
}

// parseYAML returns the one document's root node.
func parseYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, errors.New("monitor file is empty")
	} else if err != nil {
		return nil, fmt.Errorf("monitor file is not valid YAML: %w", err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, fmt.Errorf("monitor file holds more than one YAML document (the second starts at line %d)", next.Line)
	case !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("monitor file is not valid YAML: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].ShortTag() == "!!null" {
		return nil, errors.New("monitor file is empty")
	}
	return doc.Content[0], nil
}

func (f *monitorFile) proto() *lookoutv1.Monitor {
	interval := f.Interval.or(DefaultInterval)
	timeout := DefaultTimeout
	if interval >= lookoutv1.MinInterval && interval < timeout {
		timeout = interval
	}
	m := &lookoutv1.Monitor{
		Name:            f.Name,
		Interval:        durationpb.New(interval),
		Timeout:         durationpb.New(f.Timeout.or(timeout)),
		Checkpoints:     f.Checkpoints,
		Variables:       f.Variables,
		SecretVariables: f.SecretVariables,
		Alerting:        f.Alerting.proto(),
	}
	for _, s := range f.Steps {
		m.Steps = append(m.Steps, s.proto())
	}
	return m
}

func (d *duration) or(def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return time.Duration(*d)
}

func (d *duration) proto() *durationpb.Duration {
	if d == nil {
		return nil
	}
	return durationpb.New(time.Duration(*d))
}

func (s *step) proto() *lookoutv1.Step {
	p := &lookoutv1.Step{
		Name:    s.Name,
		Wait:    s.Wait.proto(),
		Timeout: s.Timeout.proto(),
		Retry:   s.Retry.proto(),
		Request: s.Request.proto(),
	}
	for _, e := range s.Extract {
		p.Extract = append(p.Extract, &lookoutv1.Extraction{
			Name: e.Name, From: lookoutv1.ExtractFrom(e.From), Path: e.Path,
		})
	}
	for _, a := range s.Assert {
		p.Assert = append(p.Assert, &lookoutv1.Assertion{
			Source: lookoutv1.AssertSource(a.Source), Path: a.Path,
			Comparison: lookoutv1.Comparison(a.Comparison), Value: a.Value,
		})
	}
	return p
}

func (r *retry) proto() *lookoutv1.Retry {
	if r == nil {
		return nil
	}
	return &lookoutv1.Retry{MaxAttempts: r.MaxAttempts, Wait: r.Wait.proto()}
}

func (r *request) proto() *lookoutv1.HttpRequest {
	if r == nil {
		return nil
	}
	method := strings.ToUpper(r.Method)
	if method == "" {
		method = DefaultMethod
	}
	return &lookoutv1.HttpRequest{
		Method:                  method,
		Url:                     r.URL,
		Headers:                 headers(r.Headers),
		Body:                    r.Body,
		Auth:                    r.Auth.proto(),
		ClientCertificate:       r.ClientCertificate.proto(),
		IgnoreCertificateErrors: r.IgnoreCertificateErrors,
		Form:                    formFields(r.Form),
		Multipart:               formFields(r.Multipart),
		Tls:                     r.TLS.proto(),
		HttpVersion:             lookoutv1.HttpVersion(r.HTTPVersion),
		BodyFile:                r.BodyFile,
	}
}

func formFields(fs []formField) []*lookoutv1.FormField {
	var out []*lookoutv1.FormField
	for _, f := range fs {
		out = append(out, &lookoutv1.FormField{Name: f.Name, Value: f.Value, Filename: f.Filename, ContentType: f.ContentType, File: f.File})
	}
	return out
}

func (o *tlsOptions) proto() *lookoutv1.TlsOptions {
	if o == nil {
		return nil
	}
	return &lookoutv1.TlsOptions{MinVersion: lookoutv1.TlsVersion(o.MinVersion), MaxVersion: lookoutv1.TlsVersion(o.MaxVersion),
		ServerName: o.ServerName, CaBundle: o.CABundle, CaBundleFile: o.CABundleFile}
}

// headers turns the file's map into headers sorted by name.
func headers(m map[string]string) []*lookoutv1.Header {
	var hs []*lookoutv1.Header
	for name, value := range m {
		hs = append(hs, &lookoutv1.Header{Name: name, Value: value})
	}
	slices.SortFunc(hs, func(a, b *lookoutv1.Header) int { return strings.Compare(a.Name, b.Name) })
	return hs
}

func (a *auth) proto() *lookoutv1.Auth {
	if a == nil {
		return nil
	}
	return &lookoutv1.Auth{Type: lookoutv1.AuthType(a.Type), Credentials: a.Credentials, Token: a.Token,
		TokenUrl: a.TokenURL, Scopes: a.Scopes, Username: a.Username, Password: a.Password}
}

func (c *clientCertificate) proto() *lookoutv1.ClientCertificate {
	if c == nil {
		return nil
	}
	return &lookoutv1.ClientCertificate{Source: lookoutv1.CertificateSource(c.Source), Item: c.Item}
}
