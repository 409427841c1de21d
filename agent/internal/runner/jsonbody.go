package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/theory/jsonpath"
)

// parseJSON decodes a whole body, keeping numbers as written (json.Number).
func parseJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("response body is not valid JSON: the body is empty")
		}
		return nil, fmt.Errorf("response body is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("response body is not valid JSON: unexpected data after the first value")
	}
	return v, nil
}

// normalizePath accepts RFC 9535 paths and the Uptrends short forms
// "items[0].id" (→ $.items[0].id) and "[0].Price" (→ $[0].Price).
func normalizePath(path string) string {
	path = strings.TrimSpace(path)
	switch {
	case strings.HasPrefix(path, "$"):
		return path
	case strings.HasPrefix(path, "["), strings.HasPrefix(path, "."):
		return "$" + path
	}
	return "$." + path
}

// selectJSON returns the first node the path selects in doc, and whether
// there was one.
func selectJSON(doc any, path string) (any, bool, error) {
	p, err := jsonpath.Parse(normalizePath(path))
	if err != nil {
		return nil, false, fmt.Errorf("invalid JSON path %q: %w", path, err)
	}
	nodes := p.Select(doc)
	if len(nodes) == 0 {
		return nil, false, nil
	}
	return nodes[0], true, nil
}

// jsonText renders a selected node as text: strings bare, numbers as
// written, null as "null", objects and arrays as compact JSON.
func jsonText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return "null"
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
