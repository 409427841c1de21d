#!/usr/bin/env bash
# Regenerates internal/pb/lookoutv1 from proto/lookout/v1 with protoc (Debian's protobuf-compiler)
# and the Go plugins pinned in go.mod's tool block.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "protoc not found: run scripts/install-deps.sh proto (or apt-get install protobuf-compiler)" >&2; exit 1; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
go build -o "$bin/protoc-gen-go-grpc" google.golang.org/grpc/cmd/protoc-gen-go-grpc
rm -f internal/pb/lookoutv1/*.pb.go
PATH="$bin:$PATH" protoc -I proto \
  --go_out=. --go_opt=module=github.com/lookout-synthetics/lookout \
  --go-grpc_out=. --go-grpc_opt=module=github.com/lookout-synthetics/lookout \
  proto/lookout/v1/*.proto
