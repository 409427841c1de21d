package api_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a handler, a stream or a test controller started here is joined.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
