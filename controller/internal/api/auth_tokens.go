package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lookout-synthetics/lookout/controller/internal/tokens"
)

// AdminCaller is the Caller name of the bootstrap admin token (admin.token); API tokens are named
// "token:NAME".
const AdminCaller = "admin"

// Caller is who presented a token: the audit log's actor, and what the token may do.
type Caller struct {
	Name  string
	Scope tokens.Scope
}

type callerKey struct{}

// CallerFrom returns the token holder that made the call, set by the interceptors; the zero
// Caller for agents' calls.
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// WithCaller returns ctx naming c as the caller, for calls made in process on a token holder's
// behalf (the web console's sessions), so that the audit log names them as their gRPC calls.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// TokenScope checks a presented token (the bootstrap admin token or an API token) and says who
// holds it and what it may do. For callers outside gRPC, such as the web console; every call
// reads the token table, so a revoked token fails from the moment it is revoked.
func (a *Authenticator) TokenScope(token string) (Caller, error) {
	token = strings.TrimSpace(token)
	if token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(a.AdminToken)) == 1 {
		return Caller{Name: AdminCaller, Scope: tokens.Admin}, nil
	}
	if a.Tokens == nil {
		return Caller{}, tokens.ErrUnknown
	}
	t, err := a.Tokens.Check(token)
	if err != nil {
		return Caller{}, err
	}
	return Caller{Name: "token:" + t.Name, Scope: t.Scope}, nil
}

// checkToken authorizes a call that needs a token with scope n.
func (a *Authenticator) checkToken(ctx context.Context, method string, n need) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		a.refused(ctx, "no token", method, "no token")
		return nil, status.Error(codes.Unauthenticated, "no token: pass --token-file or set LOOKOUT_TOKEN_FILE (the controller writes the admin token to <data-dir>/admin.token; `token create` makes others)")
	}
	tok, ok := strings.CutPrefix(vals[0], "Bearer ")
	if !ok {
		a.refused(ctx, "unknown token", method, "the authorization header is not \"Bearer <token>\"")
		return nil, status.Error(codes.Unauthenticated, "the authorization header must be \"Bearer <token>\"")
	}
	c, err := a.TokenScope(tok)
	if err != nil {
		a.refused(ctx, a.refusedName(tok, err), method, status.Convert(tokenStatus(err)).Message())
		return nil, tokenStatus(err)
	}
	if err := allow(c, method, n); err != nil {
		a.refused(ctx, c.Name, method, status.Convert(err).Message())
		return nil, err
	}
	return WithCaller(ctx, c), nil
}

// refused audits a call refused for its token, merged with the others of its source.
func (a *Authenticator) refused(ctx context.Context, who, method, detail string) {
	refusalLog{Limiter: a.Refusals, Store: a.Store}.record(ctx, who, actionDeniedToken, strings.TrimPrefix(method, "/lookout.v1."), detail)
}

// RefusedSignIn audits a token refused outside gRPC (a web console sign-in from remoteAddr, refused
// with err by TokenScope) exactly as a refused call: denied_token, merged per source by Refusals,
// naming a revoked token by its name, any other as "unknown token" and an empty one as "no token".
// Never the token, nor any part of it.
func (a *Authenticator) RefusedSignIn(remoteAddr, where, token string, err error) {
	who, detail := "no token", "no token"
	if token = strings.TrimSpace(token); token != "" {
		who, detail = a.refusedName(token, err), status.Convert(tokenStatus(err)).Message()
	}
	refusalLog{Limiter: a.Refusals, Store: a.Store}.recordFrom(hostOf(remoteAddr), who, actionDeniedToken, where, detail)
}

// refusedName names a refused token for the audit log: a revoked API token by its name, any other
// as "unknown token". Never the secret, nor any part of it.
func (a *Authenticator) refusedName(tok string, err error) string {
	if errors.Is(err, tokens.ErrRevoked) && a.Tokens != nil {
		if t, _ := a.Tokens.Check(tok); t.Name != "" {
			return "token:" + t.Name
		}
	}
	return "unknown token"
}

func allow(c Caller, method string, n need) error {
	want := tokens.Admin
	if n == needResultsRead {
		want = tokens.ResultsRead
	}
	if !c.Scope.Allows(want) {
		return status.Errorf(codes.PermissionDenied, "%s: token %s has scope %s; this call needs scope %s", method, strings.TrimPrefix(c.Name, "token:"), c.Scope, want)
	}
	return nil
}

func tokenStatus(err error) error {
	if errors.Is(err, tokens.ErrRevoked) {
		return status.Error(codes.Unauthenticated, "token has been revoked: ask an administrator for a new one (`token create`)")
	}
	return status.Error(codes.Unauthenticated, "admin token is not valid for this controller, nor is it a valid API token (check --token-file)")
}

// tokenStream is a stream opened with an API token. Before each message it sends, it checks the
// token again: a revoked token's stream ends at the next message, with Unauthenticated.
type tokenStream struct {
	authorizedStream
	a *Authenticator
	c Caller
}

func (s *tokenStream) SendMsg(m any) error {
	if _, err := s.a.Tokens.Check(s.token()); err != nil {
		return tokenStatus(err)
	}
	return s.ServerStream.SendMsg(m)
}

func (s *tokenStream) token() string {
	md, _ := metadata.FromIncomingContext(s.ctx)
	tok, _ := strings.CutPrefix(md.Get("authorization")[0], "Bearer ")
	return tok
}

var _ grpc.ServerStream = (*tokenStream)(nil)
