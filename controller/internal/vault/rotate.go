package vault

import (
	"crypto/subtle"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// RotateMasterKey re-wraps the vault's data key under newKey, after checking that oldKey is
// the current master key. The check value and wrapped data key change in one bbolt
// transaction, so a crash leaves either the old key or the new one valid, never neither.
// Items stay sealed under the data key and are not rewritten; RotateMasterKey checks that
// every one of them opens before it commits.
func RotateMasterKey(db *bbolt.DB, oldKey, newKey []byte) error {
	if len(newKey) != MasterKeySize {
		return fmt.Errorf("new master key must be %d bytes, not %d", MasterKeySize, len(newKey))
	}
	if subtle.ConstantTimeCompare(oldKey, newKey) == 1 {
		return errors.New("the new master key is the same as the current one: create a new key file")
	}
	return db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bucketKeyring))
		if b == nil || b.Get([]byte(keyDataKey)) == nil {
			return errors.New("this data dir has no vault keyring yet: start the controller once with the new key instead")
		}
		dataKey, err := unwrapDataKey(b, oldKey)
		if err != nil {
			return err
		}
		defer clear(dataKey)
		if err := checkAllItemsOpen(tx, dataKey); err != nil {
			return err
		}
		wrap, check, err := masterSubkeys(newKey)
		if err != nil {
			return err
		}
		return errors.Join(
			b.Put([]byte(keyCheck), check),
			b.Put([]byte(keyDataKey), wrap.seal(dataKey, []byte(bucketKeyring+"/"+keyDataKey))),
		)
	})
}

// unwrapDataKey checks master against the keyring's check value and returns the data key.
func unwrapDataKey(b *bbolt.Bucket, master []byte) ([]byte, error) {
	wrap, check, err := masterSubkeys(master)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(check, b.Get([]byte(keyCheck))) != 1 {
		return nil, fmt.Errorf("%w (its check value differs: the vault was created with another master key; start with that key's file)", ErrMasterKeyMismatch)
	}
	dataKey, err := wrap.open(b.Get([]byte(keyDataKey)), []byte(bucketKeyring+"/"+keyDataKey))
	if err != nil {
		return nil, errors.New("the keyring in this data dir is damaged: its data key failed the integrity check")
	}
	return dataKey, nil
}

// checkAllItemsOpen opens every item's material with dataKey, so a rotation never commits
// over a vault it could not read.
func checkAllItemsOpen(tx *bbolt.Tx, dataKey []byte) error {
	items := tx.Bucket([]byte(bucketItems))
	if items == nil {
		return nil
	}
	keys, err := newKeyring(dataKey)
	if err != nil {
		return err
	}
	v := &Vault{keys: keys}
	var errs []error
	c := items.Cursor()
	for k, val := c.Seek([]byte(prefixItem)); k != nil && len(k) >= len(prefixItem) && string(k[:len(prefixItem)]) == prefixItem; k, val = c.Next() {
		item, err := unmarshalItem(val)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %s: %w", k, err))
			continue
		}
		if _, err := v.openMaterial(items, item); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("not rotating: %w", errors.Join(errs...))
	}
	return nil
}
