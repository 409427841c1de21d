package monitorfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheckVariables(t *testing.T) {
	t.Parallel()
	m, err := Parse([]byte(`name: vars
checkpoints: [public-1]
variables: {base: "https://example.com"}
secret_variables: {key: api-key}
steps:
  - name: first
    request:
      url: "{{base}}/a?k={{key}}&r={{@RandomInt(1,9)}}&t={{token}}"
      headers: {X-Trace: "{{bse}}"}
    extract:
      - {name: token, from: json, path: $.t}
    assert:
      - {source: body, comparison: contains, value: "{{token}}"}
  - name: second
    request:
      url: "{{base}}/b"
      auth: {type: bearer, token: "{{token}}"}
      form:
        - {name: a, value: "{{ nope }}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range CheckVariables(m) {
		got = append(got, e.Error())
	}
	const why = " is not defined: it is not in variables or secret_variables, not automatic (@RandomGuid, @RandomInt(a,b), @DateTime(format,offset)), and no earlier step extracts it"
	want := []string{
		`steps[0].request.headers.X-Trace: {{bse}}` + why + ` (did you mean "base"?)`,
		`steps[0].request.url: {{token}} is not defined yet: steps[0] extracts it, after this is sent; extract it in an earlier step`,
		`steps[0].assert[0].value: {{token}} is not defined yet: steps[0] extracts it, after this is sent; extract it in an earlier step`,
		`steps[1].request.form[0]: {{nope}}` + why,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CheckVariables (-want +got):\n%s", diff)
	}
}

func TestCheckVariablesAcceptsTheExamples(t *testing.T) {
	t.Parallel()
	files := map[string][]byte{"DESIGN example": []byte(designExample)}
	paths, _ := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	auth, _ := filepath.Glob(filepath.Join(examplesDir, "auth", "*.yaml"))
	for _, p := range append(paths, auth...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = b
	}
	if len(files) < 3 {
		t.Fatalf("found %d example files, want the DESIGN example and deploy/examples", len(files))
	}
	for name, b := range files {
		m, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if errs := CheckVariables(m); len(errs) > 0 {
			t.Errorf("%s has undefined variables: %v", name, errs)
		}
	}
}
