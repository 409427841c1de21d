package runner

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// TestXPathAndAssertionVariables runs XPath extraction and assertions
// against a real XML response, with {{variables}} in assertion values. Every
// assertion is reported, including the ones after a failure.
func TestXPathAndAssertionVariables(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
  <order id="o-7" status="open"><total currency="EUR">12.50</total><line>a</line><line>b</line></order>
</s:Body></s:Envelope>`)
	}))
	step := get("soap", srv.URL,
		assertion(sXPath, "//order/@id", cEq, "{{order}}"),
		assertion(sXPath, "//total", cGt, "12"),
		assertion(sXPath, "count(//line)", cEq, "3"), // fails
		assertion(sXPath, "/s:Envelope/s:Body/order/@status", cEq, "OPEN"),
		assertion(sXPath, "//missing", cNotExist, ""),
		assertion(sBody, "", cContains, "{{undefined}}"), // fails: no such variable
		assertion(sXPath, "//total/@currency", cMatches, "^[A-Z]{3}$"),
	)
	step.Extract = []*lookoutv1.Extraction{
		{Name: "total", From: lookoutv1.ExtractFrom_EXTRACT_FROM_XPATH, Path: "//order/total"},
		{Name: "reason", From: lookoutv1.ExtractFrom_EXTRACT_FROM_STATUS_TEXT},
	}
	m := monitor(step)
	m.Variables = map[string]string{"order": "O-7"}
	res := runMonitor(t, New(Options{}), m, nil)
	st := res.GetSteps()[0]
	var got []verdict
	for _, a := range st.GetAssertions() {
		got = append(got, verdict{a.GetPassed(), a.GetActual(), a.GetMessage()})
	}
	want := []verdict{
		{true, "o-7", `expected XPath "//order/@id" to equal "O-7", got "o-7"`},
		{true, "12.50", `expected XPath "//total" greater than 12, got 12.50`},
		{false, "2", `expected XPath "count(//line)" to equal 3, got 2`},
		{true, "open", `expected XPath "/s:Envelope/s:Body/order/@status" to equal "OPEN", got "open"`},
		{true, "", `expected XPath "//missing" not to exist`},
		{false, "", `variable "undefined" is not defined`},
		{true, "EUR", `expected XPath "//total/@currency" to match "^[A-Z]{3}$", got "EUR"`},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("assertions (-got +want):\n%s", diff)
	}
	if got, want := st.GetError(), `expected XPath "count(//line)" to equal 3, got 2 (and 1 more failed assertion)`; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	vars := map[string]string{}
	for _, v := range st.GetVariables() {
		vars[v.GetName()] = v.GetValue()
	}
	if diff := cmp.Diff(vars, map[string]string{"total": "12.50", "reason": "OK"}); diff != "" {
		t.Errorf("variables (-got +want):\n%s", diff)
	}
}

func FuzzXPath(f *testing.F) {
	f.Add([]byte(sampleXML), "//item[2]/name")
	f.Add([]byte(sampleXML), "count(//item) > 1")
	f.Add([]byte(`<a xmlns:x="u"><x:b>1</x:b></a>`), "//x:b")
	f.Add([]byte(`<a>`), "//a")
	f.Add([]byte(`<a/>`), "//a[")
	f.Add([]byte(`<a/>`), "substring(/a, -1, 1 div 0)")
	f.Fuzz(func(t *testing.T, body []byte, expr string) {
		rsp := &response{body: body}
		_, _ = extractXPath(rsp, expr)
		res := evaluate(assertion(sXPath, expr, cEq, "1"), rsp, fixedNow, func(s string) string { return s })
		if res.GetMessage() == "" {
			t.Errorf("no message for %q", expr)
		}
	})
}

// TestXPathBudget: an expression whose cost grows with the cube of the
// document is refused with a clear message once it has spent its budget,
// while a plain path over a large document still evaluates, and the other
// assertions of the step are still reported.
func TestXPathBudget(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("<list>")
	for i := range 5000 {
		fmt.Fprintf(&b, "<item id=%q>%d</item>", fmt.Sprint(i), i)
	}
	b.WriteString("</list>")
	body := b.String()
	doc, err := parseXML([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	const hostile = "count(//*[count(//*[count(//*) > 0]) > 0])"
	if _, _, err := selectXPath(doc, hostile); err == nil || !strings.Contains(err.Error(), "too costly") {
		t.Fatalf("hostile XPath: err = %v, want a 'too costly' error", err)
	}
	// The same budget, spent by a cheap expression, is plenty.
	if v, ok, err := selectXPath(doc, "count(//item)"); err != nil || !ok || v != "5000" {
		t.Fatalf("count(//item) = %q, %v, %v; want 5000", v, ok, err)
	}
	// A budget too small for even the cheap one trips too: the counter is real.
	if _, _, err := selectXPathBudget(doc, "count(//item)", 1000); err == nil {
		t.Fatal("count(//item) within 1000 moves: want a budget error")
	}

	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, body)
	}))
	res := runMonitor(t, New(Options{}), monitor(get("hostile", srv.URL,
		assertion(sXPath, hostile, cEq, "1"),
		assertion(sXPath, "//item[@id='42']", cEq, "42"),
	)), nil)
	as := res.GetSteps()[0].GetAssertions()
	if len(as) != 2 || as[0].GetPassed() || !strings.Contains(as[0].GetMessage(), "too costly") || !as[1].GetPassed() {
		t.Fatalf("assertions = %v; want the hostile one failed as too costly and the plain one passed", as)
	}
}
