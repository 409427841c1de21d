#!/usr/bin/env bash
# Installs the Debian packages a part of the build needs, when they are missing:
#   scripts/install-deps.sh test    what `make test` needs (the default)
#   scripts/install-deps.sh proto   what `make proto` / `make proto-check` need
#   scripts/install-deps.sh all     both (CI, which runs as root)
# With everything present it changes nothing and needs no root. With something missing it installs
# it as root, and otherwise names what is missing and the command that installs it.
#
# Each list holds "command:debian-package" pairs; add a tool the tests need to TEST_DEPS. A tool in
# OPTIONAL_TEST_DEPS is installed when this runs as root; without root a missing one is only named,
# and the tests that need it skip with a message saying so.
set -euo pipefail

TEST_DEPS=(
  openssl:openssl # PKCS#12 archives made as users' tools make them
  gcc:gcc         # the race detector needs cgo
)
OPTIONAL_TEST_DEPS=(
  chromium:chromium # the web console's browser tests (chromedp)
)
PROTO_DEPS=(
  protoc:protobuf-compiler # make proto regenerates internal/pb with it
)

case "${1:-test}" in
  test) wanted=("${TEST_DEPS[@]}") optional=("${OPTIONAL_TEST_DEPS[@]}") ;;
  proto) wanted=("${PROTO_DEPS[@]}") optional=() ;;
  all) wanted=("${TEST_DEPS[@]}" "${PROTO_DEPS[@]}") optional=("${OPTIONAL_TEST_DEPS[@]}") ;;
  *) echo "usage: $0 [test|proto|all]" >&2; exit 2 ;;
esac

need=() missing=() need_optional=()
for dep in "${wanted[@]}"; do
  cmd=${dep%%:*} pkg=${dep#*:}
  if ! command -v "$cmd" >/dev/null; then
    missing+=("$cmd")
    need+=("$pkg")
  fi
done
for dep in ${optional[@]+"${optional[@]}"}; do
  cmd=${dep%%:*} pkg=${dep#*:}
  command -v "$cmd" >/dev/null || need_optional+=("$pkg")
done

if [ "$(id -u)" -ne 0 ]; then
  if [ ${#need_optional[@]} -gt 0 ]; then
    echo "note: ${need_optional[*]} is not installed; the tests that need it will skip (sudo apt-get install -y ${need_optional[*]})" >&2
  fi
  [ ${#need[@]} -eq 0 ] && exit 0
  {
    echo "missing for '${1:-test}': ${missing[*]} (Debian packages: ${need[*]})."
    echo "Install them with:  sudo apt-get install -y ${need[*]}"
    echo "or run:             sudo $0 ${1:-test}"
  } >&2
  exit 1
fi
need+=(${need_optional[@]+"${need_optional[@]}"})
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
