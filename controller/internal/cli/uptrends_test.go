package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPairsFlag(t *testing.T) {
	t.Parallel()
	p := pairs{}
	for _, v := range []string{"31=public-1,region:4=public-2", " Get token = api-user "} {
		if err := p.Set(v); err != nil {
			t.Fatalf("Set(%q): %v", v, err)
		}
	}
	want := pairs{"31": "public-1", "region:4": "public-2", "Get token": "api-user"}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("pairs (-want +got):\n%s", diff)
	}
	if got, want := p.String(), "31=public-1,Get token=api-user,region:4=public-2"; got != want {
		t.Errorf("String() = %q, want %q (sorted, so -h is stable)", got, want)
	}
	for _, bad := range []string{"x", "=y", "x=", "a=b,,c=d"} {
		if err := (pairs{}).Set(bad); err == nil {
			t.Errorf("Set(%q) accepted it", bad)
		}
	}
}
