package suggest

import "testing"

func TestClosest(t *testing.T) {
	t.Parallel()
	words := []string{"equal", "not_equal", "contains", "not_contains", "less_than", "exists"}
	for _, tc := range []struct{ word, want string }{
		{"equals", "equal"},
		{"Equal", "equal"},
		{"not-equal", "not_equal"},
		{"contians", "contains"},
		{"exist", "exists"},
		{"lessthan", "less_than"},
		{"banana", ""},
		{"", ""},
		{"eq", ""},
		{"1.4", ""},
	} {
		if got := Closest(tc.word, words); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
}

func TestHint(t *testing.T) {
	t.Parallel()
	if got, want := Hint("apply", []string{"monitor apply", "apply"}), ""; got != want {
		t.Errorf("Hint of an exact word = %q, want %q", got, want)
	}
	if got, want := Hint("ca_bundle_files", []string{"ca_bundle", "ca_bundle_file"}), ` (did you mean "ca_bundle_file"?)`; got != want {
		t.Errorf("Hint = %q, want %q (a typo beats a prefix)", got, want)
	}
	if got, want := Hint("--pasword-file", []string{"--password-file", "--password-stdin"}), ` (did you mean "--password-file"?)`; got != want {
		t.Errorf("Hint = %q, want %q", got, want)
	}
}
