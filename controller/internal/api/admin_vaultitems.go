package api

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// VaultSecretsFiles is the part of the vault that stores secret and file items.
type VaultSecretsFiles interface {
	AddSecret(name, description, value string) (*pb.VaultItem, error)
	ReplaceSecret(nameOrID, description, value string) (*pb.VaultItem, error)
	AddFile(name, description, filename, contentType string, content []byte) (*pb.VaultItem, error)
	ReplaceFile(nameOrID, description, filename, contentType string, content []byte) (*pb.VaultItem, error)
}

func (a *Admin) secretsFiles() (VaultSecretsFiles, error) {
	v, ok := a.Vault.(VaultSecretsFiles)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this vault cannot store secrets or files")
	}
	return v, nil
}

// AddSecret stores a secret value; the response, like every read, carries metadata only.
func (a *Admin) AddSecret(_ context.Context, req *pb.AddSecretRequest) (*pb.AddVaultItemResponse, error) {
	return a.storeItem("vault_add_secret", func(v VaultSecretsFiles) (*pb.VaultItem, error) {
		return v.AddSecret(req.Name, req.Description, req.Value)
	})
}

// ReplaceSecret stores a new value for a secret item as its next version.
func (a *Admin) ReplaceSecret(_ context.Context, req *pb.AddSecretRequest) (*pb.AddVaultItemResponse, error) {
	return a.storeItem("vault_replace_secret", func(v VaultSecretsFiles) (*pb.VaultItem, error) {
		return v.ReplaceSecret(req.Name, req.Description, req.Value)
	})
}

// AddFile stores a file.
func (a *Admin) AddFile(_ context.Context, req *pb.AddFileRequest) (*pb.AddVaultItemResponse, error) {
	return a.storeItem("vault_add_file", func(v VaultSecretsFiles) (*pb.VaultItem, error) {
		return v.AddFile(req.Name, req.Description, req.Filename, req.ContentType, req.Content)
	})
}

// ReplaceFile stores new content for a file item as its next version.
func (a *Admin) ReplaceFile(_ context.Context, req *pb.AddFileRequest) (*pb.AddVaultItemResponse, error) {
	return a.storeItem("vault_replace_file", func(v VaultSecretsFiles) (*pb.VaultItem, error) {
		return v.ReplaceFile(req.Name, req.Description, req.Filename, req.ContentType, req.Content)
	})
}

func (a *Admin) storeItem(action string, store func(VaultSecretsFiles) (*pb.VaultItem, error)) (*pb.AddVaultItemResponse, error) {
	v, err := a.secretsFiles()
	if err != nil {
		return nil, err
	}
	it, err := store(v)
	if err != nil {
		return nil, toStatus(err)
	}
	a.audit(action, it.Name)
	if it.UsedBy, err = a.monitorsUsing(it.Name); err != nil {
		a.Logger.Error("listing the monitors that use a vault item", "item", it.Name, "err", err)
	}
	return &pb.AddVaultItemResponse{Item: it}, nil
}
