package vault

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

func TestRotateMasterKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "vault.db")
	oldKey, newKey := newMasterKey(t), newMasterKey(t)
	db := openDBAt(t, path)
	v := openVault(t, db, oldKey)
	chain := newChain(t, "p256")
	if _, _, err := v.AddCertificate("cert", "", encodeChain(t, pkcs12.Modern2023, chain, testPassword), testPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := v.AddCredentials("creds", "", "u", "pw"); err != nil {
		t.Fatal(err)
	}

	if err := RotateMasterKey(db, newMasterKey(t), newKey); !errors.Is(err, ErrMasterKeyMismatch) {
		t.Errorf("rotating with a wrong current key: %v, want ErrMasterKeyMismatch", err)
	}
	if err := RotateMasterKey(db, oldKey, oldKey); err == nil || !strings.Contains(err.Error(), "same as the current one") {
		t.Errorf("rotating to the same key: %v", err)
	}
	if err := RotateMasterKey(db, oldKey, newKey); err != nil {
		t.Fatalf("RotateMasterKey: %v", err)
	}

	if _, err := Open(Options{DB: db, MasterKey: oldKey}); err == nil || !strings.Contains(err.Error(), "master key does not match this data dir") {
		t.Errorf("Open with the old key after rotation: %v, want a master key mismatch", err)
	}
	rotated := openVault(t, db, newKey)
	for _, name := range []string{"cert", "creds"} {
		m, err := rotated.Material(name)
		if err != nil || m.GetName() != name {
			t.Errorf("Material(%s) after rotation: %v", name, err)
		}
	}
	if err := RotateMasterKey(db, newKey, oldKey); err != nil {
		t.Errorf("rotating back: %v", err)
	}
}

func TestRotateMasterKeyRefusesDamagedVault(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	oldKey, newKey := newMasterKey(t), newMasterKey(t)
	v := openVault(t, db, oldKey)
	item, err := v.AddCredentials("creds", "", "u", "pw")
	if err != nil {
		t.Fatal(err)
	}
	flipLastByte(t, db, bucketItems, string(materialKey(item.GetId())))
	err = RotateMasterKey(db, oldKey, newKey)
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "not rotating") {
		t.Errorf("rotating over a tampered record: %v, want a refusal", err)
	}
	if _, err := Open(Options{DB: db, MasterKey: oldKey}); err != nil {
		t.Errorf("the old key no longer opens the vault after a refused rotation: %v", err)
	}
}
