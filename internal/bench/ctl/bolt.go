package ctl

import (
	"encoding/binary"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// boltCommitMs is the median time of n single-record, fsync'd bbolt commits in a fresh file at path.
func boltCommitMs(path string, n int) (float64, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	defer db.Close()
	val := make([]byte, 512)
	lat := make([]time.Duration, 0, n)
	for i := range n {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], uint64(i))
		t := time.Now()
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return b.Put(k[:], val)
		})
		if err != nil {
			return 0, err
		}
		lat = append(lat, time.Since(t))
	}
	p50, _ := percentiles(lat)
	return p50, nil
}
