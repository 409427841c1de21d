package monitorfile

import (
	"bytes"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Format writes m as a monitor file that Parse reads back to the same
// monitor. Fields the controller owns (id, version, timestamps, paused) are
// not part of the file and are left out.
func Format(m *lookoutv1.Monitor) ([]byte, error) {
	if m == nil {
		return nil, errors.New("formatting a monitor file: monitor is missing")
	}
	f, err := fileFrom(m)
	if err != nil {
		return nil, fmt.Errorf("formatting monitor %q: %w", m.GetName(), err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("formatting monitor %q: %w", m.GetName(), err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("formatting monitor %q: %w", m.GetName(), err)
	}
	return buf.Bytes(), nil
}

func fileFrom(m *lookoutv1.Monitor) (*monitorFile, error) {
	f := &monitorFile{
		Name:            m.GetName(),
		Interval:        durationFrom(m.GetInterval()),
		Timeout:         durationFrom(m.GetTimeout()),
		Checkpoints:     m.GetCheckpoints(),
		Variables:       m.GetVariables(),
		SecretVariables: m.GetSecretVariables(),
		Alerting:        alertingFrom(m.GetAlerting()),
	}
	for i, s := range m.GetSteps() {
		fs, err := stepFrom(s)
		if err != nil {
			return nil, fmt.Errorf("steps[%d]: %w", i, err)
		}
		f.Steps = append(f.Steps, fs)
	}
	return f, nil
}

func durationFrom(d *durationpb.Duration) *duration {
	if d == nil {
		return nil
	}
	v := duration(d.AsDuration())
	return &v
}

func stepFrom(s *lookoutv1.Step) (step, error) {
	fs := step{
		Name:    s.GetName(),
		Wait:    durationFrom(s.GetWait()),
		Timeout: durationFrom(s.GetTimeout()),
		Retry:   retryFrom(s.GetRetry()),
	}
	req, err := requestFrom(s.GetRequest())
	if err != nil {
		return fs, err
	}
	fs.Request = req
	for _, e := range s.GetExtract() {
		fs.Extract = append(fs.Extract, extraction{Name: e.GetName(), From: extractFrom(e.GetFrom()), Path: e.GetPath()})
	}
	for _, a := range s.GetAssert() {
		fs.Assert = append(fs.Assert, assertion{
			Source: assertSource(a.GetSource()), Path: a.GetPath(),
			Comparison: comparison(a.GetComparison()), Value: a.GetValue(),
		})
	}
	return fs, nil
}

func retryFrom(r *lookoutv1.Retry) *retry {
	if r == nil {
		return nil
	}
	return &retry{MaxAttempts: r.GetMaxAttempts(), Wait: durationFrom(r.GetWait())}
}

func requestFrom(r *lookoutv1.HttpRequest) (*request, error) {
	if r == nil {
		return nil, nil
	}
	hs, err := headerMap(r.GetHeaders())
	if err != nil {
		return nil, err
	}
	fr := &request{
		Method:                  r.GetMethod(),
		URL:                     r.GetUrl(),
		Headers:                 hs,
		Body:                    r.GetBody(),
		IgnoreCertificateErrors: r.GetIgnoreCertificateErrors(),
		Form:                    formFieldsFrom(r.GetForm()),
		Multipart:               formFieldsFrom(r.GetMultipart()),
		HTTPVersion:             httpVersion(r.GetHttpVersion()),
		BodyFile:                r.GetBodyFile(),
	}
	if a := r.GetAuth(); a != nil {
		fr.Auth = &auth{Type: authType(a.GetType()), Credentials: a.GetCredentials(), Token: a.GetToken(),
			TokenURL: a.GetTokenUrl(), Scopes: a.GetScopes(), Username: a.GetUsername(), Password: a.GetPassword()}
	}
	if o := r.GetTls(); o != nil {
		fr.TLS = &tlsOptions{MinVersion: tlsVersion(o.GetMinVersion()), MaxVersion: tlsVersion(o.GetMaxVersion()),
			ServerName: o.GetServerName(), CABundle: o.GetCaBundle(), CABundleFile: o.GetCaBundleFile()}
	}
	if c := r.GetClientCertificate(); c != nil {
		fr.ClientCertificate = &clientCertificate{Source: certificateSource(c.GetSource()), Item: c.GetItem()}
	}
	return fr, nil
}

func formFieldsFrom(fs []*lookoutv1.FormField) []formField {
	var out []formField
	for _, f := range fs {
		out = append(out, formField{Name: f.GetName(), Value: f.GetValue(), Filename: f.GetFilename(), ContentType: f.GetContentType(), File: f.GetFile()})
	}
	return out
}

// headerMap refuses repeated names, which the file's map cannot hold.
func headerMap(hs []*lookoutv1.Header) (map[string]string, error) {
	if len(hs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(hs))
	for _, h := range hs {
		if _, dup := m[h.GetName()]; dup {
			return nil, fmt.Errorf("header %q appears twice; a monitor file holds one value per header", h.GetName())
		}
		m[h.GetName()] = h.GetValue()
	}
	return m, nil
}
