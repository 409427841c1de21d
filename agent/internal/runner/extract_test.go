package runner

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func TestExtract(t *testing.T) {
	t.Parallel()
	const (
		fJSON       = lookoutv1.ExtractFrom_EXTRACT_FROM_JSON
		fRegex      = lookoutv1.ExtractFrom_EXTRACT_FROM_REGEX
		fHeader     = lookoutv1.ExtractFrom_EXTRACT_FROM_HEADER
		fCookie     = lookoutv1.ExtractFrom_EXTRACT_FROM_COOKIE
		fStatus     = lookoutv1.ExtractFrom_EXTRACT_FROM_STATUS
		fDuration   = lookoutv1.ExtractFrom_EXTRACT_FROM_DURATION
		fXPath      = lookoutv1.ExtractFrom_EXTRACT_FROM_XPATH
		fStatusText = lookoutv1.ExtractFrom_EXTRACT_FROM_STATUS_TEXT
	)
	tests := map[string]struct {
		from    lookoutv1.ExtractFrom
		path    string
		body    []byte // instead of sampleJSON
		want    string
		wantErr string
	}{
		"JSON path":              {from: fJSON, path: "$.name", want: "Alice"},
		"JSON short form":        {from: fJSON, path: "items[0].id", want: "7"},
		"JSON number as written": {from: fJSON, path: "items[0].Price", want: "1.5"},
		"JSON object":            {from: fJSON, path: "$.items[0]", want: `{"Price":1.5,"id":7}`},
		"JSON null":              {from: fJSON, path: "$.nul", want: "null"},
		"JSON filter":            {from: fJSON, path: "$.items[?@.id==7].Price", want: "1.5"},
		"JSON no match": {from: fJSON, path: "$.nope",
			wantErr: `extracting "v" with JSON path $.nope: the path matched nothing`},
		"JSON bad path": {from: fJSON, path: "$[",
			wantErr: `extracting "v" with JSON path $[: invalid JSON path "$[": jsonpath: unexpected eof at position 3`},
		"regex group": {from: fRegex, path: `"name":"(\w+)"`, want: "Alice"},
		"regex whole": {from: fRegex, path: `A\w+`, want: "Alice"},
		"regex no match": {from: fRegex, path: `Bob`,
			wantErr: `extracting "v" with regular expression "Bob": no match in the response body`},
		"regex invalid": {from: fRegex, path: `(`,
			wantErr: "extracting \"v\" with regular expression \"(\": invalid regular expression \"(\": error parsing regexp: missing closing ): `(`"},
		"regex too costly": {from: fRegex, path: `\pL{1000}`, body: make([]byte, 100_001),
			wantErr: `extracting "v" with regular expression "\\pL{1000}": regular expression "\\pL{1000}" is too complex to run over 100001 bytes; simplify it`},
		"header":         {from: fHeader, path: "x-id", want: "a"},
		"header missing": {from: fHeader, path: "X-None", wantErr: `extracting "v" from header "X-None": the response has none`},
		"cookie":         {from: fCookie, path: "session", want: "s-1"},
		"cookie missing": {from: fCookie, path: "other", wantErr: `extracting "v" from cookie "other": the response has none`},
		"status":         {from: fStatus, want: "200"},
		"duration":       {from: fDuration, want: "120"},
		"XPath not XML": {from: fXPath, path: "//a",
			wantErr: `extracting "v" with XPath "//a": response body is not valid XML: xmlquery: invalid XML document`},
		"XPath element":   {from: fXPath, path: "//item[2]/name", body: []byte(sampleXML), want: "Bob"},
		"XPath attribute": {from: fXPath, path: "/order/@id", body: []byte(sampleXML), want: "o-1"},
		"XPath count":     {from: fXPath, path: "count(//item)", body: []byte(sampleXML), want: "2"},
		"XPath no match": {from: fXPath, path: "//nope", body: []byte(sampleXML),
			wantErr: `extracting "v" with XPath "//nope": the XPath matched nothing`},
		"XPath invalid": {from: fXPath, path: "//[", body: []byte(sampleXML),
			wantErr: `extracting "v" with XPath "//[": invalid XPath "//[": expression must evaluate to a node-set`},
		"status text": {from: fStatusText, want: "OK"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rsp := sampleResponse()
			if tt.body != nil {
				rsp.body = tt.body
			}
			vars, err := extractAll([]*lookoutv1.Extraction{{Name: "v", From: tt.from, Path: tt.path}}, rsp)
			got, gotErr := "", ""
			if len(vars) == 1 {
				got = vars[0].GetValue()
			}
			if err != nil {
				var class lookoutv1.ErrorClass
				class, gotErr = classOf(err)
				if class != lookoutv1.ErrorClass_ERROR_CLASS_EXTRACTION {
					t.Errorf("class = %v, want EXTRACTION", class)
				}
			}
			if diff := cmp.Diff([]string{got, gotErr}, []string{tt.want, tt.wantErr}); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

const sampleXML = `<?xml version="1.0"?>
<order id="o-1"><item><name>Alice</name></item><item><name>Bob</name><price>2.50</price></item></order>`

func TestExtractMalformedJSON(t *testing.T) {
	t.Parallel()
	rsp := sampleResponse()
	rsp.body = []byte(`{"a":1} trailing`)
	_, err := extractAll([]*lookoutv1.Extraction{{Name: "v", From: lookoutv1.ExtractFrom_EXTRACT_FROM_JSON, Path: "a"}}, rsp)
	_, msg := classOf(err)
	if want := `extracting "v" with JSON path $.a: response body is not valid JSON: unexpected data after the first value`; msg != want {
		t.Errorf("error = %q, want %q", msg, want)
	}
}

func FuzzSelectJSON(f *testing.F) {
	f.Add([]byte(sampleJSON), "items[0].id")
	f.Add([]byte(`[{"Price":1}]`), "[0].Price")
	f.Add([]byte(`{"a":{"b":[1,2,3]}}`), "$..b[-1:]")
	f.Add([]byte(`not json`), "$.a")
	f.Add([]byte(`{"a":1}`), "$[?length(@) > 0]")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		rsp := &response{body: body}
		_, _ = extractJSON(rsp, path)
		_ = evaluate(assertion(sJSON, path, cExists, ""), rsp, fixedNow, func(s string) string { return s })
	})
}

func FuzzEvaluate(f *testing.F) {
	f.Add(int32(1), int32(1), "", "200", []byte(sampleJSON))
	f.Add(int32(3), int32(13), "name", "(", []byte(sampleJSON))
	f.Add(int32(4), int32(5), "X-Id", "1e400", []byte(""))
	f.Add(int32(9), int32(8), "", "NaN", []byte(""))
	f.Fuzz(func(t *testing.T, source, comparison int32, path, value string, body []byte) {
		rsp := sampleResponse()
		rsp.body, rsp.size = body, int64(len(body))
		a := assertion(lookoutv1.AssertSource(source%11), path, lookoutv1.Comparison(comparison%15), value)
		res := evaluate(a, rsp, fixedNow, func(s string) string { return s })
		if res.GetMessage() == "" {
			t.Errorf("no message for %v", a)
		}
		if len(res.GetActual()) > maxActual {
			t.Errorf("actual is %d bytes", len(res.GetActual()))
		}
	})
}
