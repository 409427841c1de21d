package natsembed

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/lookout-synthetics/lookout/internal/natsbus"
	"github.com/lookout-synthetics/lookout/internal/pki"
)

// ControllerUser is the name an external NATS deployment maps the controller's client certificate
// to: the certificate carries it as its URI SAN.
const ControllerUser = pki.ControllerURI

// ExternalAuthorization renders the `authorization` block of a nats-server configuration that gives
// the controller and each agent the same permissions as the embedded server does. It is meant for a
// listener with `tls { verify_and_map: true }` and the internal CA as `ca_file`: nats-server then
// maps each client certificate's URI SAN (pki.Identity.URI) to the user of that name. Add an agent
// to the list (and reload the server) when it enrols; remove it to revoke it.
func ExternalAuthorization(agents []pki.Identity) (string, error) {
	var b strings.Builder
	b.WriteString("authorization {\n  users = [\n")
	fmt.Fprintf(&b, "    { user: %q, permissions: { publish: { allow: [%q] }, subscribe: { deny: [\">\"] } } }\n", ControllerUser, "lookout.run.*")
	for _, id := range agents {
		if _, err := natsbus.RunSubject(id.CheckpointID); err != nil {
			return "", err
		}
		if !safeAgentID(id.AgentID) {
			return "", fmt.Errorf("agent id %q is not safe in a NATS subject", id.AgentID)
		}
		p := AgentPermissions(id) // the embedded server's, rendered in nats-server's syntax
		fmt.Fprintf(&b, "    { user: %q, permissions: { publish: { deny: [%s] }, subscribe: { allow: [%s] } } }\n",
			id.URI().String(), quoteList(p.Publish.Deny), quoteList(p.Subscribe.Allow))
	}
	b.WriteString("  ]\n}\n")
	return b.String(), nil
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, it := range items {
		q[i] = strconv.Quote(it)
	}
	return strings.Join(q, ", ")
}
