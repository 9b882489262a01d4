#!/usr/bin/env bash
# Installs what the tests need when it is missing, then runs every test.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v etcd >/dev/null || missing+=(etcd-server)           # storage tests run a real etcd
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
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
# The official Python client (tests/python_client.rs), pinned, in a venv under target/.
PY_CLIENT_VERSION=37.0.2
venv=target/python-venv
mkdir -p target
if ! "$venv/bin/python" -c "import kubernetes, sys; sys.exit(kubernetes.__version__ != '$PY_CLIENT_VERSION')" 2>/dev/null; then
  echo "scripts/test.sh: installing the Python client kubernetes==$PY_CLIENT_VERSION into $venv"
  if ! python3 -m venv --clear "$venv" >/dev/null 2>&1; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv --clear "$venv"
  fi
  "$venv/bin/pip" install -q "kubernetes==$PY_CLIENT_VERSION"
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
