#!/usr/bin/env bash
# The instruction budget: how many instructions hookbridge spends per webhook, end to
# end through the real server and a real broker, counted by callgrind over all of its
# threads (tokio, librdkafka). The count does not move with the machine's load (two
# runs of one build differ by well under 1 %), so unlike a timing it can fail CI.
#
# For each scheme: hookbridge (release build, shipped defaults, info-level JSON log
# line per request written to a file) starts under callgrind with instrumentation off;
# a warm-up of WARMUP requests; instrumentation on, counters zeroed; COUNT requests (each a distinct event,
# 2 KB JSON, from benches/instructions/client.rs over 4 keep-alive connections); dump.
# The dump's total divided by COUNT is the figure. The script fails when the `basic`
# figure exceeds benches/instructions/budget (see docs/performance.md).
#
# `scripts/instructions.sh stages` instead counts each stage of the request path
# (benches/stages.rs under callgrind: instructions per call of each `stage_*`
# function), so that a change of the end-to-end figure points at its stage.
#
# Usage: scripts/instructions.sh [SCHEME...]   (default: basic; also header, hmac, sigv4)
#        scripts/instructions.sh stages
# Environment: INSTRUCTIONS_COUNT (1000), INSTRUCTIONS_WARMUP (300), INSTRUCTIONS_BODY
# (benches/load/milestone-2k.json), INSTRUCTIONS_OUT (a directory to keep each scheme's
# callgrind dump and annotated profile in; default: discarded).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
count=${INSTRUCTIONS_COUNT:-1000}
warmup=${INSTRUCTIONS_WARMUP:-300}
body=${INSTRUCTIONS_BODY:-benches/load/milestone-2k.json}
keep=${INSTRUCTIONS_OUT:-}
schemes=("$@")
[ ${#schemes[@]} -gt 0 ] || schemes=(basic)
event=milestone-status-change
budget=$(grep -v '^#' benches/instructions/budget | tr -d '[:space:]')

apt_install valgrind valgrind

if [ "${schemes[0]}" = stages ]; then
  echo "==> building benches/stages.rs (release)" >&2
  stages=$(cargo build --locked --release --bench stages --message-format=json 2>/dev/null \
    | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "stages" and m.get("executable"):
        print(m["executable"])')
  valgrind --tool=callgrind --callgrind-out-file="$work/stages.out" "$stages" >/dev/null 2>&1
  calls=$(sed -n 's/^const CALLS: u32 = \([0-9_]*\);/\1/p' benches/stages.rs | tr -d _)
  echo "instructions per call, over $calls calls (benches/stages.rs under callgrind):"
  callgrind_annotate --inclusive=yes --threshold=100 "$work/stages.out" 2>/dev/null \
    | sed -n 's/^ *\([0-9,]*\) .*stages::stage_\([a-z0-9_]*\) .*/\2 \1/p' \
    | while read -r stage total; do
      printf '  %-24s %8d\n' "$stage" $(( ${total//,/} / calls ))
    done
  exit 0
fi
echo "==> building (release)" >&2
cargo build --locked --quiet --release --bin hookbridge --example instructions-client
bin=$(cargo_target_dir)/release

# The "binary" start_hookbridge runs: hookbridge under callgrind, instrumentation off until
# the warm-up is over (exec keeps the PID, which callgrind_control addresses).
cat >"$work/under-callgrind" <<SH
#!/bin/sh
exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$work/callgrind.out "$bin/hookbridge" "\$@"
SH
chmod +x "$work/under-callgrind"

# send N TAG: N webhooks, each a distinct event, all answered 2xx or the script fails.
send() {
  "$bin/examples/instructions-client" --config "$work/hookbridge.toml" \
    --url "http://$listen/everbright/$event" --credential "budget-$scheme" \
    --event "$event" --body "$body" --count "$1" --run "$2"
}

failed=0
for scheme in "${schemes[@]}"; do
  start_tansu
  local_config benches/instructions/hookbridge.toml
  rm -f "$work"/callgrind.out*
  # Under callgrind, on a busy machine, starting and probing the broker is slow.
  START_SECONDS=180 start_hookbridge "$work/under-callgrind" json
  send "$warmup" "warmup-$$"
  callgrind_control -i on "$hookbridge_pid" >/dev/null 2>&1
  callgrind_control -z "$hookbridge_pid" >/dev/null 2>&1
  send "$count" "measured-$$"
  callgrind_control -d "$hookbridge_pid" >/dev/null 2>&1
  stop "$hookbridge_pid"
  stop "$tansu_pid"
  # The dump callgrind_control asked for (not the one written when hookbridge exits).
  dump=$(grep -l '^desc: Trigger: dump' "$work"/callgrind.out* | head -n 1)
  total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$dump")
  per_request=$((total / count))
  echo "$scheme: $per_request instructions per request ($total over $count requests)"
  if [ -n "$keep" ]; then
    mkdir -p "$keep"
    cp "$dump" "$keep/callgrind.$scheme.out"
    callgrind_annotate --inclusive=yes "$dump" >"$keep/inclusive.$scheme.txt" 2>/dev/null || true
    callgrind_annotate "$dump" >"$keep/self.$scheme.txt" 2>/dev/null || true
  fi
  if [ "$scheme" = basic ] && [ "$per_request" -gt "$budget" ]; then
    echo "error: $per_request instructions per request is over the budget of $budget" \
      "(benches/instructions/budget); where they go:" >&2
    callgrind_annotate --inclusive=yes "$dump" 2>/dev/null | head -n 60 >&2 || true
    failed=1
  fi
done
[ "$failed" -eq 0 ] || exit 1
echo "within the budget of $budget instructions per request (basic)"
