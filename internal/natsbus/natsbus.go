// Package natsbus names the NATS subjects and queue groups that the controller and agents share, and
// holds the small helpers both sides use to publish and decode run requests.
//
// Run requests never carry secrets (see DESIGN §5): only the monitor definition and references to the
// vault items a run needs, by id and version.
package natsbus

import (
	"fmt"
	"regexp"
)

// safeID is the alphabet of ids the controller chooses: nothing that NATS treats as a token
// separator or wildcard ('.', '*', '>') can reach a subject.
var safeID = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// RunSubject is where run requests for one checkpoint are published.
func RunSubject(checkpointID string) (string, error) {
	if !safeID.MatchString(checkpointID) {
		return "", fmt.Errorf("checkpoint id %q is not safe in a NATS subject", checkpointID)
	}
	return "lookout.run." + checkpointID, nil
}

// QueueGroup is the queue group the instances of one checkpoint share, so each run goes to one of them.
func QueueGroup(checkpointID string) string { return "lookout-cp-" + checkpointID }

// InboxPrefix is an agent's own reply-subject prefix, so request/reply never crosses agents.
func InboxPrefix(agentID string) string { return "_INBOX_" + agentID }
