package e2e

import (
	"os"
	"testing"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBinaries()
	os.Exit(code)
}
