package api

import (
	"context"
	"crypto/x509"
	"encoding/pem"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/pki"
)

// RenewCertificate issues the calling agent a new client certificate for a new key, with the same
// identity: its agent id, and the checkpoint and kind from the checkpoint's record, never from the
// request. The interceptor has already refused revoked agents and certificates that do not verify
// (an expired one included: such an agent must enroll again).
func (s *Agents) RenewCertificate(ctx context.Context, req *pb.RenewCertificateRequest) (*pb.RenewCertificateResponse, error) {
	ag := agentFrom(ctx)
	if err := checkCSR(req.CsrDer); err != nil {
		s.audit(ag.ID, "denied_renew_certificate", ag.ID, err.Error())
		return nil, status.Errorf(codes.InvalidArgument, "csr_der: %v", err)
	}
	cp, err := s.Store.Checkpoint(ag.CheckpointID)
	if err != nil {
		return nil, toStatus(err)
	}
	der, err := s.CA.IssueAgentCertificate(req.CsrDer, pki.Identity{AgentID: ag.ID, CheckpointID: cp.Id, Kind: store.KindName(cp.Kind)}, s.CertTTL)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "csr_der: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "parsing the issued certificate: %v", err)
	}
	if err := s.Store.SetAgentCertificate(ag.ID, leaf.NotAfter); err != nil {
		return nil, toStatus(err)
	}
	s.audit(ag.ID, "renew_certificate", cp.Name, "not_after="+leaf.NotAfter.UTC().Format("2006-01-02T15:04:05Z"))
	return &pb.RenewCertificateResponse{CertificatePem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), CaPem: s.CA.PEM}, nil
}
