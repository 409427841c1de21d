package natsbus

import "testing"

func TestRunSubjectRefusesUnsafeIDs(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", "a.b", "*", ">", "cp_1.>", "CP", "a b"} {
		if _, err := RunSubject(id); err == nil {
			t.Errorf("RunSubject(%q) accepted an unsafe id", id)
		}
	}
	got, err := RunSubject("cp_0123abc")
	if err != nil || got != "lookout.run.cp_0123abc" {
		t.Errorf("RunSubject(cp_0123abc) = %q, %v", got, err)
	}
}
