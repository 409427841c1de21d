package vault

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Layout of bucket "vault_items": item/<id> → VaultItem (clear), material/<id> → sealed RunSecret,
// name/<name> → id.
const (
	bucketItems    = "vault_items"
	prefixItem     = "item/"
	prefixMaterial = "material/"
	prefixName     = "name/"
)

// Options configure a Vault.
type Options struct {
	DB        *bbolt.DB // owned by the caller; the vault uses buckets "vault_items" and "keyring"
	MasterKey []byte    // 32 bytes, from LoadMasterKey
	Now       func() time.Time
}

// Vault stores vault items in bbolt, their secret material sealed with a data key.
type Vault struct {
	db   *bbolt.DB
	keys *keyring
	now  func() time.Time
}

// Open prepares the vault's buckets and keyring on first use, and otherwise checks that
// MasterKey is the one the keyring was made with.
func Open(opts Options) (*Vault, error) {
	if opts.DB == nil {
		return nil, errors.New("vault: no database")
	}
	v := &Vault{db: opts.DB, now: opts.Now}
	if v.now == nil {
		v.now = time.Now
	}
	err := opts.DB.Update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists([]byte(bucketItems)); err != nil {
			return fmt.Errorf("creating bucket %s: %w", bucketItems, err)
		}
		keys, err := openKeyring(tx, opts.MasterKey)
		v.keys = keys
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("opening vault: %w", err)
	}
	return v, nil
}

// AddCertificate imports a PKCS#12 archive as a new item. It returns the item's metadata and
// warnings about the certificate (expired, not for client auth …). The archive's password is
// not stored.
func (v *Vault) AddCertificate(name, description string, archive []byte, password string) (*lookoutv1.VaultItem, []string, error) {
	if err := v.checkNew(name, description); err != nil {
		return nil, nil, err
	}
	imported, err := ImportPKCS12(archive, password, v.now())
	if err != nil {
		return nil, nil, err
	}
	item := &lookoutv1.VaultItem{
		Name:        name,
		Description: description,
		Type:        lookoutv1.VaultItemType_VAULT_ITEM_TYPE_CERTIFICATE,
		Certificate: imported.Info,
	}
	material := &lookoutv1.RunSecret{Value: &lookoutv1.RunSecret_Certificate{Certificate: &lookoutv1.CertificateMaterial{
		ChainDer: imported.ChainDER,
		Pkcs8Key: imported.PKCS8Key,
	}}}
	stored, err := v.add(item, material)
	if err != nil {
		return nil, nil, err
	}
	return stored, imported.Warnings, nil
}

// AddCredentials stores a username and password as a new item.
func (v *Vault) AddCredentials(name, description, username, password string) (*lookoutv1.VaultItem, error) {
	if err := v.checkNew(name, description); err != nil {
		return nil, err
	}
	if err := validateCredentials(username, password); err != nil {
		return nil, err
	}
	item := &lookoutv1.VaultItem{
		Name:        name,
		Description: description,
		Type:        lookoutv1.VaultItemType_VAULT_ITEM_TYPE_CREDENTIALS,
		Username:    username,
	}
	material := &lookoutv1.RunSecret{Value: &lookoutv1.RunSecret_Credentials{Credentials: &lookoutv1.CredentialMaterial{
		Username: username,
		Password: password,
	}}}
	return v.add(item, material)
}

// List returns every item's metadata, sorted by name.
func (v *Vault) List() ([]*lookoutv1.VaultItem, error) {
	var items []*lookoutv1.VaultItem
	err := v.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket([]byte(bucketItems)).Cursor()
		for k, val := c.Seek([]byte(prefixItem)); k != nil && bytes.HasPrefix(k, []byte(prefixItem)); k, val = c.Next() {
			item, err := unmarshalItem(val)
			if err != nil {
				return fmt.Errorf("reading %s: %w", k, err)
			}
			items = append(items, item)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing vault items: %w", err)
	}
	slices.SortFunc(items, func(a, b *lookoutv1.VaultItem) int { return strings.Compare(a.GetName(), b.GetName()) })
	return items, nil
}

// Get returns one item's metadata, by name or ID.
func (v *Vault) Get(nameOrID string) (*lookoutv1.VaultItem, error) {
	var item *lookoutv1.VaultItem
	err := v.db.View(func(tx *bbolt.Tx) error {
		var err error
		item, err = loadItem(tx.Bucket([]byte(bucketItems)), nameOrID)
		return err
	})
	return item, err
}

// Delete removes an item, by name or ID, with its material.
func (v *Vault) Delete(nameOrID string) error {
	return v.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bucketItems))
		item, err := loadItem(b, nameOrID)
		if err != nil {
			return err
		}
		return errors.Join(
			b.Delete([]byte(prefixItem+item.GetId())),
			b.Delete([]byte(prefixMaterial+item.GetId())),
			b.Delete([]byte(prefixName+item.GetName())),
		)
	})
}

// Material returns an item's decrypted material, by name or ID. It is for the controller's
// FetchRunSecrets only: never return it from a read API or log it.
func (v *Vault) Material(nameOrID string) (*lookoutv1.RunSecret, error) {
	var secret *lookoutv1.RunSecret
	err := v.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bucketItems))
		item, err := loadItem(b, nameOrID)
		if err != nil {
			return err
		}
		secret, err = v.openMaterial(b, item)
		return err
	})
	return secret, err
}

// checkNew validates a new item's name and description, and that the name is free.
func (v *Vault) checkNew(name, description string) error {
	if err := validateItem(name, description); err != nil {
		return err
	}
	return v.db.View(func(tx *bbolt.Tx) error {
		return nameFree(tx.Bucket([]byte(bucketItems)), name)
	})
}

// add assigns the item its ID, version and timestamps, and stores it with its sealed material.
func (v *Vault) add(item *lookoutv1.VaultItem, material *lookoutv1.RunSecret) (*lookoutv1.VaultItem, error) {
	now := timestamppb.New(v.now())
	item.Id, item.Version, item.CreatedAt, item.UpdatedAt = newID(), 1, now, now
	material.ItemId, material.Name, material.Version = item.GetId(), item.GetName(), item.GetVersion()
	err := v.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bucketItems))
		if err := nameFree(b, item.GetName()); err != nil {
			return err
		}
		if b.Get([]byte(prefixItem+item.GetId())) != nil {
			return fmt.Errorf("vault item ID %s is taken; try again", item.GetId())
		}
		return v.put(b, item, material)
	})
	if err != nil {
		return nil, err
	}
	return item, nil
}

func (v *Vault) put(b *bbolt.Bucket, item *lookoutv1.VaultItem, material *lookoutv1.RunSecret) error {
	meta, err := proto.Marshal(item)
	if err != nil {
		return fmt.Errorf("encoding vault item: %w", err)
	}
	plaintext, err := proto.Marshal(material)
	if err != nil {
		return fmt.Errorf("encoding vault material: %w", err)
	}
	sealed := v.keys.seal(plaintext, materialAD(item))
	clear(plaintext)
	return errors.Join(
		b.Put([]byte(prefixItem+item.GetId()), meta),
		b.Put([]byte(prefixMaterial+item.GetId()), sealed),
		b.Put([]byte(prefixName+item.GetName()), []byte(item.GetId())),
	)
}

// openMaterial unseals an item's material and checks it belongs to that item and version.
func (v *Vault) openMaterial(b *bbolt.Bucket, item *lookoutv1.VaultItem) (*lookoutv1.RunSecret, error) {
	plaintext, err := v.keys.open(b.Get([]byte(prefixMaterial+item.GetId())), materialAD(item))
	if err != nil {
		return nil, fmt.Errorf("vault item %q: %w", item.GetName(), err)
	}
	defer clear(plaintext)
	secret := &lookoutv1.RunSecret{}
	if err := proto.Unmarshal(plaintext, secret); err != nil ||
		secret.GetItemId() != item.GetId() || secret.GetVersion() != item.GetVersion() {
		return nil, fmt.Errorf("vault item %q: %w", item.GetName(), ErrIntegrity)
	}
	return secret, nil
}

// materialAD binds sealed material to its bucket, key and version.
func materialAD(item *lookoutv1.VaultItem) []byte {
	return fmt.Appendf(nil, "%s/%s%s/v%d", bucketItems, prefixMaterial, item.GetId(), item.GetVersion())
}

// loadItem finds an item by ID when nameOrID is shaped like one, and by name otherwise; never
// one after the other, so an item named like another item's ID can never stand in for it (names
// shaped like IDs are refused at creation; one stored before that is reached by its ID).
func loadItem(b *bbolt.Bucket, nameOrID string) (*lookoutv1.VaultItem, error) {
	id := nameOrID
	if _, isID := lookoutv1.IDShaped(nameOrID); !isID {
		id = string(b.Get([]byte(prefixName + nameOrID))) // "" when no item has that name
	}
	val := b.Get([]byte(prefixItem + id))
	if id == "" || val == nil {
		return nil, fmt.Errorf("vault item %q %w", clip(nameOrID), ErrNotFound)
	}
	return unmarshalItem(val)
}

func unmarshalItem(val []byte) (*lookoutv1.VaultItem, error) {
	item := &lookoutv1.VaultItem{}
	if err := proto.Unmarshal(val, item); err != nil {
		return nil, fmt.Errorf("decoding vault item: %w", err)
	}
	return item, nil
}

func nameFree(b *bbolt.Bucket, name string) error {
	if b.Get([]byte(prefixName+name)) != nil {
		return fmt.Errorf("vault item %q %w", name, ErrExists)
	}
	return nil
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b) // never returns an error (Go 1.24+)
	return "vi_" + hex.EncodeToString(b)
}
