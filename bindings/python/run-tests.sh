#!/usr/bin/env bash
# Builds the ovnkit wheel with maturin, installs it into a fresh virtualenv and runs the pytest
# suite in tests/. Exit status: pytest's, except that "no tests collected" (5) is a failure.
#
# Environment: PYTHON (default python3, >= 3.11), CARGO_TARGET_DIR (honoured by maturin),
# OVNKIT_PY_PROFILE=release|dev (default release).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
profile="${OVNKIT_PY_PROFILE:-release}"
work="$(mktemp -d "${TMPDIR:-/tmp}/ovnkit-py.XXXXXX")"
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
venv_py="$work/venv/bin/python"
"$venv_py" -m pip install --quiet --disable-pip-version-check 'maturin>=1.9,<2' 'pytest>=8'

build_args=(build --manifest-path "$here/Cargo.toml" --interpreter "$venv_py" -o "$work/wheels")
if [[ "$profile" == release ]]; then
    build_args+=(--release)
fi
"$work/venv/bin/maturin" "${build_args[@]}"
"$venv_py" -m pip install --quiet --disable-pip-version-check --no-index "$work"/wheels/ovnkit-*.whl

status=0
(cd "$work" && "$venv_py" -m pytest -q -p no:cacheprovider "$here/tests") || status=$?
if [[ $status -eq 5 ]]; then
    echo "run-tests.sh: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
