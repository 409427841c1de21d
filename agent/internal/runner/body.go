package runner

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"strings"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// prepareBody resolves the step's body (raw, form or multipart) and the
// content type to send when the step sets none.
func (rs *runState) prepareBody(p *preparedRequest, req *lookoutv1.HttpRequest) error {
	var err error
	switch {
	case req.GetBodyFile() != "":
		err = rs.fileBody(p, req.GetBodyFile())
	case len(req.GetMultipart()) > 0:
		p.body, p.contentType, err = rs.multipartBody(req.GetMultipart())
		p.multipart = true
	case len(req.GetForm()) > 0:
		p.body, err = rs.formBody(req.GetForm())
		p.contentType = "application/x-www-form-urlencoded"
	default:
		p.body, err = rs.expand(req.GetBody())
		p.contentType = sniffContentType(p.body)
	}
	return err
}

// formBody encodes fields as application/x-www-form-urlencoded, in order.
func (rs *runState) formBody(fields []*lookoutv1.FormField) (string, error) {
	var b strings.Builder
	for i, f := range fields {
		name, value, err := rs.expandField(f)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(name) + "=" + url.QueryEscape(value))
	}
	return b.String(), nil
}

// multipartBody encodes fields as multipart/form-data and returns the body
// with its content type (which carries the boundary).
func (rs *runState) multipartBody(fields []*lookoutv1.FormField) (string, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		name, value, err := rs.expandField(f)
		if err != nil {
			return "", "", err
		}
		if f.GetFile() != "" {
			if f, value, err = rs.filePart(f); err != nil {
				return "", "", err
			}
		}
		part, err := w.CreatePart(partHeader(name, f))
		if err != nil {
			return "", "", failf(lookoutv1.ErrorClass_ERROR_CLASS_INTERNAL, "building the multipart body: %v", err)
		}
		_, _ = part.Write([]byte(value)) // writes to a bytes.Buffer do not fail
	}
	if err := w.Close(); err != nil {
		return "", "", failf(lookoutv1.ErrorClass_ERROR_CLASS_INTERNAL, "building the multipart body: %v", err)
	}
	return buf.String(), w.FormDataContentType(), nil
}

func (rs *runState) expandField(f *lookoutv1.FormField) (name, value string, err error) {
	if name, err = rs.expand(f.GetName()); err != nil {
		return "", "", err
	}
	value, err = rs.expand(f.GetValue())
	return name, value, err
}

// partHeader describes one multipart field: a plain field, or a file when
// it has a filename.
func partHeader(name string, f *lookoutv1.FormField) textproto.MIMEHeader {
	h := textproto.MIMEHeader{}
	disposition := `form-data; name="` + quoteEscaper.Replace(name) + `"`
	contentType := f.GetContentType()
	if f.GetFilename() != "" {
		disposition += `; filename="` + quoteEscaper.Replace(f.GetFilename()) + `"`
		if contentType == "" {
			contentType = "application/octet-stream"
		}
	}
	h.Set("Content-Disposition", disposition)
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return h
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "%0D", "\n", "%0A")

// sniffContentType guesses the type of a raw body: JSON, XML, HTML or text.
func sniffContentType(body string) string {
	trimmed := strings.TrimSpace(body)
	switch {
	case trimmed == "":
		return ""
	case (trimmed[0] == '{' || trimmed[0] == '[') && json.Valid([]byte(trimmed)):
		return "application/json"
	case strings.HasPrefix(strings.ToLower(trimmed), "<!doctype html"), strings.HasPrefix(strings.ToLower(trimmed), "<html"):
		return "text/html; charset=utf-8"
	case trimmed[0] == '<':
		return "application/xml"
	}
	return "text/plain; charset=utf-8"
}
