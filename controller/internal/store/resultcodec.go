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
// not exist: 0x00 to 0x07 are all free), so values written before compression read as they are.
//
// The deflate stream is primed with resultDict, words most results hold (header names and values,
// status texts, dates): a result of a few hundred bytes has little to refer back to, and the
// dictionary saves ~100 of them. It is part of the stored format: a different dictionary needs a
// new marker byte, and this one must stay readable.
const compressedResult = 0x00

const resultDict = "HTTP/1.1HTTP/2.0GETPOSTPUTDELETEhttps://www.api.OKCreatedNo ContentFoundNot Found" +
	"Service UnavailableBad GatewayGateway TimeoutInternal Server Errorexpected status 200, got [redacted]" +
	"AcceptAuthorizationUser-Agentlookout-agent/Accept-EncodinggzipContent-TypeContent-LengthContent-Encoding" +
	"Cache-Controlno-storeno-cacheprivate, max-age=0DateServernginxcloudflareApacheConnectionkeep-aliveVary" +
	"ETagLast-ModifiedStrict-Transport-Securitymax-age=31536000; includeSubDomainsX-Request-IdSet-Cookie" +
	"application/json; charset=utf-8text/html; charset=utf-8text/plain" +
	"Mon, Tue, Wed, Thu, Fri, Sat, Sun, Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec GMT" +
	`{"id":"status":"ok","error":"message":"data":` + "<!DOCTYPE html><html><head><title></title></head><body></body></html>"

// flateWriters keeps deflate writers for reuse: a new one allocates ~1 MB of tables.
var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriterDict(nil, flate.DefaultCompression, []byte(resultDict)) // a valid level: no error
	return w
}}

// flateReaders keeps deflate readers for reuse: a new one allocates ~40 KB.
var flateReaders = sync.Pool{New: func() any { return flate.NewReaderDict(nil, []byte(resultDict)) }}

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
	src := bytes.NewReader(v[1:])
	r := flateReaders.Get().(io.ReadCloser)
	defer flateReaders.Put(r)
	if err := r.(flate.Resetter).Reset(src, []byte(resultDict)); err != nil {
		return fmt.Errorf("decompressing stored result: %w", err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("decompressing stored result: %w", err)
	}
	return proto.Unmarshal(plain, res)
}
