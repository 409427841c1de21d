package store

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"sync"

	"google.golang.org/protobuf/proto"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Stored results are compressed: a result is mostly headers, URLs and body excerpts, which
// deflate to less than half, and results are what fills the file. A compressed value starts with
// compressedResult, a byte no protobuf encoding of a RunResult starts with (field number 0 does
// not exist), so values written before compression read as they are.
const compressedResult = 0x00

// flateWriters keeps deflate writers for reuse: a new one allocates ~1 MB of tables.
var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed) // the level is valid: no error
	return w
}}

// encodeResult is the stored form of res.
func encodeResult(res *pb.RunResult) ([]byte, error) {
	plain, err := proto.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("encoding result of run %s: %w", res.RunId, err)
	}
	buf := bytes.NewBuffer(make([]byte, 0, len(plain)/2+16))
	buf.WriteByte(compressedResult)
	w := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(w)
	w.Reset(buf)
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("compressing result of run %s: %w", res.RunId, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compressing result of run %s: %w", res.RunId, err)
	}
	return buf.Bytes(), nil
}

// decodeResult reads a stored result into res, compressed or not.
func decodeResult(v []byte, res *pb.RunResult) error {
	if len(v) == 0 || v[0] != compressedResult {
		return proto.Unmarshal(v, res)
	}
	r := flate.NewReader(bytes.NewReader(v[1:]))
	defer r.Close()
	plain, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("decompressing stored result: %w", err)
	}
	return proto.Unmarshal(plain, res)
}
