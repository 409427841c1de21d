package store

import (
	"bytes"
	"fmt"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Superseded says whether the latest stored result of res's monitor × checkpoint is another
// agent's result whose run comes after res's (see RunOrder): res was reported late, and what the
// monitored API said since is already known. Results the controller made (expiry, policy) say
// nothing of the API and supersede nothing.
func (a AlertTx) Superseded(res *pb.RunResult) (bool, error) {
	key := bytes.TrimSuffix(seriesKey(res.MonitorName, res.CheckpointName), []byte{0})
	entry := a.tx.Bucket(bLatest).Get(key)
	if len(entry) < 8 || bytes.Equal(entry[:8], seqKey(res.Sequence)) {
		return false, nil
	}
	v := a.tx.Bucket(bResults).Get(entry[:8])
	if v == nil {
		return false, nil // gone past retention
	}
	latest := &pb.RunResult{}
	if err := decodeResult(v, latest); err != nil {
		return false, fmt.Errorf("latest result of %s @ %s: %w", res.MonitorName, res.CheckpointName, err)
	}
	return latest.AgentId != "" && OrderOf(res).Before(OrderOf(latest)), nil
}
