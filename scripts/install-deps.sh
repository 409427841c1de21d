#!/usr/bin/env bash
# Installs the Debian packages the tests and `make proto` need, when they are missing:
# openssl (PKCS#12 archives as users' tools make them), protobuf-compiler (protoc) and gcc
# (the race detector needs cgo), chromium (the web console's browser tests).
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v protoc  >/dev/null || need+=(protobuf-compiler)
command -v gcc     >/dev/null || need+=(gcc)   # the race detector needs cgo
command -v chromium >/dev/null || need+=(chromium)   # the web console's browser tests (they skip without it)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing: ${need[*]} — install them (apt-get install ${need[*]}) or run this script as root" >&2
  exit 1
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
