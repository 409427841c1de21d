package server

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a controller started here (listeners, sweeper, pruner, NATS) is joined by Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
