#!/usr/bin/env bash
# The Python package's tests: builds `influx_tsm` (crates/python) into a virtualenv with
# maturin and runs crates/python/tests with pytest, against the `influx-tsm` binary built
# here (the tests compare its output with the package's). The virtualenv is
# $INFLUX_TSM_PYTHON's, else the one tests/run.sh makes (target/test-venv); maturin,
# pytest and pandas are installed into it with pip from PyPI when missing. Anything
# missing fails loudly; nothing is skipped. Extra arguments go to pytest.
#
#   RELEASE=1 bash tests/python.sh    # an optimised build (for timings)
#   WHEEL=1 bash tests/python.sh      # also: a wheel built with maturin, installed with its
#                                     # test extra into a fresh virtualenv, the same tests
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$PWD/$target;; esac
export CARGO_TARGET_DIR=$target
if [ -n "${INFLUX_TSM_PYTHON:-}" ]; then
  python=$INFLUX_TSM_PYTHON
else
  python=$target/test-venv/bin/python
  if ! "$python" -c "import duckdb, pyarrow, polars, datafusion" 2>/dev/null; then
    echo "tests/python.sh: installing duckdb, pyarrow, polars, datafusion into $target/test-venv" >&2
    python3 -m venv "$target/test-venv"
    "$python" -m pip install --quiet --disable-pip-version-check duckdb pyarrow polars datafusion
  fi
fi
if ! "$python" -c "import maturin, pytest, pandas" 2>/dev/null; then
  echo "tests/python.sh: installing maturin, pytest, pandas into $("$python" -c 'import sys; print(sys.prefix)')" >&2
  "$python" -m pip install --quiet --disable-pip-version-check maturin pytest pandas
fi
"$python" -c "import duckdb, pyarrow, polars, datafusion, pandas, pytest, maturin" \
  || { echo "tests/python.sh: $python lacks one of duckdb, pyarrow, polars, datafusion, pandas, pytest, maturin" >&2; exit 1; }
bin=$(dirname "$python")
profile=()
[ -n "${RELEASE:-}" ] && profile=(--release)
cargo build --locked -q -p influx-tsm "${profile[@]}"
# maturin develop installs into the virtualenv it runs in.
VIRTUAL_ENV=$(dirname "$bin") PATH=$bin:$PATH "$bin/maturin" develop --locked -q \
  -m crates/python/Cargo.toml "${profile[@]}"
dir=debug
[ -n "${RELEASE:-}" ] && dir=release
INFLUX_TSM_CLI=$target/$dir/influx-tsm "$python" -m pytest -q crates/python/tests "$@"
if [ -n "${WHEEL:-}" ]; then
  wheels=$target/wheels
  rm -rf "$wheels" "$target/wheel-venv"
  "$bin/maturin" build --locked -q -m crates/python/Cargo.toml "${profile[@]}" --out "$wheels"
  "$python" -m venv "$target/wheel-venv"
  wheel=$(ls "$wheels"/influx_tsm-*.whl)
  "$target/wheel-venv/bin/pip" install --quiet --disable-pip-version-check "$wheel[test]"
  # From another folder, so that the sources cannot stand in for the installed package.
  (cd "$target" && INFLUX_TSM_CLI=$target/$dir/influx-tsm "$target/wheel-venv/bin/python" -m pytest -q \
    -p no:cacheprovider "$OLDPWD/crates/python/tests" "$@")
fi
