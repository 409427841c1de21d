package importer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lookout-synthetics/lookout/controller/internal/monitorfile"
)

// FuzzConvert checks that Convert never panics on any input, that every
// monitor it accepts is a valid Lookout monitor file, that it is
// deterministic, and that inline passwords never reach the file.
func FuzzConvert(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"Name":"m","MultiStepApiTransactionScript":"{\"MsaSteps\":[{\"Url\":\"https://e/\"}]}"}`))
	f.Add([]byte(`[{"Name":"a","MsaSteps":[{"StepType":"Delay","Delay":5}]}]`))
	f.Add([]byte(`{"Name":"m","MsaSteps":[{"Url":"https://e/","Authentication":{"AuthenticationType":"Basic","UserName":"u","Password":"pw-XYZZY"}}]}`))
	o := Options{Lookup: &staticLookup{items: []string{"x"}, checkpoints: []Checkpoint{{"a", true}, {"b", false}}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := Convert(t.Context(), data, o)
		if err != nil {
			return
		}
		again, err := Convert(t.Context(), data, o)
		if err != nil || len(again) != len(ms) {
			t.Fatalf("second conversion differs: %v", err)
		}
		for i, m := range ms {
			if _, err := monitorfile.Parse(m.File); err != nil {
				t.Fatalf("accepted monitor %s is not a valid file: %v\n%s", m.Path, err, m.File)
			}
			if string(again[i].File) != string(m.File) {
				t.Fatalf("not deterministic:\n%s\n%s", m.File, again[i].File)
			}
			for _, c := range m.Credentials {
				if len(c.Password) >= 4 && strings.Contains(string(m.File), c.Password) {
					t.Fatalf("password of %s is in the monitor file", c.Item)
				}
			}
		}
	})
}
