package agenterr

import (
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Domain is the ErrorInfo domain of Lookout's reasons.
const Domain = "lookout"

// ReasonRevoked: the calling agent was revoked by an operator; retrying cannot help.
const ReasonRevoked = "AGENT_REVOKED"

// Revoked is the PermissionDenied status the controller answers a revoked agent with.
func Revoked(msg string) error {
	st := status.New(codes.PermissionDenied, msg)
	if with, err := st.WithDetails(&errdetails.ErrorInfo{Reason: ReasonRevoked, Domain: Domain}); err == nil {
		st = with
	}
	return st.Err()
}

// IsRevoked says whether err is the controller's answer to a revoked agent.
func IsRevoked(err error) bool { return Reason(err) == ReasonRevoked }

// Reason is the Lookout ErrorInfo reason err carries, or "".
func Reason(err error) string {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return ""
	}
	for _, d := range se.GRPCStatus().Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == Domain {
			return info.GetReason()
		}
	}
	return ""
}
