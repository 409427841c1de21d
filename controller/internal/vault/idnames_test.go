package vault

import (
	"errors"
	"strings"
	"testing"

	"go.etcd.io/bbolt"
)

// A name shaped like an id is refused, and an id is looked up as an id only: an item whose name
// is another item's id (one stored before names were checked) never stands in for that item.
func TestVaultNamesShapedLikeIDs(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	first, err := v.AddSecret("partner-key", "", "the-real-one")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{first.GetId(), "vi_0011", "CP_site", "mon_x", "run_1", "ag_a"} {
		var input *InputError
		if _, err := v.AddSecret(name, "", "impostor"); !errors.As(err, &input) || !strings.Contains(err.Error(), "how ids begin") {
			t.Errorf("AddSecret(%q) = %v, want an input error saying names may not look like ids", name, err)
		}
	}

	// An impostor stored under a name equal to the first item's id, as an older controller allowed.
	impostor, err := v.AddSecret("impostor", "", "the-impostor")
	if err != nil {
		t.Fatal(err)
	}
	err = v.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(bucketItems)).Put([]byte(prefixName+first.GetId()), []byte(impostor.GetId()))
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := v.Material(first.GetId())
	if err != nil || m.GetSecret().GetValue() != "the-real-one" || m.GetItemId() != first.GetId() {
		t.Fatalf("Material(%s) = %q (item %s), %v; want the item with that id", first.GetId(), m.GetSecret().GetValue(), m.GetItemId(), err)
	}
	if got, err := v.Get(first.GetId()); err != nil || got.GetName() != "partner-key" {
		t.Fatalf("Get(%s) = %v, %v; want partner-key", first.GetId(), got, err)
	}
	if _, err := v.Get("vi_ffffffffffffffff"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of an unknown id = %v, want ErrNotFound", err)
	}
	if _, err := v.Get("no-such-name"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of an unknown name = %v, want ErrNotFound", err)
	}
}
