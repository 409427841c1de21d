package runner

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/antchfx/xmlquery"
	"github.com/antchfx/xpath"
)

// parseXML parses a whole body as an XML document.
func parseXML(body []byte) (*xmlquery.Node, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("response body is not valid XML: the body is empty")
	}
	doc, err := xmlquery.Parse(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("response body is not valid XML: %w", err)
	}
	return doc, nil
}

// selectXPath evaluates expr against doc. A node-set gives its first node's
// text (an attribute's value, an element's inner text); an expression such
// as count(//item) or string(/a/@b) gives its value. ok is false when a
// node-set is empty.
func selectXPath(doc *xmlquery.Node, expr string) (value string, ok bool, err error) {
	return selectXPathBudget(doc, expr, xpathBudget)
}

func selectXPathBudget(doc *xmlquery.Node, expr string, budget int64) (value string, ok bool, err error) {
	compiled, err := xpath.Compile(strings.TrimSpace(expr))
	if err != nil {
		return "", false, fmt.Errorf("invalid XPath %q: %w", expr, err)
	}
	defer func() {
		// The XPath engine may panic on odd expressions, and the budget
		// panics when spent; either must fail the assertion, not the agent.
		if r := recover(); r != nil {
			value, ok, err = "", false, xpathPanic(expr, r)
		}
	}()
	switch v := compiled.Evaluate(newBudgetNav(doc, budget)).(type) {
	case *xpath.NodeIterator:
		if !v.MoveNext() {
			return "", false, nil
		}
		return v.Current().Value(), true, nil
	case float64:
		return formatXPathNumber(v), true, nil
	case bool:
		return strconv.FormatBool(v), true, nil
	case string:
		return v, true, nil
	default:
		return fmt.Sprint(v), true, nil
	}
}

// formatXPathNumber prints integers without a fraction: count() gives 3, not 3.000000.
func formatXPathNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
