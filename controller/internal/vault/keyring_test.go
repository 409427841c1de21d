package vault

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/bbolt"
)

func TestLoadMasterKeyCreates(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "master.key")
	created, err := LoadMasterKey(path, true)
	if err != nil {
		t.Fatalf("LoadMasterKey(create): %v", err)
	}
	if len(created) != MasterKeySize {
		t.Errorf("created key has %d bytes, want %d", len(created), MasterKeySize)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("created file mode = %04o, want 0600", perm)
	}
	again, err := LoadMasterKey(path, true)
	if err != nil {
		t.Fatalf("LoadMasterKey(again): %v", err)
	}
	if !bytes.Equal(again, created) {
		t.Error("second load returned a different key: the file was replaced")
	}
}

func TestLoadMasterKeyMissing(t *testing.T) {
	t.Parallel()
	_, err := LoadMasterKey(filepath.Join(t.TempDir(), "master.key"), false)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadMasterKeyFormats(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0xab}, MasterKeySize)
	tests := map[string]struct {
		data    []byte
		want    []byte
		wantErr string
	}{
		"raw":             {key, key, ""},
		"hex":             {[]byte(hex.EncodeToString(key)), key, ""},
		"hex newline":     {[]byte(hex.EncodeToString(key) + "\n"), key, ""},
		"hex upper CRLF":  {[]byte(strings.ToUpper(hex.EncodeToString(key)) + "\r\n"), key, ""},
		"short":           {key[:16], nil, "must hold 32 raw bytes or 64 hex characters"},
		"long":            {append(key, key...), nil, "must hold 32 raw bytes or 64 hex characters"},
		"hex not hex":     {[]byte(strings.Repeat("zz", MasterKeySize)), nil, "must hold 32 raw bytes or 64 hex characters"},
		"empty":           {nil, nil, "must hold 32 raw bytes or 64 hex characters"},
		"raw and newline": {append(key, '\n'), nil, "must hold 32 raw bytes or 64 hex characters"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadMasterKey(path, true)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("key (-got +want):\n%s", diff)
			}
		})
	}
}

func TestLoadMasterKeyMode(t *testing.T) {
	t.Parallel()
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, newMasterKey(t), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, err := LoadMasterKey(path, true)
			want := fmt.Sprintf("master key file %s has mode %04o; it must be readable by its owner only: chmod 600 %s", path, mode, path)
			if err == nil || err.Error() != want {
				t.Errorf("error = %v, want %q", err, want)
			}
		})
	}
	t.Run("0400", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "master.key")
		if err := os.WriteFile(path, newMasterKey(t), 0o400); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadMasterKey(path, false); err != nil {
			t.Errorf("read-only owner file: %v", err)
		}
	})
}

func TestOpenWrongMasterKey(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	if _, err := Open(Options{DB: db, MasterKey: newMasterKey(t)}); err != nil {
		t.Fatalf("first Open: %v", err)
	}
	_, err := Open(Options{DB: db, MasterKey: newMasterKey(t)})
	if !errors.Is(err, ErrMasterKeyMismatch) || !strings.Contains(err.Error(), "master key does not match this data dir (") {
		t.Errorf("Open with another key: %v, want ErrMasterKeyMismatch", err)
	}
}

func TestOpenBadMasterKeySize(t *testing.T) {
	t.Parallel()
	_, err := Open(Options{DB: openDB(t), MasterKey: []byte("short")})
	if err == nil || !strings.Contains(err.Error(), "master key must be 32 bytes, not 5") {
		t.Errorf("Open: %v", err)
	}
}

func TestOpenDamagedKeyring(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	master := newMasterKey(t)
	if _, err := Open(Options{DB: db, MasterKey: master}); err != nil {
		t.Fatal(err)
	}
	flipLastByte(t, db, bucketKeyring, keyDataKey)
	_, err := Open(Options{DB: db, MasterKey: master})
	if err == nil || !strings.Contains(err.Error(), "keyring in this data dir is damaged") {
		t.Errorf("Open: %v", err)
	}
}

func TestOpenMissingKeyring(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	master := newMasterKey(t)
	v, err := Open(Options{DB: db, MasterKey: master})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.AddCredentials("api-user", "", "user", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte(bucketKeyring)) }); err != nil {
		t.Fatal(err)
	}
	_, err = Open(Options{DB: db, MasterKey: master})
	if err == nil || !strings.Contains(err.Error(), "keyring is missing but the vault holds sealed items") {
		t.Errorf("Open: %v", err)
	}
}

func flipLastByte(t *testing.T, db *bbolt.DB, bucket, key string) {
	t.Helper()
	err := db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		val := bytes.Clone(b.Get([]byte(key)))
		if val == nil {
			return fmt.Errorf("no %s/%s", bucket, key)
		}
		val[len(val)-1] ^= 1
		return b.Put([]byte(key), val)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	k, err := newKeyring(newMasterKey(t))
	if err != nil {
		t.Fatal(err)
	}
	sealed := k.seal([]byte("secret"), []byte("ad"))
	if bytes.Contains(sealed, []byte("secret")) {
		t.Error("sealed record contains the plaintext")
	}
	if got, err := k.open(sealed, []byte("ad")); err != nil || string(got) != "secret" {
		t.Errorf("open = %q, %v", got, err)
	}
	if again := k.seal([]byte("secret"), []byte("ad")); bytes.Equal(again[:13], sealed[:13]) {
		t.Error("two seals share a nonce") // format byte, then a random 12-byte nonce
	}
	for name, tampered := range map[string][]byte{
		"other AD":       nil,
		"flipped byte":   flip(sealed, len(sealed)/2),
		"unknown format": flip(sealed, 0),
		"truncated":      sealed[:10],
		"empty":          {},
	} {
		ad := []byte("ad")
		if name == "other AD" {
			tampered, ad = sealed, []byte("ad2")
		}
		if _, err := k.open(tampered, ad); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: open error = %v, want ErrIntegrity", name, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x80
	return out
}
