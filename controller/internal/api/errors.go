package api

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	"github.com/lookout-synthetics/lookout/controller/internal/vault"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// toStatus maps domain errors to gRPC status codes, keeping their (already user-facing) messages.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var input *vault.InputError
	var fields pb.FieldErrors
	switch {
	case errors.As(err, &input), errors.As(err, &fields):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, store.ErrNotFound), errors.Is(err, vault.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, store.ErrExists), errors.Is(err, vault.ErrExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, store.ErrKindMismatch):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, store.ErrNotYours):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, store.ErrRunClosed):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, vault.ErrBusy):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, vault.ErrIntegrity):
		return status.Error(codes.DataLoss, err.Error())
	case errors.Is(err, store.ErrTokenUnknown), errors.Is(err, store.ErrTokenUsed), errors.Is(err, store.ErrTokenExpired):
		return status.Error(codes.PermissionDenied, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}
