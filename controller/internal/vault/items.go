package vault

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Caps of the secret and file item types; see the package documentation.
const (
	MaxSecretSize     = 64 << 10 // bytes of a secret's value
	MaxFileSize       = 1 << 20  // bytes of a file's content
	maxFilenameLen    = 255
	maxContentTypeLen = 255
)

// AddSecret stores a secret value (an API key, a token …) as a new item. Monitors use it as a
// variable whose value is redacted from results.
func (v *Vault) AddSecret(name, description, value string) (*lookoutv1.VaultItem, error) {
	if err := v.checkNew(name, description); err != nil {
		return nil, err
	}
	if err := validateSecret(value); err != nil {
		return nil, err
	}
	item := &lookoutv1.VaultItem{Name: name, Description: description, Type: lookoutv1.VaultItemType_VAULT_ITEM_TYPE_SECRET}
	return v.add(item, secretMaterial(value))
}

// ReplaceSecret stores a new value for an existing secret item, by name or ID, as its next version.
func (v *Vault) ReplaceSecret(nameOrID, description, value string) (*lookoutv1.VaultItem, error) {
	if err := validateDescription(description); err != nil {
		return nil, err
	}
	if err := validateSecret(value); err != nil {
		return nil, err
	}
	return v.replace(nameOrID, lookoutv1.VaultItemType_VAULT_ITEM_TYPE_SECRET, description,
		func(*lookoutv1.VaultItem) {}, secretMaterial(value))
}

// AddFile stores a file (a request body, a multipart upload, a PEM CA bundle …) as a new item.
// filename defaults to the item name; contentType, when empty, is sniffed from the content.
func (v *Vault) AddFile(name, description, filename, contentType string, content []byte) (*lookoutv1.VaultItem, error) {
	if err := v.checkNew(name, description); err != nil {
		return nil, err
	}
	info, material, err := newFile(filename, contentType, content, name)
	if err != nil {
		return nil, err
	}
	item := &lookoutv1.VaultItem{Name: name, Description: description, Type: lookoutv1.VaultItemType_VAULT_ITEM_TYPE_FILE, File: info}
	return v.add(item, material)
}

// ReplaceFile stores new content for an existing file item, by name or ID, as its next version.
// An empty filename keeps the old one; an empty contentType is sniffed from the new content.
func (v *Vault) ReplaceFile(nameOrID, description, filename, contentType string, content []byte) (*lookoutv1.VaultItem, error) {
	if err := validateDescription(description); err != nil {
		return nil, err
	}
	old, err := v.Get(nameOrID)
	if err != nil {
		return nil, err
	}
	if err := checkType(old, lookoutv1.VaultItemType_VAULT_ITEM_TYPE_FILE); err != nil {
		return nil, err
	}
	info, material, err := newFile(cmp.Or(filename, old.GetFile().GetFilename()), contentType, content, old.GetName())
	if err != nil {
		return nil, err
	}
	return v.replace(nameOrID, lookoutv1.VaultItemType_VAULT_ITEM_TYPE_FILE, description,
		func(it *lookoutv1.VaultItem) { it.File = info }, material)
}

func secretMaterial(value string) *lookoutv1.RunSecret {
	return &lookoutv1.RunSecret{Value: &lookoutv1.RunSecret_Secret{Secret: &lookoutv1.SecretMaterial{Value: value}}}
}

// validateSecret checks a secret's value; its messages never quote it.
func validateSecret(value string) error {
	switch {
	case value == "":
		return inputError("secret value is empty: give the value on standard input or with --value-file")
	case len(value) > MaxSecretSize:
		return inputError(fmt.Sprintf("secret value is %d bytes; a secret may be at most %d KiB", len(value), MaxSecretSize>>10))
	case !utf8.ValidString(value):
		return inputError("secret value is not UTF-8 text: store binary data as a file item (vault add-file) instead")
	}
	return nil
}

// newFile checks a file's content and names, fills in the defaults and returns its metadata and
// material.
func newFile(filename, contentType string, content []byte, itemName string) (*lookoutv1.FileInfo, *lookoutv1.RunSecret, error) {
	switch {
	case len(content) == 0:
		return nil, nil, inputError("file is empty: give a file with content")
	case len(content) > MaxFileSize:
		return nil, nil, inputError(fmt.Sprintf("file is %d bytes; a vault file may be at most %d KiB (1 MiB)", len(content), MaxFileSize>>10))
	}
	filename = cmp.Or(filename, itemName)
	if err := validateFilename(filename); err != nil {
		return nil, nil, err
	}
	contentType, err := fileContentType(contentType, content)
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(content)
	info := &lookoutv1.FileInfo{Filename: filename, ContentType: contentType, Size: int64(len(content)), Sha256: hex.EncodeToString(sum[:])}
	material := &lookoutv1.RunSecret{Value: &lookoutv1.RunSecret_File{File: &lookoutv1.FileMaterial{
		Filename: filename, ContentType: contentType, Content: content,
	}}}
	return info, material, nil
}

func validateFilename(filename string) error {
	if len(filename) > maxFilenameLen || !utf8.ValidString(filename) ||
		strings.ContainsFunc(filename, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '/' || r == '\\' }) {
		return inputError(fmt.Sprintf("filename %q is not valid: use at most %d bytes of UTF-8 text without control characters or slashes",
			clip(filename), maxFilenameLen))
	}
	return nil
}

// fileContentType checks a given content type, or sniffs one from the content.
func fileContentType(contentType string, content []byte) (string, error) {
	if contentType == "" {
		return http.DetectContentType(content), nil
	}
	if _, _, err := mime.ParseMediaType(contentType); err != nil || len(contentType) > maxContentTypeLen ||
		strings.ContainsAny(contentType, "\r\n\x00") {
		return "", inputError(fmt.Sprintf("content type %q is not a valid media type: give one such as application/json or text/csv; charset=utf-8",
			clip(contentType)))
	}
	return contentType, nil
}
