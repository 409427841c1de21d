package api

import (
	"os"
	"slices"
	"strings"
	"testing"
)

const (
	apiDoc        = "../../../docs/api.md"
	readTableOpen = "<!-- results:read calls: generated from methodNeeds by TestAPIDocListsTheResultsReadCalls -->"
	readTableEnd  = "<!-- end of results:read calls -->"
)

// resultsReadTable renders the calls a results:read token may make, one row per method, sorted.
func resultsReadTable() string {
	var rows []string
	for method, n := range methodNeeds {
		if n != needResultsRead {
			continue
		}
		service, name, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
		rows = append(rows, "| `"+service+"` | `"+name+"` |")
	}
	slices.Sort(rows)
	return "| Service | Method |\n|---|---|\n" + strings.Join(rows, "\n") + "\n"
}

// The table in docs/api.md of what a results:read token may call is the auth table itself: a method
// opened or closed in methodNeeds without the doc following fails here, with the table to paste.
func TestAPIDocListsTheResultsReadCalls(t *testing.T) {
	doc, err := os.ReadFile(apiDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), readTableOpen+"\n")
	table, _, closed := strings.Cut(rest, readTableEnd)
	if !ok || !closed {
		t.Fatalf("%s has no table between %q and %q", apiDoc, readTableOpen, readTableEnd)
	}
	if want := resultsReadTable(); table != want {
		t.Fatalf("%s lists other results:read calls than methodNeeds; replace its table with:\n%s", apiDoc, want)
	}
}
