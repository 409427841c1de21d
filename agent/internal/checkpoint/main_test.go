package checkpoint

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		testutil.RemoveBinaries()
		os.Exit(code)
	}))
}
