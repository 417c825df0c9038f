#!/usr/bin/env bash
# The whole test suite, from a fresh clone of this repository on a Debian machine
# with the Rust toolchain: installs what it needs into .tools/, checks the generated
# fixtures, lints, runs the unit, handler and integration tests (against real brokers:
# Apache Kafka from Maven Central's jars where the behaviour depends on the broker,
# tansu where a broker in milliseconds is enough) and the doc tests, checks the
# instruction budget (scripts/instructions.sh) and the topic contract of the example
# config (docs/contract), tries the consumer examples of the README
# (scripts/consumers.sh), then validates the deployment artifacts (Helm chart,
# manifests, alerts, dashboard, Dockerfile, scripts) offline.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests call, installed only when missing: curl (the scripts),
# Java 17 and Maven (Apache Kafka runs from its published jars, see scripts/kafka.sh),
# npm (the AsyncAPI parser, see scripts/install-contract-tools.sh).
missing=()
for pair in curl:curl java:openjdk-17-jre-headless mvn:maven npm:npm; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
TANSU_BIN=$(scripts/install-tools.sh)
export TANSU_BIN
echo "==> contract validators (check-jsonschema, @asyncapi/parser)"
CHECK_JSONSCHEMA=$(scripts/install-contract-tools.sh)
export CHECK_JSONSCHEMA
echo "==> Apache Kafka (scripts/kafka.sh install: Maven Central, once)"
scripts/kafka.sh install >/dev/null

echo "==> generated fixtures (XML and form variants of the JSON ones) are current"
python3 scripts/gen-fixture-variants.py --check
echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "==> cargo test"
cargo test --locked --workspace --all-targets
cargo test --locked --workspace --doc
echo "==> the example config's topic contract (docs/contract) is current and valid"
scripts/contract.sh
echo "==> the README's consumer section: both consumer examples against Apache Kafka"
scripts/consumers.sh
echo "==> fuzzing the body converters (bounded)"
FUZZ_SECONDS="${FUZZ_SECONDS:-30}" scripts/fuzz.sh
echo "==> the Dockerfile's release build"
scripts/build-release.sh
echo "==> the instruction budget (callgrind, end to end with a real broker)"
scripts/instructions.sh
echo "==> deployment artifacts"
scripts/validate-deploy.sh
echo "==> promtool check metrics on a real scrape"
scripts/check-metrics.sh
echo "==> all tests passed"
