#!/usr/bin/env bash
# Runs every ovnkit test: formatting, lints, Rust unit/integration/differential tests against the
# real OVN 23.03 / OVS 3.1, and the fuzz targets' build. Installs what the tests need when missing
# (Debian packages need root or sudo). Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

# --- what the tests need -------------------------------------------------------------------------
need_pkgs=()
for pair in ovsdb-server:openvswitch-switch ovs-vswitchd:openvswitch-switch ovs-vsctl:openvswitch-common \
            ovsdb-tool:openvswitch-common ovn-northd:ovn-central ovn-controller:ovn-host ovn-nbctl:ovn-common; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_pkgs+=("${pair#*:}")
done
python3 -c 'import ovs' >/dev/null 2>&1 || /usr/bin/python3 -c 'import ovs' >/dev/null 2>&1 \
  || need_pkgs+=(python3-openvswitch)
command -v valgrind >/dev/null 2>&1 || need_pkgs+=(valgrind)
command -v gcc >/dev/null 2>&1 || need_pkgs+=(gcc)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing Debian packages: $(printf '%s\n' "${need_pkgs[@]}" | sort -u | tr '\n' ' ')"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get update -q || true
    # The packages' services must not start system-wide daemons: tests start their own.
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      openvswitch-switch openvswitch-common ovn-central ovn-host ovn-common python3-openvswitch \
      valgrind gcc \
      || echo "warning: could not install the OVN packages; tests that need them will say so"
  else
    echo "warning: no apt-get; tests that need the real OVN will say which package is missing"
  fi
fi

# --- Rust ----------------------------------------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets -- -D warnings

say "cargo test"
cargo test --workspace --no-fail-fast

say "fuzz targets build"
cargo check --manifest-path fuzz/Cargo.toml --quiet

# The Python binding: build the abi3 wheel with maturin (debug profile, sharing the build above),
# install it into a fresh virtualenv and run its pytest suite. The C binding's tests (gcc,
# valgrind, header drift) ran with cargo test above.
say "Python binding (maturin wheel + pytest in a fresh venv)"
OVNKIT_PY_PROFILE=dev bindings/python/run-tests.sh

say "all tests passed"
