#!/usr/bin/env bash
# Lints a real /metrics scrape with `promtool check metrics`: starts tansu and
# hookbridge (examples/hookbridge.toml, librdkafka statistics every second), sends
# accepted, refused and dead-lettered webhooks, waits for the librdkafka series, and
# checks the scrape. promtool comes from Debian's prometheus package.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

apt_install promtool prometheus
cargo build --locked --quiet --bin hookbridge
bin="$(cargo_target_dir)/debug/hookbridge"

start_tansu
local_config examples/hookbridge.toml
sed -i 's|^"linger.ms" = 1 |"statistics.interval.ms" = 1000\n"linger.ms" = 1 |' "$work/hookbridge.toml"
start_hookbridge "$bin"

base="http://$listen/everbright"
"$bin" send --config "$work/hookbridge.toml" --credential engine-hmac --event milestone-status-change \
  --url "$base/milestone-status-change" tests/fixtures/json/milestone-status-change.json >/dev/null
curl -fsS -o /dev/null -X POST -H "Content-Type: application/json" "$base/site-archived" -d "{\"uuid\":\"13f4564a-cf0b-421f-ad72-2ba992fcfc11\"}"
curl -sS -o /dev/null -X POST -H "Content-Type: application/json" "$base/site-archived" -d "not json"
curl -sS -o /dev/null -X POST -H "X-Api-Key: wrong" "$base/proposal-action" -d "{}"
curl -sS -o /dev/null -X POST "$base/no-such-event" -d "{}"

scrape="$work/metrics.txt"
for _ in $(seq 1 50); do
  curl -fsS "http://$admin/metrics" >"$scrape"
  grep -q '^hookbridge_kafka_broker_up' "$scrape" && break
  sleep 0.2
done
for series in hookbridge_kafka_broker_up hookbridge_kafka_queue_messages \
    'hookbridge_deadletters_total{event="site-archived",reason="invalid-json"} 1' \
    'hookbridge_auth_failures_total{reason="bad-secret"} 1' \
    'hookbridge_http_requests_total{event="unknown",status="404"} 1'; do
  if ! grep -qF "$series" "$scrape"; then
    echo "error: the scrape lacks $series" >&2
    exit 1
  fi
done
promtool check metrics <"$scrape"
echo "promtool check metrics: $(grep -c '^# TYPE' "$scrape") metric families clean"
