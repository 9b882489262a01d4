#!/usr/bin/env bash
# Installs what the tests need when it is missing, then runs every test.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v protoc >/dev/null || missing+=(protobuf-compiler)   # etcd-client's build needs it
command -v etcd >/dev/null || missing+=(etcd-server)           # storage tests run a real etcd
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v kubectl >/dev/null; then
  echo "scripts/test.sh: kubectl is required (the kubectl tests use the real client)" >&2
  exit 1
fi
if ! command -v cargo >/dev/null; then
  echo "scripts/test.sh: cargo is required (https://rustup.rs)" >&2
  exit 1
fi

# Lints first: the workspace lints in Cargo.toml hold on every landing.
for tool in fmt clippy; do
  if ! cargo "$tool" --version >/dev/null 2>&1; then
    echo "scripts/test.sh: cargo $tool is required (rustup component add ${tool/fmt/rustfmt})" >&2
    exit 1
  fi
done
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --all-targets --locked
cargo test --workspace --locked --no-fail-fast "$@"
