package lookoutv1

// Word is how messages, the CLI and the console name an item type: "certificate",
// "credential set", "secret", "file". Every type the proto defines has one (vaultitemtype_test.go
// fails for a new type without it); the unspecified type and numbers the proto does not define
// read "item of unknown type".
func (t VaultItemType) Word() string {
	switch t {
	case VaultItemType_VAULT_ITEM_TYPE_CERTIFICATE:
		return "certificate"
	case VaultItemType_VAULT_ITEM_TYPE_CREDENTIALS:
		return "credential set"
	case VaultItemType_VAULT_ITEM_TYPE_SECRET:
		return "secret"
	case VaultItemType_VAULT_ITEM_TYPE_FILE:
		return "file"
	}
	return unknownItemType
}

const unknownItemType = "item of unknown type"
