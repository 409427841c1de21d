package lookoutv1

import (
	"fmt"
	"strings"
)

// IDPrefixes are the prefixes the controller gives the ids it makes (store.NewID and the vault's
// item ids). A name may not start with one: a name shaped like an id could be taken for the item
// that id names, by a lookup that tries both. Add the prefix of every new kind of id here.
var IDPrefixes = []string{"ag_", "alt_", "cp_", "mon_", "msg_", "run_", "vi_"}

// IDShaped reports whether s starts with one of IDPrefixes (in any case), and which.
func IDShaped(s string) (prefix string, ok bool) {
	for _, p := range IDPrefixes {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return p, true
		}
	}
	return "", false
}

// CheckNotIDShaped refuses a name that starts like an id, in words that say what to do.
func CheckNotIDShaped(name string) error {
	if p, ok := IDShaped(name); ok {
		return fmt.Errorf("names may not start with %q: that is how ids begin, and a name must never be taken for an id", p)
	}
	return nil
}
