package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func TestVaultSecretRoundTripAndReplace(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	added, err := v.AddSecret("api-key", "partner key", "s3cr3t-value")
	if err != nil {
		t.Fatalf("AddSecret: %v", err)
	}
	if added.GetType() != lookoutv1.VaultItemType_VAULT_ITEM_TYPE_SECRET || added.GetVersion() != 1 {
		t.Errorf("added = %v v%d, want a secret at v1", added.GetType(), added.GetVersion())
	}
	meta, err := proto.Marshal(added)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(meta, []byte("s3cr3t-value")) {
		t.Error("the item's metadata holds the secret value")
	}
	m, err := v.Material("api-key")
	if err != nil || m.GetSecret().GetValue() != "s3cr3t-value" || m.GetVersion() != 1 {
		t.Fatalf("Material = %q v%d, %v; want the value at v1", m.GetSecret().GetValue(), m.GetVersion(), err)
	}

	replaced, err := v.ReplaceSecret("api-key", "", "second-value")
	if err != nil {
		t.Fatalf("ReplaceSecret: %v", err)
	}
	if replaced.GetVersion() != 2 || replaced.GetId() != added.GetId() || replaced.GetDescription() != "partner key" {
		t.Errorf("replaced = v%d id %s description %q; want v2, same id, old description", replaced.GetVersion(), replaced.GetId(), replaced.GetDescription())
	}
	if m, err := v.Material(added.GetId()); err != nil || m.GetSecret().GetValue() != "second-value" || m.GetVersion() != 2 {
		t.Errorf("Material after replace = %q v%d, %v", m.GetSecret().GetValue(), m.GetVersion(), err)
	}
}

func TestVaultFileRoundTripAndReplace(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	content := []byte("id,name\n1,alice\n\x00\xff binary tail")
	added, err := v.AddFile("orders.csv", "", "", "text/csv", content)
	if err != nil {
		t.Fatalf("AddFile: %v", err)
	}
	sum := sha256.Sum256(content)
	want := &lookoutv1.FileInfo{Filename: "orders.csv", ContentType: "text/csv", Size: int64(len(content)), Sha256: hex.EncodeToString(sum[:])}
	if !proto.Equal(added.GetFile(), want) {
		t.Errorf("file info = %v, want %v (filename defaults to the item name)", added.GetFile(), want)
	}
	m, err := v.Material("orders.csv")
	if err != nil {
		t.Fatalf("Material: %v", err)
	}
	if f := m.GetFile(); !bytes.Equal(f.GetContent(), content) || f.GetFilename() != "orders.csv" || f.GetContentType() != "text/csv" {
		t.Errorf("material = %q %q %q", f.GetFilename(), f.GetContentType(), f.GetContent())
	}

	// Replacing without a filename keeps the old one; without a type sniffs the new content.
	replaced, err := v.ReplaceFile("orders.csv", "", "", "", []byte(`{"a": 1}`))
	if err != nil {
		t.Fatalf("ReplaceFile: %v", err)
	}
	if replaced.GetVersion() != 2 || replaced.GetFile().GetFilename() != "orders.csv" ||
		replaced.GetFile().GetContentType() != "text/plain; charset=utf-8" || replaced.GetFile().GetSize() != 8 {
		t.Errorf("replaced = v%d %v", replaced.GetVersion(), replaced.GetFile())
	}
	if m, err := v.Material("orders.csv"); err != nil || string(m.GetFile().GetContent()) != `{"a": 1}` || m.GetVersion() != 2 {
		t.Errorf("Material after replace = %q v%d, %v", m.GetFile().GetContent(), m.GetVersion(), err)
	}
	renamed, err := v.ReplaceFile("orders.csv", "", "new.bin", "", []byte{0x1f, 0x8b, 0x08, 0})
	if err != nil || renamed.GetFile().GetFilename() != "new.bin" || renamed.GetFile().GetContentType() != "application/x-gzip" {
		t.Errorf("ReplaceFile with a filename = %v, %v", renamed.GetFile(), err)
	}
}

func TestVaultSecretAndFileRefusals(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	if _, err := v.AddSecret("key", "", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.AddFile("doc", "", "doc.txt", "", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		err  error
		want string
	}{
		"empty secret":          {errOf(v.AddSecret("s1", "", "")), "secret value is empty"},
		"secret at cap":         {errOf(v.AddSecret("s2", "", strings.Repeat("x", MaxSecretSize))), ""},
		"secret over cap":       {errOf(v.AddSecret("s3", "", strings.Repeat("x", MaxSecretSize+1))), "a secret may be at most 64 KiB"},
		"secret not UTF-8":      {errOf(v.AddSecret("s4", "", "\xff")), "not UTF-8"},
		"replace empty secret":  {errOf(v.ReplaceSecret("key", "", "")), "secret value is empty"},
		"replace secret type":   {errOf(v.ReplaceSecret("doc", "", "v")), `vault item "doc" is a file, not a secret`},
		"empty file":            {errOf(v.AddFile("f1", "", "", "", nil)), "file is empty"},
		"file at cap":           {errOf(v.AddFile("f2", "", "", "", make([]byte, MaxFileSize))), ""},
		"file over cap":         {errOf(v.AddFile("f3", "", "", "", make([]byte, MaxFileSize+1))), "a vault file may be at most 1024 KiB (1 MiB)"},
		"bad content type":      {errOf(v.AddFile("f4", "", "", "text/csv\r\nX: y", []byte("a"))), "is not a valid media type"},
		"bad filename":          {errOf(v.AddFile("f5", "", "../etc/passwd", "", []byte("a"))), "is not valid"},
		"bad name":              {errOf(v.AddFile("bad name", "", "", "", []byte("a"))), "is not valid"},
		"taken name":            {errOf(v.AddFile("key", "", "", "", []byte("a"))), "already exists"},
		"replace file type":     {errOf(v.ReplaceFile("key", "", "", "", []byte("a"))), `vault item "key" is a secret, not a file`},
		"replace file over cap": {errOf(v.ReplaceFile("doc", "", "", "", make([]byte, MaxFileSize+1))), "at most 1024 KiB"},
		"replace missing":       {errOf(v.ReplaceFile("nope", "", "", "", []byte("a"))), `vault item "nope" not found`},
	} {
		switch {
		case tc.want == "" && tc.err != nil:
			t.Errorf("%s: %v, want success", name, tc.err)
		case tc.want == "":
		case tc.err == nil || !strings.Contains(tc.err.Error(), tc.want):
			t.Errorf("%s: err = %v, want %q", name, tc.err, tc.want)
		default:
			var ie *InputError
			if !errors.As(tc.err, &ie) && !errors.Is(tc.err, ErrNotFound) && !errors.Is(tc.err, ErrExists) {
				t.Errorf("%s: %v is not an InputError", name, tc.err)
			}
		}
	}
	for _, name := range []string{"s1", "s3", "s4", "f1", "f3", "f4", "f5"} {
		if _, err := v.Get(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("refused item %s was stored (%v)", name, err)
		}
	}
	if got, _ := v.Get("key"); got.GetVersion() != 1 {
		t.Errorf("failed replaces changed the secret's version to %d", got.GetVersion())
	}
	if got, _ := v.Get("doc"); got.GetVersion() != 1 || got.GetFile().GetSize() != 5 {
		t.Errorf("failed replaces changed the file: v%d %v", got.GetVersion(), got.GetFile())
	}
}

// TestVaultSecretAndFileSealed checks that the stored records hold neither the value nor the
// content in clear, and that a flipped byte, or material moved to another item, does not open.
func TestVaultSecretAndFileSealed(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	v := openVault(t, db, newMasterKey(t))
	secret, err := v.AddSecret("tok", "", "plain-secret-value")
	if err != nil {
		t.Fatal(err)
	}
	file, err := v.AddFile("body", "", "", "", []byte("plain-file-content"))
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(bucketItems)).ForEach(func(k, val []byte) error {
			if bytes.Contains(val, []byte("plain-secret-value")) || bytes.Contains(val, []byte("plain-file-content")) {
				t.Errorf("record %s holds the secret or the file in clear", k)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}

	flipLastByte(t, db, bucketItems, string(materialKey(secret.GetId())))
	if _, err := v.Material("tok"); !errors.Is(err, ErrIntegrity) {
		t.Errorf("Material of a tampered secret: %v, want ErrIntegrity", err)
	}
	other, err := v.AddFile("other", "", "", "", []byte("other content"))
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bucketItems))
		return b.Put(materialKey(other.GetId()), bytes.Clone(b.Get(materialKey(file.GetId()))))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Material("other"); !errors.Is(err, ErrIntegrity) {
		t.Errorf("Material of a file record copied to another item: %v, want ErrIntegrity", err)
	}
	if m, err := v.Material("body"); err != nil || string(m.GetFile().GetContent()) != "plain-file-content" {
		t.Errorf("Material of the original file: %v", err)
	}
}
