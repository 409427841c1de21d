package monitorfile

import (
	"strings"
	"testing"
)

// A field of a kind the decoder has no rule for is a programmer's error, but one a user's file
// reaches: it is refused with an error naming the field, never a panic that would stop the
// controller inside a gRPC handler.
func TestDecodeStrictRefusesAFieldKindItCannotRead(t *testing.T) {
	var v struct {
		Ratio float64 `yaml:"ratio"`
	}
	err := DecodeStrict([]byte("ratio: 0.5\n"), &v, "test file")
	if err == nil || !strings.Contains(err.Error(), "ratio: internal error") {
		t.Fatalf("DecodeStrict into a float64 = %v, want an internal error naming ratio", err)
	}
}
