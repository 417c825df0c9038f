#!/usr/bin/env bash
# hookbridge's main job, end to end, on this machine: builds hookbridge, starts a local
# Kafka-protocol broker (tansu) and hookbridge with examples/hookbridge.toml, sends
# EverBright's documented milestone sample as a signed webhook (HMAC-SHA256, with
# `hookbridge send`), and prints the CloudEvent read back from Kafka by a consumer.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # url, what
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "error: $2 did not come up; log:" >&2
  cat "$work"/*.log >&2
  exit 1
}

echo "==> installing tools and building"
tansu=$(scripts/install-tools.sh)
cargo build --locked --quiet --bin hookbridge --example tail
bin=target/debug/hookbridge

kafka_port=$(free_port); listen_port=$(free_port); admin_port=$(free_port)
echo "==> starting tansu on 127.0.0.1:$kafka_port"
"$tansu" broker --listener-url "tcp://127.0.0.1:$kafka_port" \
  --advertised-listener-url "tcp://127.0.0.1:$kafka_port" \
  --storage-engine memory://tansu/ >"$work/tansu.log" 2>&1 &
pids+=($!)

config="$work/hookbridge.toml"
sed -e "s|^brokers = \"localhost:9092\"|brokers = \"127.0.0.1:$kafka_port\"|" \
    -e "s|^listen = \"0.0.0.0:8080\"|listen = \"127.0.0.1:$listen_port\"|" \
    -e "s|^admin_listen = \"0.0.0.0:9090\"|admin_listen = \"127.0.0.1:$admin_port\"|" \
    examples/hookbridge.toml >"$config"
"$bin" check-config --config "$config"

echo "==> starting hookbridge on 127.0.0.1:$listen_port (admin $admin_port)"
"$bin" --log-format text serve --config "$config" >"$work/hookbridge.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$admin_port/readyz" "hookbridge"

echo "==> sending the documented milestone sample, signed as credential engine-hmac"
"$bin" send --config "$config" --credential engine-hmac --event milestone-status-change \
  tests/fixtures/json/milestone-status-change.json

echo "==> the record on everbright.production.milestone-status-change, read by a Kafka consumer"
cargo run --locked --quiet --example tail -- --brokers "127.0.0.1:$kafka_port" \
  --topic everbright.production.milestone-status-change --count 1

echo "==> hookbridge's log line for it"
grep "webhook published" "$work/hookbridge.log" | tail -n 1
