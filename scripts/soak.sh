#!/usr/bin/env bash
# Soak: steady open-loop load at SOAK_SHARE % of the closed-loop maximum for SOAK_MINUTES,
# against a release hookbridge (shipped defaults: info-level JSON request logs to a file)
# and a local tansu broker. Halfway through, the broker is killed (SIGKILL) and started
# again on the same port with its state lost. Every SOAK_STEP seconds it samples
# hookbridge's resident memory and open file descriptors, and the generator's p50/p99
# latency, 2xx and non-2xx counts; at the end every 2xx answered after the restart must
# have its record on Kafka (consumed and counted). Writes $SOAK_OUT/soak.csv and soak.png.
# Not in CI.
#
# Usage: scripts/soak.sh
# Environment: SOAK_MINUTES (30), SOAK_SHARE (50), SOAK_STEP (10), SOAK_CONNS (64),
# SOAK_RATE (requests/s; default: SOAK_SHARE % of a 10 s closed-loop run), SOAK_OUT
# (benches).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
minutes=${SOAK_MINUTES:-30}
share=${SOAK_SHARE:-50}
step=${SOAK_STEP:-10}
conns=${SOAK_CONNS:-64}
out=${SOAK_OUT:-benches}
event=milestone-status-change
topic=everbright.production.$event
plot=.tools/plot

echo "==> building (release)" >&2
cargo build --locked --quiet --release --bin hookbridge --example loadgen --example tail
bin=$(cargo_target_dir)/release
if [ ! -d "$plot/matplotlib" ]; then
  echo "installing matplotlib into $plot" >&2
  python3 -m pip install --quiet --disable-pip-version-check --target "$plot" matplotlib==3.11.2 >&2
fi
start_tansu
local_config benches/load/hookbridge.toml
start_hookbridge "$bin/hookbridge" json

# load SECONDS [RATE]: one generator run; prints its JSON line.
load() {
  local args=(--config "$work/hookbridge.toml" --body benches/load/milestone-2k.json
    --conns "$conns" --warmup 0 --seconds "$1")
  [ $# -lt 2 ] || args+=(--rate "$2")
  "$bin/examples/loadgen" "${args[@]}" http --credential load-header --event "$event" \
    --url "http://$listen/everbright/$event"
}
field() { python3 -c 'import json, sys; r = json.loads(sys.argv[1])["report"]; print(eval(sys.argv[2]))' "$1" "$2"; }

rate=${SOAK_RATE:-}
if [ -z "$rate" ]; then
  max=$(field "$(load 10)" 'round(r["throughput"])')
  rate=$((max * share / 100))
  echo "closed-loop maximum $max/s; soaking at $share%: $rate/s" >&2
fi

csv=$work/soak.csv
echo "seconds,phase,rss_mib,fds,p50_ms,p99_ms,ok_per_s,non_2xx,no_answer" >"$csv"
total=$((minutes * 60))
half=$((total / 2))
started=$(date +%s)
phase=before
restarted_at=""
ok_after=0
while :; do
  elapsed=$(($(date +%s) - started))
  [ "$elapsed" -lt "$total" ] || break
  if [ "$phase" = before ] && [ "$elapsed" -ge "$half" ]; then
    echo "$elapsed s: killing the broker (SIGKILL) and starting it again, empty, on port $kafka_port" >&2
    kill -KILL "$tansu_pid"
    wait "$tansu_pid" 2>/dev/null || true
    sleep 2
    start_tansu "$kafka_port"
    phase=after
    restarted_at=$elapsed
  fi
  line=$(load "$step" "$rate")
  rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$hookbridge_pid/status")
  fds=$(find "/proc/$hookbridge_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
  row=$(field "$line" '",".join(str(x) for x in [r["latency_ms"]["p50"], r["latency_ms"]["p99"], round(r["throughput"]), r["failed"], r["errors"]])')
  echo "$elapsed,$phase,$rss,$fds,$row" >>"$csv"
  echo "$elapsed s ($phase): rss ${rss} MiB, $fds fds, p50,p99,ok/s,non-2xx,no-answer = $row" >&2
  [ "$phase" = before ] || ok_after=$((ok_after + $(field "$line" 'r["ok_total"]')))
  : >"$work/hookbridge.log" # the request log: a collector would ship and rotate it
done

if [ -n "$restarted_at" ]; then
  echo "==> counting the $ok_after records answered 2xx after the restart" >&2
  if ! "$bin/examples/tail" --brokers "127.0.0.1:$kafka_port" --topic "$topic" \
    --count "$ok_after" --quiet --timeout $((60 + ok_after / 5000)) >/dev/null; then
    echo "error: $ok_after requests were answered 2xx after the restart, but not all their records are on Kafka" >&2
    exit 1
  fi
fi
mkdir -p "$out"
cp "$csv" "$out/soak.csv"
PYTHONPATH=$plot python3 benches/soak/plot.py "$out/soak.csv" "$out/soak.png" \
  --title "hookbridge soak: $minutes min at $rate req/s (2 KB, header credential), broker SIGKILL + empty restart at ${restarted_at:-never} s"
echo "wrote $out/soak.csv and $out/soak.png" >&2
