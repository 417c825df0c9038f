#!/usr/bin/env bash
# The load harness: hookbridge against its two ceilings on this machine, in one run,
# with the same bodies and the same generator (benches/load/loadgen), not in CI.
#
#   plain        a hyper server that reads the body and answers 200: the HTTP ceiling;
#   producer     a bare rdkafka producer with hookbridge's settings: the Kafka ceiling;
#   header       hookbridge, header credential, shipped defaults (info-level JSON
#                logs, one line per request, written to a file);
#   producer-kafka, header-kafka
#                the same two on Apache Kafka (scripts/kafka.sh, one node, its log on
#                disk) instead of tansu: the broker users run;
#   header-warn  the same with logs at warn: what per-request logging costs;
#   hmac         hookbridge, HMAC-SHA256 (Standard Webhooks: own id and timestamp);
#   sigv4        hookbridge, AWS SigV4.
#
# Each setup runs closed loop (the maximum), then open loop at LOAD_RATES percent of
# that maximum, every run on a fresh broker (tansu's memory storage slows as it fills;
# Apache Kafka is made anew, so no run reads another's log) and a fresh hookbridge. After every Kafka run the topic is consumed and counted: the
# script fails unless every 2xx has its record (and, for hookbridge, none was a
# replay). Writes $LOAD_OUT/RESULTS.md, load.png and load-runs.jsonl (the raw runs).
#
# Usage: scripts/bench-load.sh        (15-20 minutes with the defaults)
# Environment: LOAD_SECONDS (8) measured per run, LOAD_WARMUP (2), LOAD_CONNS (128),
# LOAD_RATES ("50 80 100"), LOAD_BODIES ("2k 10k"), LOAD_SETUPS (all eight, in the
# order above; plain and the producers first, as the ratios need them), LOAD_OUT
# (benches).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
seconds=${LOAD_SECONDS:-8}
warmup=${LOAD_WARMUP:-2}
conns=${LOAD_CONNS:-128}
read -r -a rates <<<"${LOAD_RATES:-50 80 100}"
read -r -a bodies <<<"${LOAD_BODIES:-2k 10k}"
read -r -a setups <<<"${LOAD_SETUPS:-plain producer producer-kafka header header-kafka header-warn hmac sigv4}"
out=${LOAD_OUT:-benches}
event=milestone-status-change
topic=everbright.production.$event # the config's default topic_template
plot=.tools/plot

echo "==> building (release)" >&2
cargo build --locked --quiet --release --bin hookbridge \
  --example loadgen --example plain-server --example tail
bin=$(cargo_target_dir)/release
tansu=$(scripts/install-tools.sh)
case " ${setups[*]} " in *-kafka\ *) scripts/kafka.sh install >/dev/null ;; esac
if [ ! -d "$plot/matplotlib" ]; then
  echo "installing matplotlib into $plot" >&2
  python3 -m pip install --quiet --disable-pip-version-check --target "$plot" matplotlib==3.11.2 >&2
fi
runs=$work/runs.jsonl

# start_plain: the ceiling server on a free port; sets plain_pid and listen.
start_plain() {
  : >"$work/plain.log"
  "$bin/examples/plain-server" >"$work/plain.log" 2>&1 &
  plain_pid=$!
  pids+=("$plain_pid")
  for _ in $(seq 1 100); do
    listen=$(sed -n 's/^listening //p' "$work/plain.log")
    [ -n "$listen" ] && return 0
    sleep 0.1
  done
  echo "error: the plain server did not start" >&2
  exit 1
}

# check_kafka OK_TOTAL: every 2xx of the run has its record on the topic.
check_kafka() {
  if [ "$1" -eq 0 ]; then
    echo "error: not one request succeeded; last logs:" >&2
    tail -n 5 "$work"/*.log >&2
    exit 1
  fi
  if ! "$bin/examples/tail" --brokers "127.0.0.1:$kafka_port" --topic "$topic" \
    --count "$1" --quiet --timeout $((60 + $1 / 5000)) >/dev/null; then
    echo "error: $1 requests were answered 2xx, but not all their records are on Kafka" >&2
    exit 1
  fi
}

# check_no_replays: no request may have been answered as a copy of an earlier event
# (every body carries its own sequence number), or the run measured the dedup cache.
check_no_replays() {
  local copies
  copies=$(curl -fsS "http://$admin/metrics" | awk '/^hookbridge_deduplicated_total/ {n += $2} END {print n + 0}')
  if [ "$copies" != "0" ]; then
    echo "error: $copies requests were answered as copies of an earlier event" >&2
    exit 1
  fi
}

# start_broker SETUP: a fresh broker for SETUP, Apache Kafka for the -kafka setups and
# tansu for the rest; sets kafka_port, broker_pid and broker.
start_broker() {
  case $1 in
    *-kafka) start_kafka; broker=kafka; broker_pid=$kafka_pid ;;
    *) start_tansu; broker=tansu; broker_pid=$tansu_pid ;;
  esac
}

stop_broker() {
  if [ "$broker" = kafka ]; then stop_kafka; else stop "$tansu_pid"; fi
}

# measure SETUP BODY [RATE]: one run on fresh processes; appends its JSON line to
# $runs and sets throughput (whole requests per second). Not run in a subshell, so
# that what it starts is always known to the cleanup.
measure() {
  local setup=$1 body=$2 config=benches/load/hookbridge.toml line ok_total
  local args=(--body "benches/load/milestone-$body.json" --conns "$conns"
    --warmup "$warmup" --seconds "$seconds" --tag "setup=$setup" --tag "body=$body")
  [ $# -lt 3 ] || args+=(--rate "$3")
  case $setup in
    plain)
      start_plain
      args+=(--watch "server=$plain_pid" --config "$config" http --credential load-header) ;;
    producer | producer-kafka)
      start_broker "$setup"
      local_config "$config"
      args+=(--watch "broker=$broker_pid" --config "$work/hookbridge.toml" kafka --topic "$topic") ;;
    header | header-kafka | header-warn | hmac | sigv4)
      start_broker "$setup"
      local_config "$config"
      local level=info credential=load-${setup%-*}
      # warn, but for the "hookbridge listening" line start_hookbridge reads.
      [ "$setup" != header-warn ] || level=warn,hookbridge=info,hookbridge::ingress=warn
      RUST_LOG=$level start_hookbridge "$bin/hookbridge" json
      args+=(--watch "hookbridge=$hookbridge_pid" --watch "broker=$broker_pid"
        --config "$work/hookbridge.toml" http --credential "$credential") ;;
    *) echo "error: unknown setup $setup" >&2; exit 2 ;;
  esac
  [ "${setup%-kafka}" = producer ] || args+=(--event "$event" --url "http://$listen/everbright/$event")
  line=$("$bin/examples/loadgen" "${args[@]}")
  ok_total=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["report"]["ok_total"])' "$line")
  case $setup in
    plain) stop "$plain_pid" ;;
    producer*) check_kafka "$ok_total"; stop_broker ;;
    *) check_kafka "$ok_total"; check_no_replays; stop "$hookbridge_pid"; stop_broker ;;
  esac
  for log in "$work"/*.log; do : >"$log"; done # the JSON request logs grow large
  echo "$line" >>"$runs"
  throughput=$(python3 -c 'import json, sys; print(round(json.loads(sys.argv[1])["report"]["throughput"]))' "$line")
}

for body in "${bodies[@]}"; do
  for setup in "${setups[@]}"; do
    measure "$setup" "$body"
    max=$throughput
    echo "$body $setup: closed loop, $conns connections: $max/s" >&2
    for pct in "${rates[@]}"; do
      rate=$((max * pct / 100))
      measure "$setup" "$body" "$rate"
      echo "$body $setup: open loop at $pct% ($rate/s): $throughput/s" >&2
    done
  done
done

mkdir -p "$out"
cp "$runs" "$out/load-runs.jsonl"
machine=$(
  lscpu | sed -n 's/^Model name: *//p' | head -n 1
  echo "$(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GB, Linux $(uname -r)"
  rustc --version
  echo "$("$tansu" --version 2>/dev/null | head -n 1) (memory storage)"
  echo "Apache Kafka $(scripts/kafka.sh version) (one node, KRaft, log on disk)"
)
PYTHONPATH=$plot python3 benches/load/report.py "$out/load-runs.jsonl" \
  --machine "$machine" --settings "$seconds s measured after $warmup s warm-up, $conns connections" \
  --markdown "$out/RESULTS.md" --png "$out/load.png"
echo "wrote $out/RESULTS.md and $out/load.png" >&2
