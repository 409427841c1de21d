package vault

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/lookout-synthetics/lookout/internal/certs"
	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

var fixedNow = time.Now().Truncate(time.Second)

func openVault(t *testing.T, db *bbolt.DB, master []byte) *Vault {
	t.Helper()
	v, err := Open(Options{DB: db, MasterKey: master, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return v
}

func newVault(t *testing.T) *Vault {
	t.Helper()
	return openVault(t, openDB(t), newMasterKey(t))
}

func TestVaultCertificateRoundTrip(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	chain := newChain(t, "p256")
	archive := encodeP12(t, pkcs12.Modern2023, chain.leaf.key, chain.root.cert,
		[]*x509.Certificate{chain.leaf.cert, chain.intermediate.cert}, testPassword) // root first

	item, warnings, err := v.AddCertificate("partner-cert", "partner API client", archive, testPassword)
	if err != nil {
		t.Fatalf("AddCertificate: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	want := &lookoutv1.VaultItem{
		Id:          item.GetId(),
		Name:        "partner-cert",
		Description: "partner API client",
		Type:        lookoutv1.VaultItemType_VAULT_ITEM_TYPE_CERTIFICATE,
		Version:     1,
		CreatedAt:   timestamppb.New(fixedNow),
		UpdatedAt:   timestamppb.New(fixedNow),
		Certificate: certs.Describe(chain.certs()),
	}
	if diff := cmp.Diff(item, want, protocmp.Transform()); diff != "" {
		t.Errorf("item (-got +want):\n%s", diff)
	}
	if !strings.HasPrefix(item.GetId(), "vi_") || len(item.GetId()) != len("vi_")+16 {
		t.Errorf("ID = %q, want vi_ and 16 hex digits", item.GetId())
	}
	for _, key := range []string{"partner-cert", item.GetId()} {
		secret, err := v.Material(key)
		if err != nil {
			t.Fatalf("Material(%q): %v", key, err)
		}
		wantSecret := &lookoutv1.RunSecret{
			ItemId:  item.GetId(),
			Name:    "partner-cert",
			Version: 1,
			Value: &lookoutv1.RunSecret_Certificate{Certificate: &lookoutv1.CertificateMaterial{
				ChainDer: rawCerts(chain.certs()),
				Pkcs8Key: pkcs8Of(t, chain.leaf.key),
			}},
		}
		if diff := cmp.Diff(secret, wantSecret, protocmp.Transform()); diff != "" {
			t.Errorf("Material(%q) (-got +want):\n%s", key, diff)
		}
		material := secret.GetCertificate()
		if _, err := certs.TLSCertificate(material.GetChainDer(), material.GetPkcs8Key()); err != nil {
			t.Errorf("material does not load as a TLS certificate: %v", err)
		}
	}
}

func TestVaultCertificateWarnings(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	root := newCA(t, "Root", "p256#root", nil)
	leaf := newLeaf(t, root, "p256", leafOptions{notBefore: fixedNow.Add(-48 * time.Hour), notAfter: fixedNow.Add(-24 * time.Hour)})
	archive := encodeP12(t, pkcs12.Modern2023, leaf.key, leaf.cert, nil, testPassword)
	_, warnings, err := v.AddCertificate("old-cert", "", archive, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"certificate expired on " + leaf.cert.NotAfter.UTC().Format(time.DateOnly)}
	if diff := cmp.Diff(warnings, want); diff != "" {
		t.Errorf("warnings (-got +want):\n%s", diff)
	}
}

func TestVaultCredentialsRoundTrip(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	item, err := v.AddCredentials("api-user", "orders API", "svc-lookout", "p@ss word")
	if err != nil {
		t.Fatalf("AddCredentials: %v", err)
	}
	want := &lookoutv1.VaultItem{
		Id:          item.GetId(),
		Name:        "api-user",
		Description: "orders API",
		Type:        lookoutv1.VaultItemType_VAULT_ITEM_TYPE_CREDENTIALS,
		Version:     1,
		CreatedAt:   timestamppb.New(fixedNow),
		UpdatedAt:   timestamppb.New(fixedNow),
		Username:    "svc-lookout",
	}
	if diff := cmp.Diff(item, want, protocmp.Transform()); diff != "" {
		t.Errorf("item (-got +want):\n%s", diff)
	}
	secret, err := v.Material("api-user")
	if err != nil {
		t.Fatal(err)
	}
	wantSecret := &lookoutv1.RunSecret{
		ItemId: item.GetId(), Name: "api-user", Version: 1,
		Value: &lookoutv1.RunSecret_Credentials{Credentials: &lookoutv1.CredentialMaterial{Username: "svc-lookout", Password: "p@ss word"}},
	}
	if diff := cmp.Diff(secret, wantSecret, protocmp.Transform()); diff != "" {
		t.Errorf("Material (-got +want):\n%s", diff)
	}
}

func TestVaultListGetDelete(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	for _, name := range []string{"zeta", "Alpha", "mid.item", "beta_2"} {
		if _, err := v.AddCredentials(name, "", "user", "pw"); err != nil {
			t.Fatalf("AddCredentials(%s): %v", name, err)
		}
	}
	items, err := v.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, item := range items {
		names = append(names, item.GetName())
	}
	if diff := cmp.Diff(names, []string{"Alpha", "beta_2", "mid.item", "zeta"}); diff != "" {
		t.Errorf("List names (-got +want):\n%s", diff)
	}

	byName, err := v.Get("mid.item")
	if err != nil {
		t.Fatal(err)
	}
	byID, err := v.Get(byName.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(byID, byName, protocmp.Transform()); diff != "" {
		t.Errorf("Get by ID (-got +want):\n%s", diff)
	}

	if err := v.Delete("mid.item"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for name, err := range map[string]error{
		"Get":          errOf(v.Get("mid.item")),
		"Get by ID":    errOf(v.Get(byName.GetId())),
		"Material":     errOf(v.Material(byName.GetId())),
		"Delete again": v.Delete("mid.item"),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s after Delete: %v, want ErrNotFound", name, err)
		}
	}
	if err := v.Delete("nope"); err == nil || err.Error() != `vault item "nope" not found` {
		t.Errorf("Delete(nope) = %v", err)
	}
	if _, err := v.AddCredentials("mid.item", "", "user", "pw"); err != nil {
		t.Errorf("reusing a deleted name: %v", err)
	}
	if items, _ := v.List(); len(items) != 4 {
		t.Errorf("List has %d items, want 4", len(items))
	}
}

func errOf[T any](_ T, err error) error { return err }

func TestVaultDuplicateName(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	chain := newChain(t, "p256")
	archive := encodeChain(t, pkcs12.Modern2023, chain, testPassword)
	if _, err := v.AddCredentials("taken", "", "user", "pw"); err != nil {
		t.Fatal(err)
	}
	_, err := v.AddCredentials("taken", "", "user", "pw")
	if !errors.Is(err, ErrExists) || err.Error() != `vault item "taken" already exists` {
		t.Errorf("AddCredentials duplicate: %v", err)
	}
	if _, _, err := v.AddCertificate("taken", "", archive, testPassword); !errors.Is(err, ErrExists) {
		t.Errorf("AddCertificate duplicate: %v", err)
	}
}

// TestVaultConcurrentAdd races writers for one name: exactly one wins.
func TestVaultConcurrentAdd(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = v.AddCredentials("contended", "", "user", "pw")
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrExists):
			t.Errorf("AddCredentials: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d writers won, want 1", won)
	}
}

func TestVaultInputErrors(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	nameErr := func(name string) string {
		return `vault item name "` + name + `" is not valid: use 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit`
	}
	tests := map[string]struct {
		name, description, username string
		want                        string
	}{
		"empty name":       {"", "", "u", nameErr("")},
		"leading dot":      {".hidden", "", "u", nameErr(".hidden")},
		"leading dash":     {"-x", "", "u", nameErr("-x")},
		"slash":            {"a/b", "", "u", nameErr("a/b")},
		"space":            {"a b", "", "u", nameErr("a b")},
		"unicode":          {"café", "", "u", nameErr("café")},
		"65 chars":         {strings.Repeat("a", 65), "", "u", nameErr(strings.Repeat("a", 65))},
		"long description": {"ok", strings.Repeat("d", 1025), "u", "description must be UTF-8 text of at most 1024 bytes"},
		"invalid UTF-8":    {"ok", "\xff", "u", "description must be UTF-8 text of at most 1024 bytes"},
		"empty username":   {"ok", "", "", "username must be UTF-8 text of 1 to 256 bytes"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := v.AddCredentials(tt.name, tt.description, tt.username, "pw")
			wantInputError(t, err, tt.want, false, "")
		})
	}
	t.Run("64 chars", func(t *testing.T) {
		t.Parallel()
		if _, err := v.AddCredentials(strings.Repeat("b", 64), "", "u", "pw"); err != nil {
			t.Errorf("64-character name: %v", err)
		}
	})
	t.Run("bad archive", func(t *testing.T) {
		t.Parallel()
		_, _, err := v.AddCertificate("bad-archive", "", []byte("nope"), "pw")
		wantInputError(t, err, "file is not a PKCS#12 archive (.pfx/.p12)", false, "pw")
		if _, err := v.Get("bad-archive"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a refused archive was stored: %v", err)
		}
	})
}

// TestVaultReadsHoldNoSecrets checks every read response, and the bbolt file itself, for the key
// and the passwords.
func TestVaultReadsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "lookout.db")
	db := openDBAt(t, dbPath)
	v := openVault(t, db, newMasterKey(t))
	const credentialPassword = "credential-secret-XYZ"
	for _, keyName := range []string{"p256", "rsa", "ed25519"} {
		chain := newChain(t, keyName)
		name := "cert-" + keyName
		if _, _, err := v.AddCertificate(name, "", encodeChain(t, pkcs12.Modern2023, chain, testPassword), testPassword); err != nil {
			t.Fatal(err)
		}
		key := pkcs8Of(t, chain.leaf.key)
		item, err := v.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		responses := map[string]proto.Message{"Get by name": item, "Get by ID": must(t)(v.Get(item.GetId()))}
		items, err := v.List()
		if err != nil {
			t.Fatal(err)
		}
		for _, listed := range items {
			responses["List "+listed.GetName()] = listed
		}
		secrets := map[string][]byte{"PKCS#8 key": key, "archive password": []byte(testPassword)}
		checkNoSecrets(t, responses, secrets)
		if file, err := os.ReadFile(dbPath); err != nil {
			t.Fatal(err)
		} else {
			checkBytesHoldNone(t, "bbolt file", file, secrets)
		}
	}
	if _, err := v.AddCredentials("creds", "", "user", credentialPassword); err != nil {
		t.Fatal(err)
	}
	items, err := v.List()
	if err != nil {
		t.Fatal(err)
	}
	responses := map[string]proto.Message{"Get": must(t)(v.Get("creds"))}
	for _, item := range items {
		responses["List "+item.GetName()] = item
	}
	secrets := map[string][]byte{"credential password": []byte(credentialPassword)}
	checkNoSecrets(t, responses, secrets)
	file, err := os.ReadFile(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	checkBytesHoldNone(t, "bbolt file", file, secrets)
}

func must(t *testing.T) func(*lookoutv1.VaultItem, error) *lookoutv1.VaultItem {
	return func(item *lookoutv1.VaultItem, err error) *lookoutv1.VaultItem {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return item
	}
}

func checkNoSecrets(t *testing.T, responses map[string]proto.Message, secrets map[string][]byte) {
	t.Helper()
	for name, msg := range responses {
		b, err := proto.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		checkBytesHoldNone(t, name, b, secrets)
	}
}

func checkBytesHoldNone(t *testing.T, where string, b []byte, secrets map[string][]byte) {
	t.Helper()
	for what, secret := range secrets {
		if bytes.Contains(b, secret) {
			t.Errorf("%s contains the %s", where, what)
		}
	}
}

func materialKey(id string) []byte { return []byte(prefixMaterial + id) }

func TestVaultTamperedRecord(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	v := openVault(t, db, newMasterKey(t))
	item, err := v.AddCredentials("api-user", "", "user", "pw")
	if err != nil {
		t.Fatal(err)
	}
	flipLastByte(t, db, bucketItems, string(materialKey(item.GetId())))
	_, err = v.Material("api-user")
	if !errors.Is(err, ErrIntegrity) || err.Error() != `vault item "api-user": secret integrity check failed` {
		t.Errorf("Material of a tampered record: %v", err)
	}
}

// TestVaultRecordMoved copies sealed material onto another item, and bumps an item's version
// without resealing: neither opens.
func TestVaultRecordMoved(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	v := openVault(t, db, newMasterKey(t))
	a, err := v.AddCredentials("a", "", "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.AddCredentials("b", "", "bob", "bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		bucket := tx.Bucket([]byte(bucketItems))
		return bucket.Put(materialKey(b.GetId()), bytes.Clone(bucket.Get(materialKey(a.GetId()))))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Material("b"); !errors.Is(err, ErrIntegrity) {
		t.Errorf("Material of a copied record: %v, want ErrIntegrity", err)
	}
	if _, err := v.Material("a"); err != nil {
		t.Errorf("Material of the original: %v", err)
	}

	bumped := proto.Clone(a).(*lookoutv1.VaultItem)
	bumped.Version = 2
	meta, err := proto.Marshal(bumped)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(bucketItems)).Put([]byte(prefixItem+a.GetId()), meta)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Material("a"); !errors.Is(err, ErrIntegrity) {
		t.Errorf("Material after a version change: %v, want ErrIntegrity", err)
	}
}

// TestVaultReopen closes the bbolt file and opens it again, with the right and a wrong key.
func TestVaultReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lookout.db")
	master := newMasterKey(t)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	v := openVault(t, db, master)
	if _, err := v.AddCredentials("api-user", "", "user", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openDBAt(t, path)
	if _, err := Open(Options{DB: db, MasterKey: newMasterKey(t)}); !errors.Is(err, ErrMasterKeyMismatch) {
		t.Errorf("Open with another key: %v, want ErrMasterKeyMismatch", err)
	}
	secret, err := openVault(t, db, master).Material("api-user")
	if err != nil {
		t.Fatalf("Material after reopening: %v", err)
	}
	if got := secret.GetCredentials().GetPassword(); got != "pw" {
		t.Errorf("password after reopening = %q, want pw", got)
	}
}
