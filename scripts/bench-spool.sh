#!/usr/bin/env bash
# What spooled requests cost: hookbridge with a [spool] while its broker (tansu) is
# paused, so that every request is appended to the spool, synced, and answered 202.
# One closed-loop run of the load harness's generator (benches/load/loadgen) per
# connection count; then the broker resumes and the script fails unless every 2xx has
# its record on Kafka (the forwarder drained the spool). Prints, per run: requests/s,
# p50 and p99 latency, fdatasyncs per second and appends per sync (from
# hookbridge_spool_syncs_total and hookbridge_spooled_total), and how fast the
# forwarder drained the spool once the broker was back. Not run in CI.
#
# Usage: scripts/bench-spool.sh
# Environment: LOAD_SECONDS (5) measured per run, LOAD_WARMUP (1), SPOOL_CONNS
# ("1 16 128"), LOAD_BODY (2k), SPOOL_DIR (a directory on the disk to measure; a
# fresh temporary one under it per run; default: the script's temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
seconds=${LOAD_SECONDS:-5}
warmup=${LOAD_WARMUP:-1}
read -r -a conns_list <<<"${SPOOL_CONNS:-1 16 128}"
body=${LOAD_BODY:-2k}
spool_root=${SPOOL_DIR:-$work}
event=milestone-status-change
topic=everbright.production.$event

echo "==> building (release)" >&2
cargo build --locked --quiet --release --bin hookbridge --example loadgen --example tail
bin=$(cargo_target_dir)/release

# metric NAME: its value on hookbridge's /metrics (0 when absent).
metric() {
  curl -fsS "http://$admin/metrics" | awk -v name="$1" '$1 == name {print $2; found=1} END {if (!found) print 0}'
}

echo "conns requests/s p50_ms p99_ms syncs/s appends/sync non-2xx forwarded/s"
for conns in "${conns_list[@]}"; do
  start_tansu
  local_config benches/load/hookbridge.toml
  spool=$(mktemp -d "$spool_root/spool.XXXXXX")
  printf '\n[spool]\ndir = "%s"\nmax_bytes = %d\n' "$spool" $((1 << 30)) >>"$work/hookbridge.toml"
  RUST_LOG=warn,hookbridge=info,hookbridge::ingress=warn start_hookbridge "$bin/hookbridge" json
  url="http://$listen/everbright/$event"
  key=(-H "X-Api-Key: load-api-key" -H "Content-Type: application/json")
  curl -fsS -o /dev/null "${key[@]}" --data '{"site":"5f0c7f1e-8d2a-4b7e-9c3d-2a1b0c9d8e7f","n":"warm"}' "$url"

  # Paused: the first record waits kafka.ack_timeout and is spooled; every later one
  # goes behind it at once.
  kill -STOP "$tansu_pid"
  status=$(curl -sS -o /dev/null -w '%{http_code}' "${key[@]}" \
    --data '{"site":"5f0c7f1e-8d2a-4b7e-9c3d-2a1b0c9d8e7f","n":"first"}' "$url")
  [ "$status" = 202 ] || { echo "error: the first request with the broker paused got $status" >&2; exit 1; }
  syncs_before=$(metric hookbridge_spool_syncs_total)
  spooled_before=$(metric hookbridge_spooled_total)
  line=$("$bin/examples/loadgen" --body "benches/load/milestone-$body.json" --conns "$conns" \
    --warmup "$warmup" --seconds "$seconds" --config "$work/hookbridge.toml" \
    http --credential load-header --event "$event" --url "$url")
  syncs=$(($(metric hookbridge_spool_syncs_total) - syncs_before))
  spooled=$(($(metric hookbridge_spooled_total) - spooled_before))
  ok_total=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["report"]["ok_total"])' "$line")

  kill -CONT "$tansu_pid"
  resumed=$(date +%s.%N)
  # Every 2xx (and the two before the run) has its record on the topic. The forwarder
  # keeps one record per site in flight, and the load bodies are all one site's.
  if ! "$bin/examples/tail" --brokers "127.0.0.1:$kafka_port" --topic "$topic" \
    --count $((ok_total + 2)) --quiet --timeout $((60 + ok_total / 100)) >/dev/null; then
    echo "error: $ok_total requests were answered 2xx, but not all their records reached Kafka" >&2
    exit 1
  fi
  drained=$(python3 -c 'import sys, time; print(time.time() - float(sys.argv[1]))' "$resumed")
  python3 - "$line" "$conns" "$syncs" "$spooled" "$((warmup + seconds))" "$drained" <<'EOF'
import json, sys
report = json.loads(sys.argv[1])["report"]
conns, syncs, spooled, elapsed = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
drained = float(sys.argv[6])
latency = report["latency_ms"]
non_2xx = sum(n for status, n in report["statuses"].items() if not status.startswith("2"))
print(f"{conns} {report['throughput']:.0f} {latency['p50']:.2f} {latency['p99']:.2f} "
      f"{syncs / elapsed:.0f} {spooled / max(syncs, 1):.1f} {non_2xx} "
      f"{report['ok_total'] / drained:.0f}")
EOF
  stop "$hookbridge_pid"
  stop "$tansu_pid"
  rm -rf "$spool"
done
