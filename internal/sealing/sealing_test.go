package sealing

import (
	"bytes"
	"testing"
)

func TestSealOpenBindsAgentRunAndAttempt(t *testing.T) {
	t.Parallel()
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("secret material")
	sealed, err := Seal(k.PublicKey().Bytes(), Info("ag_1", "run_1", 1), msg)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, msg) {
		t.Fatal("sealed output contains the plaintext")
	}
	got, err := Open(k, Info("ag_1", "run_1", 1), sealed)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open = %q, %v; want the plaintext", got, err)
	}
	for name, info := range map[string][]byte{
		"other agent":   Info("ag_2", "run_1", 1),
		"other run":     Info("ag_1", "run_2", 1),
		"other attempt": Info("ag_1", "run_1", 2),
	} {
		if _, err := Open(k, info, sealed); err == nil {
			t.Errorf("%s: Open succeeded with the wrong binding", name)
		}
	}
	other, _ := NewKey()
	if _, err := Open(other, Info("ag_1", "run_1", 1), sealed); err == nil {
		t.Error("Open succeeded with another agent's key")
	}
}

func TestSealRefusesBadKey(t *testing.T) {
	t.Parallel()
	if _, err := Seal([]byte("short"), nil, []byte("x")); err == nil {
		t.Fatal("Seal accepted a 5-byte public key")
	}
}
