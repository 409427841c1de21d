package runner

import (
	"strconv"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// extractAll runs a step's extractions in order. It returns what it extracted
// before the first failure, and that failure.
func extractAll(exs []*lookoutv1.Extraction, rsp *response) ([]*lookoutv1.ExtractedVariable, error) {
	var out []*lookoutv1.ExtractedVariable
	for _, ex := range exs {
		value, err := extractOne(ex, rsp)
		if err != nil {
			return out, failf(lookoutv1.ErrorClass_ERROR_CLASS_EXTRACTION,
				"extracting %q %s: %v", ex.GetName(), extractionSource(ex), err)
		}
		out = append(out, &lookoutv1.ExtractedVariable{Name: ex.GetName(), Value: value})
	}
	return out, nil
}

// extractionSource names where an extraction looks, for messages.
func extractionSource(ex *lookoutv1.Extraction) string {
	switch ex.GetFrom() {
	case lookoutv1.ExtractFrom_EXTRACT_FROM_JSON:
		return "with JSON path " + normalizePath(ex.GetPath())
	case lookoutv1.ExtractFrom_EXTRACT_FROM_REGEX:
		return "with regular expression " + strconv.Quote(ex.GetPath())
	case lookoutv1.ExtractFrom_EXTRACT_FROM_HEADER:
		return "from header " + strconv.Quote(ex.GetPath())
	case lookoutv1.ExtractFrom_EXTRACT_FROM_COOKIE:
		return "from cookie " + strconv.Quote(ex.GetPath())
	case lookoutv1.ExtractFrom_EXTRACT_FROM_XPATH:
		return "with XPath " + strconv.Quote(ex.GetPath())
	case lookoutv1.ExtractFrom_EXTRACT_FROM_STATUS:
		return "from the status code"
	case lookoutv1.ExtractFrom_EXTRACT_FROM_STATUS_TEXT:
		return "from the status text"
	case lookoutv1.ExtractFrom_EXTRACT_FROM_DURATION:
		return "from the duration"
	}
	return "without a source"
}

func extractOne(ex *lookoutv1.Extraction, rsp *response) (string, error) {
	if ex.GetName() == "" {
		return "", constError("the extraction names no variable")
	}
	switch ex.GetFrom() {
	case lookoutv1.ExtractFrom_EXTRACT_FROM_JSON:
		return extractJSON(rsp, ex.GetPath())
	case lookoutv1.ExtractFrom_EXTRACT_FROM_REGEX:
		return extractRegex(rsp.body, ex.GetPath())
	case lookoutv1.ExtractFrom_EXTRACT_FROM_HEADER:
		return found(rsp.headerValue(ex.GetPath()))
	case lookoutv1.ExtractFrom_EXTRACT_FROM_COOKIE:
		return found(rsp.cookie(ex.GetPath()))
	case lookoutv1.ExtractFrom_EXTRACT_FROM_STATUS:
		return strconv.Itoa(rsp.status), nil
	case lookoutv1.ExtractFrom_EXTRACT_FROM_DURATION:
		return strconv.FormatInt(rsp.elapsed.Milliseconds(), 10), nil
	case lookoutv1.ExtractFrom_EXTRACT_FROM_XPATH:
		return extractXPath(rsp, ex.GetPath())
	case lookoutv1.ExtractFrom_EXTRACT_FROM_STATUS_TEXT:
		return rsp.statusText, nil
	}
	return "", constError("the extraction has no source (from)")
}

// found turns a (value, present) pair into a value or a "not found" error.
func found(value string, ok bool) (string, error) {
	if !ok {
		return "", constError("the response has none")
	}
	return value, nil
}

func extractJSON(rsp *response, path string) (string, error) {
	doc, err := rsp.json()
	if err != nil {
		return "", err
	}
	node, ok, err := selectJSON(doc, path)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", constError("the path matched nothing")
	}
	return jsonText(node), nil
}

func extractXPath(rsp *response, expr string) (string, error) {
	doc, err := rsp.xml()
	if err != nil {
		return "", err
	}
	value, ok, err := selectXPath(doc, expr)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", constError("the XPath matched nothing")
	}
	return value, nil
}

// extractRegex returns the first capture group of the first match, or the
// whole match when the expression has no group.
func extractRegex(body []byte, expr string) (string, error) {
	re, err := compileRegexp(expr, len(body))
	if err != nil {
		return "", err
	}
	m := re.FindSubmatch(body)
	switch {
	case m == nil:
		return "", constError("no match in the response body")
	case len(m) > 1:
		return string(m[1]), nil
	}
	return string(m[0]), nil
}
