package monitorfile

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics, that whatever it accepts is
// valid, and that Format writes it back as a file that parses the same.
func FuzzParse(f *testing.F) {
	f.Add([]byte(designExample))
	f.Add([]byte("name: x\ncheckpoints: [a]\nsteps: [{wait: 1s}]\n"))
	f.Add([]byte("name: x\ncheckpoints: [a]\nsteps:\n  - request: {url: 'https://e/', headers: {A: 1}}\n    assert: [{source: json, path: $.a, comparison: exists}]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("name: x\ncheckpoints: [a]\nsteps: [{wait: 1s}]\nvariables: {a: &v vvvvvvvv, b: *v, c: *v, d: *v}\n"))
	f.Add([]byte(requestOptionsFile))
	paths, _ := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	authPaths, _ := filepath.Glob(filepath.Join(examplesDir, "auth", "*.yaml"))
	paths = append(paths, authPaths...)
	for _, path := range paths {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Parse accepted a monitor that fails Validate:\n%v", err)
		}
		checkRoundTrip(t, m)
	})
}
