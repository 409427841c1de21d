#!/usr/bin/env bash
# Installs the Debian packages a part of the build needs, when they are missing:
#   scripts/install-deps.sh test    what `make test` needs (the default)
#   scripts/install-deps.sh proto   what `make proto` / `make proto-check` need
#   scripts/install-deps.sh all     both (CI, which runs as root)
# With everything present it changes nothing and needs no root. With something missing it installs
# it as root, and otherwise names what is missing and the command that installs it.
#
# Each list holds "command:debian-package" pairs; add a tool the tests need to TEST_DEPS.
set -euo pipefail

TEST_DEPS=(
  openssl:openssl # PKCS#12 archives made as users' tools make them
  gcc:gcc         # the race detector needs cgo
)
PROTO_DEPS=(
  protoc:protobuf-compiler # make proto regenerates internal/pb with it
)

case "${1:-test}" in
  test) wanted=("${TEST_DEPS[@]}") ;;
  proto) wanted=("${PROTO_DEPS[@]}") ;;
  all) wanted=("${TEST_DEPS[@]}" "${PROTO_DEPS[@]}") ;;
  *) echo "usage: $0 [test|proto|all]" >&2; exit 2 ;;
esac

need=()
missing=()
for dep in "${wanted[@]}"; do
  cmd=${dep%%:*} pkg=${dep#*:}
  if ! command -v "$cmd" >/dev/null; then
    missing+=("$cmd")
    need+=("$pkg")
  fi
done
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  {
    echo "missing for '${1:-test}': ${missing[*]} (Debian packages: ${need[*]})."
    echo "Install them with:  sudo apt-get install -y ${need[*]}"
    echo "or run:             sudo $0 ${1:-test}"
  } >&2
  exit 1
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
