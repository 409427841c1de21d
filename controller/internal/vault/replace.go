package vault

import (
	"fmt"
	"unicode/utf8"

	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// ReplaceCertificate imports a new PKCS#12 archive for an existing certificate item, by name
// or ID, as its next version. The ID, name and creation time stay; an empty description
// keeps the old one. Runs dispatched afterwards name the new version, so agents that cached
// the old one fetch it again.
func (v *Vault) ReplaceCertificate(nameOrID, description string, archive []byte, password string) (*lookoutv1.VaultItem, []string, error) {
	if err := validateDescription(description); err != nil {
		return nil, nil, err
	}
	// Check the item before the costly decode; replace checks again in its transaction.
	old, err := v.Get(nameOrID)
	if err != nil {
		return nil, nil, err
	}
	if err := checkType(old, lookoutv1.VaultItemType_VAULT_ITEM_TYPE_CERTIFICATE); err != nil {
		return nil, nil, err
	}
	imported, err := ImportPKCS12(archive, password, v.now())
	if err != nil {
		return nil, nil, err
	}
	item, err := v.replace(nameOrID, lookoutv1.VaultItemType_VAULT_ITEM_TYPE_CERTIFICATE, description,
		func(it *lookoutv1.VaultItem) { it.Certificate = imported.Info },
		&lookoutv1.RunSecret{Value: &lookoutv1.RunSecret_Certificate{Certificate: &lookoutv1.CertificateMaterial{
			ChainDer: imported.ChainDER,
			Pkcs8Key: imported.PKCS8Key,
		}}})
	if err != nil {
		return nil, nil, err
	}
	return item, imported.Warnings, nil
}

// ReplaceCredentials stores a new username and password for an existing credential set, by
// name or ID, as its next version.
func (v *Vault) ReplaceCredentials(nameOrID, description, username, password string) (*lookoutv1.VaultItem, error) {
	if err := validateDescription(description); err != nil {
		return nil, err
	}
	if err := validateCredentials(username, password); err != nil {
		return nil, err
	}
	return v.replace(nameOrID, lookoutv1.VaultItemType_VAULT_ITEM_TYPE_CREDENTIALS, description,
		func(it *lookoutv1.VaultItem) { it.Username = username },
		&lookoutv1.RunSecret{Value: &lookoutv1.RunSecret_Credentials{Credentials: &lookoutv1.CredentialMaterial{
			Username: username,
			Password: password,
		}}})
}

// replace writes version N+1 of an item of type want in one transaction, so a reader sees
// either the old metadata and material or the new.
func (v *Vault) replace(nameOrID string, want lookoutv1.VaultItemType, description string, update func(*lookoutv1.VaultItem), material *lookoutv1.RunSecret) (*lookoutv1.VaultItem, error) {
	var out *lookoutv1.VaultItem
	err := v.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bucketItems))
		old, err := loadItem(b, nameOrID)
		if err != nil {
			return err
		}
		if err := checkType(old, want); err != nil {
			return err
		}
		item := proto.Clone(old).(*lookoutv1.VaultItem)
		item.Version = old.GetVersion() + 1
		item.UpdatedAt = timestamppb.New(v.now())
		if description != "" {
			item.Description = description
		}
		update(item)
		material.ItemId, material.Name, material.Version = item.GetId(), item.GetName(), item.GetVersion()
		if err := v.put(b, item, material); err != nil {
			return err
		}
		out = item
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func checkType(item *lookoutv1.VaultItem, want lookoutv1.VaultItemType) error {
	if item.GetType() != want {
		return inputError(fmt.Sprintf("vault item %q is a %s, not a %s: delete it and add a new item instead",
			item.GetName(), item.GetType().Word(), want.Word()))
	}
	return nil
}

func validateDescription(description string) error {
	if len(description) > maxDescriptionLen || !utf8.ValidString(description) {
		return inputError(fmt.Sprintf("description must be UTF-8 text of at most %d bytes", maxDescriptionLen))
	}
	return nil
}
