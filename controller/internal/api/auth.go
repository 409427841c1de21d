package api

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	"github.com/lookout-synthetics/lookout/internal/agenterr"
	"github.com/lookout-synthetics/lookout/internal/pki"
)

const (
	adminPrefix     = "/lookout.v1.AdminService/"
	resultsPrefix   = "/lookout.v1.ResultService/"
	fleetPrefix     = "/lookout.v1.FleetService/"
	agentPrefix     = "/lookout.v1.AgentService/"
	enrollMethod    = agentPrefix + "Enroll"
	heartbeatMethod = agentPrefix + "Heartbeat"
)

// Authenticator checks admin tokens and agent certificates.
type Authenticator struct {
	AdminToken string
	Store      *store.Store
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
	switch {
	case strings.HasPrefix(method, adminPrefix), strings.HasPrefix(method, resultsPrefix), strings.HasPrefix(method, fleetPrefix):
		return ctx, a.checkAdmin(ctx)
	case method == enrollMethod:
		return ctx, nil // the enrollment token in the request is the credential
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
	_ = a.Store.Audit(store.AuditEntry{Actor: ag.ID, Action: "denied_agent_call", Target: strings.TrimPrefix(method, agentPrefix), Detail: status.Convert(err).Message()})
}

func (a *Authenticator) checkAdmin(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return status.Error(codes.Unauthenticated, "no admin token: pass --token-file or set LOOKOUT_TOKEN_FILE (the controller writes it to <data-dir>/admin.token)")
	}
	tok, ok := strings.CutPrefix(vals[0], "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(a.AdminToken)) != 1 {
		return status.Error(codes.Unauthenticated, "admin token is not valid for this controller (check --token-file)")
	}
	return nil
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
