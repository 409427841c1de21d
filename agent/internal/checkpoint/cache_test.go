package checkpoint

import (
	"errors"
	"testing"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func secretItem(id string, version int64, value string) *pb.RunSecret {
	return &pb.RunSecret{ItemId: id, Name: id, Version: version, Value: &pb.RunSecret_Secret{Secret: &pb.SecretMaterial{Value: value}}}
}

// TestSecretCache: a run takes what the cache holds at its versions and keeps it through a drop; a
// newer version replaces the older; the controller's drop list empties it; a private agent's cache
// refuses platform material.
func TestSecretCache(t *testing.T) {
	t.Parallel()
	c := newSecretCache(true)
	ref := func(id string, v int64) *pb.SecretRef { return &pb.SecretRef{ItemId: id, Version: v} }

	if h, have := c.take([]*pb.SecretRef{ref("a", 1)}); len(h) != 0 || len(have) != 0 {
		t.Fatalf("an empty cache offered %v", have)
	}
	if _, err := c.put(secretItem("a", 1, "one")); err != nil {
		t.Fatal(err)
	}
	h, have := c.take([]*pb.SecretRef{ref("a", 1), ref("b", 1)})
	if len(have) != 1 || have[0].ItemId != "a" || h["a"] == nil {
		t.Fatalf("take = %v, %v; want a@1 only", h, have)
	}
	if _, have := c.take([]*pb.SecretRef{ref("a", 2)}); len(have) != 0 {
		t.Error("a run naming version 2 was offered version 1")
	}
	// Version 2 arrives: version 1 leaves the cache, but the run that took it keeps it.
	if _, err := c.put(secretItem("a", 2, "two")); err != nil {
		t.Fatal(err)
	}
	if got := c.list(); len(got) != 1 || got[0].Version != 2 {
		t.Errorf("after version 2 arrived the cache holds %v", got)
	}
	if h["a"].sec.GetSecret().GetValue() != "one" {
		t.Error("the run lost the material it took")
	}
	if n := c.drop([]*pb.SecretRef{ref("a", 2), ref("zzz", 9)}); n != 1 || len(c.list()) != 0 {
		t.Errorf("drop removed %d, cache now %v", n, c.list())
	}
	st := c.stats()
	if st.Hits != 1 || st.Misses != 3 || st.Items != 0 {
		t.Errorf("stats %+v, want 1 hit, 3 misses, 0 items", st)
	}
	if _, err := c.put(&pb.RunSecret{ItemId: platformItem, Version: 7}); !errors.Is(err, errPlatformOffered) || len(c.list()) != 0 {
		t.Errorf("a private cache given platform material: %v, holds %v", err, c.list())
	}
}
