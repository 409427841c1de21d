package store

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the store starts (group commits, pruning) is joined by Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
