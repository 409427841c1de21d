package vault

import (
	"fmt"
	"regexp"
	"unicode/utf8"

	"github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

const (
	maxDescriptionLen = 1024
	maxUsernameLen    = 256
	maxPasswordLen    = 4096
)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func validateItem(name, description string) error {
	if !namePattern.MatchString(name) {
		return inputError(fmt.Sprintf("vault item name %q is not valid: use 1–64 letters, digits, '.', '_' or '-', "+
			"starting with a letter or digit", clip(name)))
	}
	if err := lookoutv1.CheckNotIDShaped(name); err != nil {
		return inputError(fmt.Sprintf("vault item name %q: %v", name, err))
	}
	if len(description) > maxDescriptionLen || !utf8.ValidString(description) {
		return inputError(fmt.Sprintf("description must be UTF-8 text of at most %d bytes", maxDescriptionLen))
	}
	return nil
}

func validateCredentials(username, password string) error {
	if username == "" || len(username) > maxUsernameLen || !utf8.ValidString(username) {
		return inputError(fmt.Sprintf("username must be UTF-8 text of 1 to %d bytes", maxUsernameLen))
	}
	if len(password) > maxPasswordLen {
		return inputError(fmt.Sprintf("password must be at most %d bytes", maxPasswordLen))
	}
	return nil
}

// clip shortens a user-supplied string for an error message.
func clip(s string) string {
	const limit = 80
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}
