package dispatcher

import (
	"fmt"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// DispatchConfirmation starts one confirmation run of m on each named checkpoint: a normal run,
// marked as a confirmation in its record and result, sent at once after a first failure.
func (d *Dispatcher) DispatchConfirmation(m *pb.Monitor, names []string) ([]*pb.Run, error) {
	var b batch
	for _, name := range names {
		cp, err := d.checkpoint(&b, name)
		if err != nil {
			return nil, fmt.Errorf("monitor %q names checkpoint %q: %w", m.Name, name, err)
		}
		r, mon, refusal := d.prepare(&b, m, cp, false)
		r.Confirmation = true
		b.add(r, mon, refusal)
	}
	return d.send(&b)
}
