#!/usr/bin/env bash
# The topic contract of the example config, docs/contract (what `hookbridge contract
# --config examples/hookbridge.toml --out docs/contract` writes; the README links it).
#
#   scripts/contract.sh           check it: it is what hookbridge generates today, the
#                                 AsyncAPI document passes the official parser (every
#                                 $ref resolved), and each schema is valid JSON Schema
#                                 2020-12. (Records read back from Kafka are validated
#                                 against it by `cargo test --test it contract`.)
#   scripts/contract.sh --write   generate it again (after changing the example config,
#                                 src/contract/, or the version).
set -euo pipefail
cd "$(dirname "$0")/.."
check_jsonschema=$(scripts/install-contract-tools.sh)

generated=$(mktemp -d)
trap 'rm -rf "$generated"' EXIT
cargo run --quiet --locked -- contract --config examples/hookbridge.toml --out "$generated" >/dev/null
if [ "${1:-}" = "--write" ]; then
  rm -rf docs/contract
  mkdir -p docs
  cp -r "$generated" docs/contract
  echo "docs/contract written"
  exit 0
fi

if ! diff -r "$generated" docs/contract >/dev/null; then
  diff -r "$generated" docs/contract | head -40 || true
  echo "error: docs/contract is stale: run scripts/contract.sh --write" >&2
  exit 1
fi
NODE_PATH=.tools/contract/node_modules node scripts/contract/validate-asyncapi.cjs docs/contract/asyncapi.yaml
"$check_jsonschema" --check-metaschema docs/contract/schemas/*.json
echo "docs/contract: current and valid"
