#!/usr/bin/env bash
# The README's test command: every test of the workspace (`cargo test --workspace`), with
# the real readers the reader tests need. Without INFLUX_TSM_PYTHON it makes a virtualenv
# with DuckDB, pyarrow, Polars and DataFusion (the readers) and moto's S3 server with
# boto3 and azure-storage-blob (the object-storage tests), pip, from PyPI, under the target
# folder, once, and points INFLUX_TSM_PYTHON at it; without INFLUX_TSM_AZURITE it installs
# Azurite (the Azure Storage emulator, npm) there too. Extra arguments go to `cargo test`.
# Then the Python package's tests (tests/python.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${INFLUX_TSM_PYTHON:-}" ]; then
  target=${CARGO_TARGET_DIR:-target}
  case $target in /*) ;; *) target=$PWD/$target;; esac
  venv=$target/test-venv
  if ! "$venv/bin/python" -c "import duckdb, pyarrow, polars, datafusion, moto.server, boto3, flask, azure.storage.blob" 2>/dev/null; then
    echo "tests/run.sh: installing duckdb, pyarrow, polars, datafusion, moto[server], boto3, azure-storage-blob into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
      duckdb pyarrow polars datafusion "moto[server]" boto3 azure-storage-blob
  fi
  export INFLUX_TSM_PYTHON=$venv/bin/python
fi
"$INFLUX_TSM_PYTHON" -c "import duckdb, pyarrow, polars, datafusion, moto.server, boto3, flask, azure.storage.blob" \
  || { echo "tests/run.sh: $INFLUX_TSM_PYTHON lacks one of duckdb, pyarrow, polars, datafusion, moto[server], boto3, azure-storage-blob" >&2; exit 1; }
if [ -z "${INFLUX_TSM_AZURITE:-}" ]; then
  target=${CARGO_TARGET_DIR:-target}
  case $target in /*) ;; *) target=$PWD/$target;; esac
  npm_dir=$target/test-npm
  if [ ! -x "$npm_dir/node_modules/.bin/azurite-blob" ]; then
    echo "tests/run.sh: installing Azurite 3 (npm) into $npm_dir" >&2
    mkdir -p "$npm_dir"
    npm install --prefix "$npm_dir" --silent --no-audit --no-fund azurite@3
  fi
  export INFLUX_TSM_AZURITE=$npm_dir/node_modules/.bin/azurite-blob
fi
[ -x "$INFLUX_TSM_AZURITE" ] || { echo "tests/run.sh: no Azurite at $INFLUX_TSM_AZURITE" >&2; exit 1; }
cargo test --workspace --locked "$@"
# The Python package (crates/python): built with maturin into the same virtualenv, pytest
# (WHEEL=1: also a wheel into a clean virtualenv, the same tests).
bash tests/python.sh
