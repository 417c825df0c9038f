#!/usr/bin/env bash
# End-to-end load test: wrk against a release build of hookbridge backed by a local
# tansu broker, reported as ratios to a baseline measured in the same run (machines
# here are shared and noisy, so absolute numbers mean little):
#
#   baseline  GET /livez on the admin listener: the same process and HTTP stack,
#             no authentication, no Kafka;
#   webhook   POST of the documented milestone sample (Python literals, ~3.3 KB)
#             with a header credential, published to Kafka and acked before the 200.
#
# Usage: scripts/load.sh [SECONDS] [CONNECTIONS]   (defaults: 10 s, 64 connections)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
seconds="${1:-10}"
connections="${2:-64}"

apt_install wrk wrk
cargo build --locked --quiet --release --bin hookbridge
bin="$(cargo_target_dir)/release/hookbridge"
start_tansu
local_config examples/hookbridge.toml
start_hookbridge "$bin"

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = io.open(os.getenv("BODY")):read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Api-Key"] = "example-api-key"
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %.1f %.3f %.3f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
LUA
cat >"$work/get.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status))
end
LUA

run() { # name url script -> "rps p50 p99 errors"
  BODY=tests/fixtures/json/milestone-status-change.json wrk -t2 -c"$connections" -d"${seconds}s" \
    --latency -s "$3" "$2" | awk '/^RESULT/ {print $2, $3, $4, $5}'
}
# Warm up the producer's connection and the topic.
"$bin" send --config "$work/hookbridge.toml" --credential engine-header --event qualification-update \
  --url "http://$listen/everbright/qualification-update" tests/fixtures/json/qualification-update.json >/dev/null

read -r base_rps base_p50 base_p99 base_err < <(run baseline "http://$admin/livez" "$work/get.lua")
read -r hook_rps hook_p50 hook_p99 hook_err < <(run webhook "http://$listen/everbright/qualification-update" "$work/post.lua")

printf '%-9s %12s %10s %10s %8s\n' "" "requests/s" "p50 ms" "p99 ms" "errors"
printf '%-9s %12s %10s %10s %8s\n' baseline "$base_rps" "$base_p50" "$base_p99" "$base_err"
printf '%-9s %12s %10s %10s %8s\n' webhook "$hook_rps" "$hook_p50" "$hook_p99" "$hook_err"
python3 -c "import sys; b,w=map(float,sys.argv[1:]); print(f'webhook throughput = {w/b:.3f} x baseline (each webhook is acked by Kafka before its 200)')" "$base_rps" "$hook_rps"
if [ "$hook_err" != "0" ]; then
  echo "error: $hook_err webhook requests failed" >&2
  exit 1
fi
