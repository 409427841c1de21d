package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/lookout-synthetics/lookout/controller/internal/monitorfile"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// printMonitorFile writes a stored monitor in the format `monitor apply -f` reads, so it can be
// saved, edited and applied again; the controller's bookkeeping goes in a comment on top.
func printMonitorFile(w io.Writer, m *pb.Monitor) error {
	b, err := monitorfile.Format(m)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "# monitor %s, version %d, updated %s\n", m.GetId(), m.GetVersion(), m.GetUpdatedAt().AsTime().Local().Format(time.RFC3339))
	_, err = w.Write(b)
	return err
}
