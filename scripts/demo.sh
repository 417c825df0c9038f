#!/usr/bin/env bash
# hookbridge's main job, end to end, on this machine: installs a local Kafka-protocol
# broker (tansu), builds hookbridge, starts both with examples/hookbridge.toml, sends
# EverBright's documented milestone sample as a signed webhook (HMAC-SHA256, with
# `hookbridge send`), and prints the CloudEvent read back from Kafka by a consumer.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

echo "==> installing tools into .tools/ (tansu, a Kafka-protocol broker)"
scripts/install-tools.sh >/dev/null

echo "==> building hookbridge and a Kafka consumer (the first build compiles librdkafka and OpenSSL: several minutes)"
# Two builds, not one: built together, the example's dev-dependencies would change the
# features hookbridge is compiled with, and README's `cargo run` would rebuild it.
cargo build --locked --bin hookbridge
cargo build --locked --example tail
bin="$(cargo_target_dir)/debug/hookbridge"

start_tansu
echo "==> tansu listening on 127.0.0.1:$kafka_port"
local_config examples/hookbridge.toml
"$bin" check-config --config "$work/hookbridge.toml"
start_hookbridge "$bin"
echo "==> hookbridge listening on $listen (admin $admin)"

echo "==> sending the documented milestone sample, signed as credential engine-hmac"
"$bin" send --config "$work/hookbridge.toml" --credential engine-hmac --event milestone-status-change \
  --url "http://$listen/everbright/milestone-status-change" \
  tests/fixtures/json/milestone-status-change.json

echo "==> the record on everbright.production.milestone-status-change, read by a Kafka consumer"
cargo run --locked --quiet --example tail -- --brokers "127.0.0.1:$kafka_port" \
  --topic everbright.production.milestone-status-change --count 1

echo "==> hookbridge's log line for it"
grep "webhook published" "$work/hookbridge.log" | tail -n 1
