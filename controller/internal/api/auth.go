package api

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/lookout-synthetics/lookout/controller/internal/refusals"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	"github.com/lookout-synthetics/lookout/controller/internal/tokens"
	"github.com/lookout-synthetics/lookout/internal/agenterr"
	"github.com/lookout-synthetics/lookout/internal/pki"
)

const (
	agentPrefix     = "/lookout.v1.AgentService/"
	enrollMethod    = agentPrefix + "Enroll"
	heartbeatMethod = agentPrefix + "Heartbeat"
)

// need is what a method asks of its caller.
type need int

const (
	needAdmin       need = iota // the zero value: every method the table does not name
	needResultsRead             // a results:read or admin token
	needAgent                   // an enrolled, unrevoked agent's client certificate
	needNothing                 // the request carries its own credential (enrollment)
)

// methodNeeds is the one table of what each gRPC method needs. A method missing from it needs an
// admin token, so a service added later is closed until someone opens it here on purpose.
var methodNeeds = map[string]need{
	enrollMethod:                                 needNothing,
	heartbeatMethod:                              needAgent,
	agentPrefix + "FetchRunSecrets":              needAgent,
	agentPrefix + "ReportResult":                 needAgent,
	agentPrefix + "RenewCertificate":             needAgent,
	agentPrefix + "RunCalls":                     needAgent,
	"/grpc.health.v1.Health/Check":               needAgent,
	"/grpc.health.v1.Health/Watch":               needAgent,
	"/grpc.health.v1.Health/List":                needAgent,
	"/lookout.v1.ResultService/StreamResults":    needResultsRead,
	"/lookout.v1.QueryService/LastResults":       needResultsRead,
	"/lookout.v1.QueryService/MonitorStatus":     needResultsRead,
	"/lookout.v1.AdminService/ListMonitors":      needResultsRead,
	"/lookout.v1.AdminService/GetMonitor":        needResultsRead,
	"/lookout.v1.AdminService/GetRun":            needResultsRead,
	"/lookout.v1.AdminService/ListCheckpoints":   needResultsRead,
	"/lookout.v1.AlertService/ListAlerts":        needResultsRead,
	"/lookout.v1.AlertService/ListMonitorStates": needResultsRead,
	"/lookout.v1.AlertService/ListChannels":      needResultsRead,
	"/lookout.v1.AlertService/GetChannel":        needResultsRead,
	// Server reflection describes the schema only (no data), so any valid token may read it.
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      needResultsRead,
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": needResultsRead,
}

// Authenticator checks tokens (the bootstrap admin token and scoped API tokens) and agent
// certificates.
type Authenticator struct {
	AdminToken string
	Store      *store.Store
	// Refusals merges the audit entries of refused agent calls (a revoked agent left running
	// calls again and again); nil writes one entry per refusal.
	Refusals *refusals.Limiter
	Tokens   *tokens.Tokens // scoped API tokens; nil: only the admin token is accepted
}

type agentKey struct{}

// Unary is the unary server interceptor.
func (a *Authenticator) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := a.authorize(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

// Stream is the stream server interceptor. The handler sees the authorized context (the calling
// agent, for agent streams).
func (a *Authenticator) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := a.authorize(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	if c, ok := ctx.Value(callerKey{}).(Caller); ok && c.Name != AdminCaller {
		// A scoped token's stream is checked again before each message it sends, so a revocation
		// ends it at once.
		return h(srv, &tokenStream{authorizedStream: authorizedStream{ServerStream: ss, ctx: ctx}, a: a, c: c})
	}
	if _, ok := ctx.Value(agentKey{}).(store.Agent); ok {
		// A stream outlives this check: its handler repeats it for every message it serves, so a
		// revocation or an expired certificate ends the stream's service at once. The
		// certificate's identity is read once for the stream.
		leaf, err := peerLeaf(ctx)
		if err != nil {
			return err
		}
		who := callerOf(leaf)
		ctx = context.WithValue(ctx, recheckKey{}, func(call string) (store.Agent, error) {
			ag, err := a.agentFor(who)
			if err != nil {
				a.auditRefusal(ag, agentPrefix+call, err)
			}
			return ag, err
		})
	}
	return h(srv, &authorizedStream{ServerStream: ss, ctx: ctx})
}

type authorizedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *authorizedStream) Context() context.Context { return s.ctx }

func (a *Authenticator) authorize(ctx context.Context, method string) (context.Context, error) {
	switch n := methodNeeds[method]; n {
	case needNothing:
		return ctx, nil
	case needAdmin, needResultsRead:
		return a.checkToken(ctx, method, n)
	default:
		leaf, err := peerLeaf(ctx)
		if err != nil {
			return nil, err
		}
		who := callerOf(leaf)
		ag, err := a.agentFor(who)
		if err != nil {
			a.auditRefusal(ag, method, err)
			return nil, err
		}
		return context.WithValue(ctx, agentKey{}, ag), nil
	}
}

// auditRefusal records an enrolled agent's refused call (revoked, or a certificate naming another
// checkpoint) when it asked for secrets or reported a result. Heartbeats are not recorded, so a
// revoked agent left running does not fill the log.
func (a *Authenticator) auditRefusal(ag store.Agent, method string, err error) {
	if ag.ID == "" || method == heartbeatMethod {
		return
	}
	call, detail := strings.TrimPrefix(method, agentPrefix), status.Convert(err).Message()
	if a.Refusals != nil {
		a.Refusals.Refused(ag.ID, "denied_agent_call", call, detail)
		return
	}
	_ = a.Store.Audit(store.AuditEntry{Actor: ag.ID, Action: "denied_agent_call", Target: call, Detail: detail})
}

// peerLeaf is the caller's verified client certificate.
func peerLeaf(ctx context.Context) (*x509.Certificate, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no peer information")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 {
		return nil, status.Error(codes.Unauthenticated, "this call needs an enrolled agent's client certificate: enroll the agent with a token first")
	}
	return ti.State.VerifiedChains[0][0], nil
}

// caller is what a verified client certificate says, read once per connection's call or stream.
type caller struct {
	notAfter time.Time
	id       pki.Identity
	idErr    error
}

func callerOf(leaf *x509.Certificate) caller {
	id, err := pki.IdentityFromCert(leaf)
	return caller{notAfter: leaf.NotAfter, id: id, idErr: err}
}

// agentFor maps a verified client certificate to an enrolled, unrevoked agent.
func (a *Authenticator) agentFor(c caller) (store.Agent, error) {
	if time.Now().After(c.notAfter) {
		// The handshake verified it, but a connection can outlive its certificate.
		return store.Agent{}, status.Errorf(codes.Unauthenticated, "client certificate expired at %s: reconnect with the renewed certificate, or enroll the agent again", c.notAfter.UTC().Format(time.RFC3339))
	}
	if c.idErr != nil {
		return store.Agent{}, status.Errorf(codes.Unauthenticated, "client certificate: %v", c.idErr)
	}
	id := c.id
	ag, err := a.Store.Agent(id.AgentID)
	switch {
	case err != nil:
		return store.Agent{}, status.Errorf(codes.Unauthenticated, "agent %s is not enrolled with this controller", id.AgentID)
	case ag.Revoked:
		return ag, agenterr.Revoked(fmt.Sprintf("agent %s has been revoked: enroll it again with a new token", id.AgentID))
	case ag.CheckpointID != id.CheckpointID:
		return ag, status.Errorf(codes.PermissionDenied, "agent %s certificate names another checkpoint", id.AgentID)
	}
	return ag, nil
}

func agentFrom(ctx context.Context) store.Agent {
	ag, _ := ctx.Value(agentKey{}).(store.Agent)
	return ag
}

type recheckKey struct{}

// recheckFrom returns the check the stream interceptor made for an agent's stream, to repeat per
// message.
func recheckFrom(ctx context.Context) func(call string) (store.Agent, error) {
	f, _ := ctx.Value(recheckKey{}).(func(string) (store.Agent, error))
	return f
}
