package api

import (
	"context"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// AddSecret stores a secret value; the response, like every read, carries metadata only.
func (a *Admin) AddSecret(ctx context.Context, req *pb.AddSecretRequest) (*pb.AddVaultItemResponse, error) {
	it, err := a.Vault.AddSecret(req.Name, req.Description, req.Value)
	return a.stored(ctx, "vault_add_secret", it, err)
}

// ReplaceSecret stores a new value for a secret item as its next version.
func (a *Admin) ReplaceSecret(ctx context.Context, req *pb.AddSecretRequest) (*pb.AddVaultItemResponse, error) {
	it, err := a.Vault.ReplaceSecret(req.Name, req.Description, req.Value)
	return a.stored(ctx, "vault_replace_secret", it, err)
}

// AddFile stores a file.
func (a *Admin) AddFile(ctx context.Context, req *pb.AddFileRequest) (*pb.AddVaultItemResponse, error) {
	it, err := a.Vault.AddFile(req.Name, req.Description, req.Filename, req.ContentType, req.Content)
	return a.stored(ctx, "vault_add_file", it, err)
}

// ReplaceFile stores new content for a file item as its next version.
func (a *Admin) ReplaceFile(ctx context.Context, req *pb.AddFileRequest) (*pb.AddVaultItemResponse, error) {
	it, err := a.Vault.ReplaceFile(req.Name, req.Description, req.Filename, req.ContentType, req.Content)
	return a.stored(ctx, "vault_replace_file", it, err)
}

// stored answers a call that stored a secret or file item: audited, with the monitors that use it.
func (a *Admin) stored(ctx context.Context, action string, it *pb.VaultItem, err error) (*pb.AddVaultItemResponse, error) {
	if err != nil {
		return nil, toStatus(err)
	}
	a.audit(ctx, action, it.Name)
	if it.UsedBy, err = a.monitorsUsing(it.Name); err != nil {
		a.Logger.Error("listing the monitors that use a vault item", "item", it.Name, "err", err)
	}
	return &pb.AddVaultItemResponse{Item: it}, nil
}
