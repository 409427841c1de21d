package runner

import (
	"cmp"
	"maps"
	"slices"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// File is a vault file item: a request body, a multipart upload or a PEM CA bundle. Its content
// is sent as it is; it is not treated as a secret (a CA bundle or a payload is echoed freely).
type File struct {
	Filename    string
	ContentType string
	Content     []byte
}

// useSecretVariables defines the monitor's secret variables from the run's vault secrets and
// hides every secret value, so that it is redacted wherever it shows up in the result. A
// variable whose item did not arrive makes every HTTP step fail with a clear error, rather
// than "variable not defined".
func (rs *runState) useSecretVariables(m *lookoutv1.Monitor) {
	for _, v := range rs.secrets.Values {
		rs.hide(secretForms(v)...)
	}
	vars := m.GetSecretVariables()
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		value, ok := rs.secrets.Values[vars[name]]
		if !ok {
			rs.unavailable = cmp.Or(rs.unavailable, failf(lookoutv1.ErrorClass_ERROR_CLASS_SECRET,
				"secret variable %q: vault secret %q was not provided for this run", name, vars[name]))
			continue
		}
		rs.secretVars[name] = true
		rs.assign(func(yield func(string, string) bool) { yield(name, value) })
	}
}

// file returns the vault file item a field names.
func (rs *runState) file(field, item string) (File, error) {
	f, ok := rs.secrets.Files[item]
	if !ok {
		return File{}, failf(lookoutv1.ErrorClass_ERROR_CLASS_SECRET, "%s: vault file %q was not provided for this run", field, item)
	}
	return f, nil
}

// fileBody sends a vault file as the raw body, with the file's content type unless the step
// sets a Content-Type header.
func (rs *runState) fileBody(p *preparedRequest, item string) error {
	f, err := rs.file("body_file", item)
	if err != nil {
		return err
	}
	p.body, p.contentType = string(f.Content), cmp.Or(f.ContentType, "application/octet-stream")
	return nil
}

// filePart resolves a multipart field whose content is a vault file: the part's filename and
// content type default to the file's.
func (rs *runState) filePart(f *lookoutv1.FormField) (*lookoutv1.FormField, string, error) {
	file, err := rs.file("multipart field "+f.GetName(), f.GetFile())
	if err != nil {
		return nil, "", err
	}
	part := &lookoutv1.FormField{Name: f.GetName(), Filename: cmp.Or(f.GetFilename(), file.Filename, f.GetFile()),
		ContentType: cmp.Or(f.GetContentType(), file.ContentType)}
	return part, string(file.Content), nil
}

// caBundle is the step's extra CA certificates: tls.ca_bundle and the PEM certificates of the
// tls.ca_bundle_file item, checked here because the agent must not trust the controller to have
// done so.
func (rs *runState) caBundle(o *lookoutv1.TlsOptions) (string, error) {
	bundle := o.GetCaBundle()
	if bundle != "" {
		if _, err := lookoutv1.ParseCABundle(bundle); err != nil {
			return "", failf(lookoutv1.ErrorClass_ERROR_CLASS_TLS, "tls.ca_bundle: %v", err)
		}
	}
	item := o.GetCaBundleFile()
	if item == "" {
		return bundle, nil
	}
	f, err := rs.file("tls.ca_bundle_file", item)
	if err != nil {
		return "", err
	}
	if _, err := lookoutv1.ParseCABundle(string(f.Content)); err != nil {
		return "", failf(lookoutv1.ErrorClass_ERROR_CLASS_TLS, "tls.ca_bundle_file: vault file %q %v", item, err)
	}
	if bundle != "" {
		return bundle + "\n" + string(f.Content), nil
	}
	return string(f.Content), nil
}
