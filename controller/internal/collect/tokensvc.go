package collect

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/api"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	"github.com/lookout-synthetics/lookout/controller/internal/tokens"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Auditor records who did what; *store.Store is one.
type Auditor interface {
	Audit(store.AuditEntry) error
}

var _ Auditor = (*store.Store)(nil)

// TokenService implements pb.TokenServiceServer. Every call is admin-only (the api package's
// method table does not open it to other scopes).
type TokenService struct {
	pb.UnimplementedTokenServiceServer
	Tokens *tokens.Tokens
	Audit  Auditor
	Logger *slog.Logger
}

var _ pb.TokenServiceServer = (*TokenService)(nil)

// CreateToken makes a token and returns its secret once.
func (s *TokenService) CreateToken(ctx context.Context, req *pb.CreateTokenRequest) (*pb.CreateTokenResponse, error) {
	scope, err := tokens.ParseScope(req.Scope)
	if err != nil {
		return nil, tokenErr(err)
	}
	secret, tok, err := s.Tokens.Create(req.Name, scope)
	if err != nil {
		return nil, tokenErr(err)
	}
	s.audit(ctx, "token_create", tok.Name, "scope "+string(tok.Scope))
	return &pb.CreateTokenResponse{Token: tokenPB(tok), Secret: secret}, nil
}

// ListTokens lists tokens, never their secrets or hashes.
func (s *TokenService) ListTokens(context.Context, *pb.ListTokensRequest) (*pb.ListTokensResponse, error) {
	ts, err := s.Tokens.List()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "listing tokens: %v", err)
	}
	out := &pb.ListTokensResponse{}
	for _, t := range ts {
		out.Tokens = append(out.Tokens, tokenPB(t))
	}
	return out, nil
}

// RevokeToken ends a token's validity; calls in flight with it fail from their next message.
func (s *TokenService) RevokeToken(ctx context.Context, req *pb.RevokeTokenRequest) (*pb.RevokeTokenResponse, error) {
	tok, err := s.Tokens.Revoke(req.Name)
	if err != nil {
		return nil, tokenErr(err)
	}
	s.audit(ctx, "token_revoke", tok.Name, "")
	return &pb.RevokeTokenResponse{Token: tokenPB(tok)}, nil
}

func (s *TokenService) audit(ctx context.Context, action, target, detail string) {
	if err := s.Audit.Audit(store.AuditEntry{Actor: api.Actor(ctx), Action: action, Target: target, Detail: detail}); err != nil {
		s.Logger.Error("writing audit entry", "action", action, "err", err)
	}
}

func tokenPB(t tokens.Token) *pb.ApiToken {
	out := &pb.ApiToken{Name: t.Name, Scope: string(t.Scope), CreatedAt: timestamppb.New(t.CreatedAt)}
	if t.Revoked() {
		out.RevokedAt = timestamppb.New(t.RevokedAt)
	}
	return out
}

func tokenErr(err error) error {
	var in *tokens.InputError
	switch {
	case errors.As(err, &in):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, tokens.ErrExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, tokens.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	}
	return status.Errorf(codes.Internal, "tokens: %v", err)
}
