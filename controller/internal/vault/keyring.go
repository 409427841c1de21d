package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.etcd.io/bbolt"
)

// MasterKeySize is the size of the key-encryption key, and of the data key it wraps.
const MasterKeySize = 32

const (
	bucketKeyring  = "keyring"
	keyCheck       = "master_key_check"
	keyDataKey     = "data_key"
	sealedFormatV1 = 1
)

// LoadMasterKey reads the master key file at path: 32 raw bytes, or 64 hex characters and an
// optional newline. The file must not be accessible to group or others. When it does not exist
// and create is true, a new random key is written there with mode 0600.
func LoadMasterKey(path string, create bool) ([]byte, error) {
	key, err := readMasterKey(path)
	if create && errors.Is(err, fs.ErrNotExist) {
		return createMasterKey(path)
	}
	return key, err
}

func readMasterKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading master key: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading master key: %w", err)
	}
	if err := checkMasterKeyMode(path, info); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(2*hex.EncodedLen(MasterKeySize))))
	if err != nil {
		return nil, fmt.Errorf("reading master key: %w", err)
	}
	return parseMasterKey(path, data)
}

func checkMasterKeyMode(path string, info fs.FileInfo) error {
	if !info.Mode().IsRegular() {
		return fmt.Errorf("master key file %s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("master key file %s has mode %04o; it must be readable by its owner only: chmod 600 %s", path, perm, path)
	}
	return nil
}

func parseMasterKey(path string, data []byte) ([]byte, error) {
	if len(data) == MasterKeySize {
		return data, nil
	}
	text := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if len(text) == hex.EncodedLen(MasterKeySize) {
		if key, err := hex.DecodeString(text); err == nil {
			return key, nil
		}
	}
	return nil, fmt.Errorf("master key file %s must hold %d raw bytes or %d hex characters", path, MasterKeySize, hex.EncodedLen(MasterKeySize))
}

// createMasterKey writes a new key without replacing a file another process made meanwhile.
func createMasterKey(path string) ([]byte, error) {
	key := make([]byte, MasterKeySize)
	rand.Read(key) // never returns an error (Go 1.24+)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readMasterKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("creating master key: %w", err)
	}
	if err := writeAndSync(f, key); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("creating master key %s: %w", path, err)
	}
	return key, syncDir(filepath.Dir(path))
}

func writeAndSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// keyring seals and opens item records with the data key.
type keyring struct {
	aead cipher.AEAD
}

// openKeyring loads the data key wrapped in tx's keyring bucket, creating it on first use.
func openKeyring(tx *bbolt.Tx, master []byte) (*keyring, error) {
	b, err := tx.CreateBucketIfNotExists([]byte(bucketKeyring))
	if err != nil {
		return nil, fmt.Errorf("creating keyring bucket: %w", err)
	}
	if b.Get([]byte(keyDataKey)) == nil {
		return createKeyring(tx, b, master)
	}
	return loadKeyring(b, master)
}

func createKeyring(tx *bbolt.Tx, b *bbolt.Bucket, master []byte) (*keyring, error) {
	if hasSealedItems(tx) {
		return nil, errors.New("the keyring is missing but the vault holds sealed items: restore the data dir from a backup")
	}
	wrap, check, err := masterSubkeys(master)
	if err != nil {
		return nil, err
	}
	dataKey := make([]byte, MasterKeySize)
	rand.Read(dataKey) // never returns an error (Go 1.24+)
	wrapped := wrap.seal(dataKey, []byte(bucketKeyring+"/"+keyDataKey))
	if err := b.Put([]byte(keyCheck), check); err != nil {
		return nil, fmt.Errorf("storing keyring: %w", err)
	}
	if err := b.Put([]byte(keyDataKey), wrapped); err != nil {
		return nil, fmt.Errorf("storing keyring: %w", err)
	}
	return newKeyring(dataKey)
}

func loadKeyring(b *bbolt.Bucket, master []byte) (*keyring, error) {
	dataKey, err := unwrapDataKey(b, master)
	if err != nil {
		return nil, err
	}
	return newKeyring(dataKey)
}

// masterSubkeys derives separate keys from the master key for wrapping and for the check value.
func masterSubkeys(master []byte) (*keyring, []byte, error) {
	if len(master) != MasterKeySize {
		return nil, nil, fmt.Errorf("master key must be %d bytes, not %d", MasterKeySize, len(master))
	}
	wrapKey, err := hkdf.Key(sha256.New, master, nil, "lookout vault keyring wrap v1", MasterKeySize)
	if err != nil {
		return nil, nil, err
	}
	check, err := hkdf.Key(sha256.New, master, nil, "lookout vault master key check v1", 16)
	if err != nil {
		return nil, nil, err
	}
	wrap, err := newKeyring(wrapKey)
	return wrap, check, err
}

func newKeyring(key []byte) (*keyring, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, err
	}
	return &keyring{aead: aead}, nil
}

// seal encrypts plaintext bound to additional data: a format byte, then nonce, ciphertext, tag.
func (k *keyring) seal(plaintext, additional []byte) []byte {
	return k.aead.Seal([]byte{sealedFormatV1}, nil, plaintext, additional)
}

func (k *keyring) open(sealed, additional []byte) ([]byte, error) {
	if len(sealed) < 1 || sealed[0] != sealedFormatV1 {
		return nil, ErrIntegrity
	}
	plaintext, err := k.aead.Open(nil, nil, sealed[1:], additional)
	if err != nil {
		return nil, ErrIntegrity
	}
	return plaintext, nil
}

// hasSealedItems reports whether the items bucket holds material sealed under some data key.
func hasSealedItems(tx *bbolt.Tx) bool {
	b := tx.Bucket([]byte(bucketItems))
	if b == nil {
		return false
	}
	k, _ := b.Cursor().Seek([]byte(prefixMaterial))
	return k != nil && strings.HasPrefix(string(k), prefixMaterial)
}
