#!/usr/bin/env bash
# Installs the Debian 12 packages Freshet needs to build, test and benchmark.
# Idempotent: when every package is present it returns at once without touching apt.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-format
  clang-14 libclang-rt-14-dev
  libabsl-dev
  libyaml-cpp-dev nlohmann-json3-dev libsimdjson-dev
  libspdlog-dev libfmt-dev libcli11-dev
  libzstd-dev libxxhash-dev
  libeigen3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcuckoo-dev
  libcpp-httplib-dev libboost-dev zlib1g-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  librdkafka-dev librocksdb-dev
  curl wrk
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
