#!/usr/bin/env bash
# Installs the validators of the topic contract into the project-local .tools/contract
# (idempotent: already-installed tools are kept). Prints check-jsonschema's path.
#
#   check-jsonschema (PyPI): JSON Schema validation on the Python reference
#                            implementation, formats checked; validates records read
#                            back from Kafka (tests/it/contract.rs, tests/it/redrive.rs)
#                            and the schemas against the 2020-12 metaschema;
#   @asyncapi/parser (npm):  the official AsyncAPI parser, which validates
#                            docs/contract/asyncapi.yaml (scripts/contract.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools/contract"
mkdir -p "$tools"

if [ ! -x "$tools/venv/bin/check-jsonschema" ]; then
  echo "installing check-jsonschema into .tools/contract/venv" >&2
  python3 -m venv "$tools/venv" >&2
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check check-jsonschema==0.39.0 >&2
fi
if [ ! -f "$tools/node_modules/@asyncapi/parser/package.json" ]; then
  command -v npm >/dev/null || { echo "error: npm (node 20) is needed for @asyncapi/parser" >&2; exit 1; }
  echo "installing @asyncapi/parser into .tools/contract" >&2
  npm install --prefix "$tools" --no-audit --no-fund --silent --no-save @asyncapi/parser@3.6.3 >&2
fi
"$tools/venv/bin/check-jsonschema" --version >/dev/null
echo "$tools/venv/bin/check-jsonschema"
