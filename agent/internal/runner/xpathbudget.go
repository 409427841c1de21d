package runner

import (
	"fmt"

	"github.com/antchfx/xmlquery"
	"github.com/antchfx/xpath"
)

// xpathBudget bounds the work of evaluating one XPath expression, counted in
// navigator moves (plus the text a node's value spans). The XPath engine takes
// no context, and nested predicates such as //*[count(//*) > 0] cost the square
// of the document's size or worse, so without a bound a hostile body could pin
// a CPU past the step's deadline. A plain path over the largest body the runner
// reads costs a few hundred thousand moves; the bound is tens of times that.
const xpathBudget = 20_000_000

// errXPathBudget is the panic value a navigator raises when the budget is spent;
// selectXPath recovers it and fails the assertion or extraction.
type errXPathBudget struct{}

// budgetNav wraps xmlquery's navigator and counts its work. Copies share the
// counter, so the budget covers the whole evaluation.
type budgetNav struct {
	nav  *xmlquery.NodeNavigator
	left *int64
}

func newBudgetNav(doc *xmlquery.Node, budget int64) *budgetNav {
	return &budgetNav{nav: xmlquery.CreateXPathNavigator(doc), left: &budget}
}

func (b *budgetNav) spend(n int64) {
	*b.left -= n
	if *b.left < 0 {
		panic(errXPathBudget{})
	}
}

func (b *budgetNav) NodeType() xpath.NodeType { return b.nav.NodeType() }
func (b *budgetNav) LocalName() string        { return b.nav.LocalName() }
func (b *budgetNav) Prefix() string           { return b.nav.Prefix() }
func (b *budgetNav) NamespaceURL() string     { return b.nav.NamespaceURL() }

func (b *budgetNav) Value() string {
	v := b.nav.Value()
	b.spend(1 + int64(len(v))/64)
	return v
}

func (b *budgetNav) Copy() xpath.NodeNavigator {
	b.spend(1)
	return &budgetNav{nav: b.nav.Copy().(*xmlquery.NodeNavigator), left: b.left}
}

func (b *budgetNav) MoveToRoot()               { b.spend(1); b.nav.MoveToRoot() }
func (b *budgetNav) MoveToParent() bool        { b.spend(1); return b.nav.MoveToParent() }
func (b *budgetNav) MoveToNextAttribute() bool { b.spend(1); return b.nav.MoveToNextAttribute() }
func (b *budgetNav) MoveToChild() bool         { b.spend(1); return b.nav.MoveToChild() }
func (b *budgetNav) MoveToFirst() bool         { b.spend(1); return b.nav.MoveToFirst() }
func (b *budgetNav) MoveToNext() bool          { b.spend(1); return b.nav.MoveToNext() }
func (b *budgetNav) MoveToPrevious() bool      { b.spend(1); return b.nav.MoveToPrevious() }

func (b *budgetNav) MoveTo(other xpath.NodeNavigator) bool {
	b.spend(1)
	o, ok := other.(*budgetNav)
	if !ok {
		return false
	}
	return b.nav.MoveTo(o.nav)
}

// xpathPanic turns a panic during evaluation into the error the step reports.
func xpathPanic(expr string, r any) error {
	if _, ok := r.(errXPathBudget); ok {
		return fmt.Errorf("XPath %q is too costly to evaluate over this response (more than %d steps); simplify it", expr, xpathBudget)
	}
	return fmt.Errorf("XPath %q could not be evaluated: %v", expr, r)
}
