#!/usr/bin/env bash
# The README's "For consumers" section, tried end to end on this machine: Apache Kafka
# (scripts/kafka.sh), hookbridge with examples/hookbridge.toml, a webhook published on
# arrival and one that became a dead letter until `hookbridge redrive` republished it
# under a fixed config — twice, the second time with --from-beginning, so that the
# topic holds a copy with the same id. Both consumer examples, examples/consume.rs and
# examples/consume.py (CloudEvents SDK), must handle each event once and skip the copy.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

echo "==> Apache Kafka, one node"
cluster="$work/kafka"
scripts/kafka.sh init "$cluster" >"$work/kafka.env"
trap 'scripts/kafka.sh kill "$cluster" >/dev/null 2>&1 || true; cleanup' EXIT
scripts/kafka.sh start "$cluster"
bootstrap=$(sed -n 's/^BOOTSTRAP=//p' "$work/kafka.env")
kafka_port=${bootstrap##*:}

echo "==> building hookbridge and the Rust consumer example"
cargo build --locked --quiet --bin hookbridge --example consume
bin="$(cargo_target_dir)/debug/hookbridge"
local_config examples/hookbridge.toml
start_hookbridge "$bin"

echo "==> a webhook published on arrival, and one whose site sits where the config does not look"
"$bin" send --config "$work/hookbridge.toml" --credential engine-hmac --event milestone-status-change \
  --url "http://$listen/everbright/milestone-status-change" tests/fixtures/json/milestone-status-change.json
printf '{"job":{"site":"d628bbcd-9aa4-4bbd-9e2c-771b7a90fdca"},"status":"PAID"}' >"$work/invoice.json"
"$bin" send --config "$work/hookbridge.toml" --credential engine-token --event invoice-status-change \
  --url "http://$listen/everbright/invoice-status-change" "$work/invoice.json"

echo "==> the config fixed, redriven twice (the second time from the beginning: a copy)"
sed 's|^# "milestone-status-change" = \["/site"\]|"invoice-status-change" = ["/site", "/job/site"]|' \
  "$work/hookbridge.toml" >"$work/fixed.toml"
grep -q '^"invoice-status-change"' "$work/fixed.toml"
"$bin" redrive --config "$work/fixed.toml"
"$bin" redrive --config "$work/fixed.toml" --from-beginning

topics=(--topic everbright.production.milestone-status-change --topic everbright.production.invoice-status-change)
check() {
  local name=$1 output=$2
  echo "$output"
  [ "$(grep -c '^event everbright.milestone-status-change site=157802b4-99aa-4437-b250-934df337766a status=APPROVED' <<<"$output")" = 1 ] \
    && [ "$(grep -c '^event everbright.invoice-status-change site=d628bbcd-9aa4-4bbd-9e2c-771b7a90fdca status=PAID .* redriven=' <<<"$output")" = 1 ] \
    && [ "$(grep -c '^duplicate /everbright/production/engine-token .*: skipped' <<<"$output")" = 1 ] \
    || { echo "error: the $name consumer did not handle each event once and skip the copy" >&2; exit 1; }
}

echo "==> examples/consume.rs"
check Rust "$(cargo run --locked --quiet --example consume -- --brokers "$bootstrap" --group rust-service \
  "${topics[@]}" --idle-exit 8)"

echo "==> examples/consume.py (CloudEvents SDK)"
venv=.tools/consumers
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import cloudevents, confluent_kafka' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check cloudevents==2.2.0 confluent-kafka==2.16.2
fi
check Python "$("$venv/bin/python" examples/consume.py --brokers "$bootstrap" --group python-service \
  "${topics[@]}" --idle-exit 8)"
echo "==> both consumers handled each event once"
