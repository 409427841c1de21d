package api

import (
	"context"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// ReplaceCertificate imports a new archive for an existing certificate item as its next version.
func (a *Admin) ReplaceCertificate(ctx context.Context, req *pb.AddCertificateRequest) (*pb.AddVaultItemResponse, error) {
	it, warnings, err := a.Vault.ReplaceCertificate(req.Name, req.Description, req.Archive, req.Password)
	if err != nil {
		a.rejectedArchive(ctx, req.Name, err)
		return nil, toStatus(err)
	}
	a.audit(ctx, "vault_replace_certificate", it.Name)
	return &pb.AddVaultItemResponse{Item: it, Warnings: warnings}, nil
}

// ReplaceCredentials stores a new username and password for an existing credential set.
func (a *Admin) ReplaceCredentials(ctx context.Context, req *pb.AddCredentialsRequest) (*pb.AddVaultItemResponse, error) {
	it, err := a.Vault.ReplaceCredentials(req.Name, req.Description, req.Username, req.Password)
	if err != nil {
		return nil, toStatus(err)
	}
	a.audit(ctx, "vault_replace_credentials", it.Name)
	return &pb.AddVaultItemResponse{Item: it}, nil
}
