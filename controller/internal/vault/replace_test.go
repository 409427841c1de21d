package vault

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

func TestVaultReplaceCertificate(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	first, second := newChain(t, "p256"), newChain(t, "ed25519")
	added, _, err := v.AddCertificate("partner", "old text", encodeChain(t, pkcs12.Modern2023, first, testPassword), testPassword)
	if err != nil {
		t.Fatal(err)
	}
	replaced, _, err := v.ReplaceCertificate("partner", "", encodeChain(t, pkcs12.Modern2023, second, testPassword), testPassword)
	if err != nil {
		t.Fatalf("ReplaceCertificate: %v", err)
	}
	if replaced.GetVersion() != 2 || replaced.GetId() != added.GetId() || replaced.GetDescription() != "old text" {
		t.Errorf("replaced = v%d id %s description %q, want v2, id %s, the old description",
			replaced.GetVersion(), replaced.GetId(), replaced.GetDescription(), added.GetId())
	}
	if replaced.GetCertificate().GetSha256Fingerprint() == added.GetCertificate().GetSha256Fingerprint() ||
		replaced.GetCertificate().GetKeyType() != "Ed25519" {
		t.Errorf("metadata still describes the old certificate: %v", replaced.GetCertificate())
	}
	got, err := v.Get(added.GetId())
	if err != nil || got.GetVersion() != 2 {
		t.Errorf("Get after replace = v%d, %v; want v2", got.GetVersion(), err)
	}
	material, err := v.Material("partner")
	if err != nil {
		t.Fatalf("Material: %v", err)
	}
	if material.GetVersion() != 2 || !bytes.Equal(material.GetCertificate().GetPkcs8Key(), pkcs8Of(t, second.leaf.key)) {
		t.Errorf("material is v%d with the old key, want v2 with the new one", material.GetVersion())
	}

	// A wrong password leaves version 2 in place.
	if _, _, err := v.ReplaceCertificate("partner", "", encodeChain(t, pkcs12.Modern2023, first, testPassword), "wrong"); err == nil {
		t.Fatal("replace with a wrong password succeeded")
	}
	if got, _ := v.Get("partner"); got.GetVersion() != 2 {
		t.Errorf("a failed replace changed the version to %d", got.GetVersion())
	}
}

func TestVaultReplaceCredentials(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	if _, err := v.AddCredentials("api", "d", "alice", "pw1"); err != nil {
		t.Fatal(err)
	}
	for want := int64(2); want <= 3; want++ {
		item, err := v.ReplaceCredentials("api", "", "bob", "pw-new")
		if err != nil {
			t.Fatalf("ReplaceCredentials: %v", err)
		}
		if int64(item.GetVersion()) != want || item.GetUsername() != "bob" {
			t.Errorf("item = v%d user %q, want v%d bob", item.GetVersion(), item.GetUsername(), want)
		}
	}
	m, err := v.Material("api")
	if err != nil || m.GetVersion() != 3 || m.GetCredentials().GetPassword() != "pw-new" {
		t.Errorf("Material = v%d, %v", m.GetVersion(), err)
	}

	for name, tc := range map[string]struct {
		err  error
		want string
	}{
		"unknown":       {errOf(v.ReplaceCredentials("nope", "", "u", "p")), `vault item "nope" not found`},
		"wrong type":    {errOf3(v.ReplaceCertificate("api", "", []byte("x"), "")), "is a credential set, not a certificate"},
		"no username":   {errOf(v.ReplaceCredentials("api", "", "", "p")), "username must be"},
		"long password": {errOf(v.ReplaceCredentials("api", "", "u", strings.Repeat("p", maxPasswordLen+1))), "password must be at most"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, tc.err, tc.want)
		}
		if strings.Contains(name, "unknown") && !errors.Is(tc.err, ErrNotFound) {
			t.Errorf("%s: %v is not ErrNotFound", name, tc.err)
		}
	}
	if got, _ := v.Get("api"); got.GetVersion() != 3 {
		t.Errorf("failed replaces changed the version to %d", got.GetVersion())
	}
}

func errOf3[A, B any](_ A, _ B, err error) error { return err }
