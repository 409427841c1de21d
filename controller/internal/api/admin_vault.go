package api

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// VaultReplacer is the part of the vault that stores new versions of existing items.
type VaultReplacer interface {
	ReplaceCertificate(nameOrID, description string, archive []byte, password string) (*pb.VaultItem, []string, error)
	ReplaceCredentials(nameOrID, description, username, password string) (*pb.VaultItem, error)
}

func (a *Admin) replacer() (VaultReplacer, error) {
	r, ok := a.Vault.(VaultReplacer)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this vault cannot replace items")
	}
	return r, nil
}

// ReplaceCertificate imports a new archive for an existing certificate item as its next version.
func (a *Admin) ReplaceCertificate(ctx context.Context, req *pb.AddCertificateRequest) (*pb.AddVaultItemResponse, error) {
	r, err := a.replacer()
	if err != nil {
		return nil, err
	}
	it, warnings, err := r.ReplaceCertificate(req.Name, req.Description, req.Archive, req.Password)
	if err != nil {
		a.rejectedArchive(ctx, req.Name, err)
		return nil, toStatus(err)
	}
	a.audit("vault_replace_certificate", it.Name)
	return &pb.AddVaultItemResponse{Item: it, Warnings: warnings}, nil
}

// ReplaceCredentials stores a new username and password for an existing credential set.
func (a *Admin) ReplaceCredentials(_ context.Context, req *pb.AddCredentialsRequest) (*pb.AddVaultItemResponse, error) {
	r, err := a.replacer()
	if err != nil {
		return nil, err
	}
	it, err := r.ReplaceCredentials(req.Name, req.Description, req.Username, req.Password)
	if err != nil {
		return nil, toStatus(err)
	}
	a.audit("vault_replace_credentials", it.Name)
	return &pb.AddVaultItemResponse{Item: it}, nil
}
