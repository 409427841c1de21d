package collect_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the exporter, the probe series or a controller started here is joined.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
