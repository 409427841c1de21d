package lookoutv1

import "testing"

// Every item type the proto defines has its own word; a type added to vault.proto without one
// fails here.
func TestVaultItemTypeWordCoversEveryType(t *testing.T) {
	seen := map[string]VaultItemType{}
	for n, name := range VaultItemType_name {
		typ := VaultItemType(n)
		w := typ.Word()
		if typ == VaultItemType_VAULT_ITEM_TYPE_UNSPECIFIED {
			if w != unknownItemType {
				t.Errorf("%s.Word() = %q, want %q", name, w, unknownItemType)
			}
			continue
		}
		if w == unknownItemType || w == "" {
			t.Errorf("%s has no word: add it to VaultItemType.Word", name)
		}
		if other, dup := seen[w]; dup {
			t.Errorf("%s and %s both read %q", name, other, w)
		}
		seen[w] = typ
	}
	if got := VaultItemType(len(VaultItemType_name) + 100).Word(); got != unknownItemType {
		t.Errorf("an undefined type reads %q, want %q", got, unknownItemType)
	}
}

func TestVaultItemTypeWord(t *testing.T) {
	for typ, want := range map[VaultItemType]string{
		VaultItemType_VAULT_ITEM_TYPE_CERTIFICATE: "certificate",
		VaultItemType_VAULT_ITEM_TYPE_CREDENTIALS: "credential set",
		VaultItemType_VAULT_ITEM_TYPE_SECRET:      "secret",
		VaultItemType_VAULT_ITEM_TYPE_FILE:        "file",
	} {
		if got := typ.Word(); got != want {
			t.Errorf("%s.Word() = %q, want %q", typ, got, want)
		}
	}
}
