# shellcheck shell=bash
# Shared by scripts/demo.sh and scripts/check-metrics.sh: a local tansu broker and a
# hookbridge process on loopback, cleaned up on exit.
# Source it from the repository root; it defines: work, free_port, wait_for,
# apt_install, cargo_target_dir, start_tansu, start_kafka, stop_kafka, local_config,
# start_hookbridge, stop.

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# stop PID: ends a process started here before the script's end (scripts/bench-load.sh
# runs a fresh broker and hookbridge per measurement) and forgets it.
stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local kept=() pid
  for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
  pids=("${kept[@]}")
}

# apt_install COMMAND PACKAGE: installs the Debian package when COMMAND is missing.
apt_install() {
  command -v "$1" >/dev/null && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  $sudo apt-get install -y --no-install-recommends "$2" >/dev/null
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# cargo_target_dir: where cargo puts build output (honours CARGO_TARGET_DIR and
# .cargo/config), for running the binaries it built.
cargo_target_dir() {
  cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# wait_for URL WHAT: polls URL until it answers 2xx, or prints the logs and fails
# (after 20 s, or START_SECONDS).
wait_for() {
  for _ in $(seq 1 $((${START_SECONDS:-20} * 5))); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "error: $2 did not come up; logs:" >&2
  cat "$work"/*.log >&2
  exit 1
}

# start_tansu [PORT]: installs and starts tansu on PORT (scripts/soak.sh restarts the
# broker where it was) or a free port; sets kafka_port and tansu_pid.
# tansu cannot report a port the system chose, so a port is picked first; when another
# process takes it before tansu binds, tansu exits without "ready", and another port
# is tried.
start_tansu() {
  local tansu pid attempt
  tansu=$(scripts/install-tools.sh)
  for attempt in 1 2 3 4 5; do
    kafka_port=${1:-$(free_port)}
    "$tansu" broker --listener-url "tcp://127.0.0.1:$kafka_port" \
      --advertised-listener-url "tcp://127.0.0.1:$kafka_port" \
      --storage-engine memory://tansu/ >"$work/tansu.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      if grep -q "ready in" "$work/tansu.log"; then
        pids+=("$pid")
        # shellcheck disable=SC2034 # for the scripts that source this one
        tansu_pid=$pid
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "tansu did not start on port $kafka_port (attempt $attempt of 5)" >&2
  done
  echo "error: tansu did not start; its last log:" >&2
  cat "$work/tansu.log" >&2
  exit 1
}

# start_kafka: a fresh one-node Apache Kafka (scripts/kafka.sh) in $work/kafka, its
# log on disk; sets kafka_port and kafka_pid (the JVM).
start_kafka() {
  rm -rf "$work/kafka"
  scripts/kafka.sh init "$work/kafka" >/dev/null
  scripts/kafka.sh start "$work/kafka" >"$work/kafka.log" 2>&1 || {
    cat "$work/kafka.log" >&2
    exit 1
  }
  kafka_port=$(sed -n 's/^NODE_1=//p' "$work/kafka/cluster.env")
  kafka_pid=$(cat "$work/kafka/node-1/pid")
  pids+=("$kafka_pid")
}

# stop_kafka: kills the node start_kafka started and removes its data.
stop_kafka() {
  scripts/kafka.sh kill "$work/kafka" 1
  local kept=() pid
  for pid in "${pids[@]}"; do [ "$pid" = "$kafka_pid" ] || kept+=("$pid"); done
  pids=("${kept[@]}")
  rm -rf "$work/kafka"
}

# local_config SOURCE: writes SOURCE to $work/hookbridge.toml with the local broker and
# both listeners on 127.0.0.1 port 0 (the system picks free ports, no race).
local_config() {
  sed -e "s|^brokers = \"localhost:9092\"|brokers = \"127.0.0.1:$kafka_port\"|" \
      -e "s|^listen = \"0.0.0.0:8080\"|listen = \"127.0.0.1:0\"|" \
      -e "s|^admin_listen = \"0.0.0.0:9090\"|admin_listen = \"127.0.0.1:0\"|" \
      "$1" >"$work/hookbridge.toml"
}

# start_hookbridge BINARY [LOG_FORMAT]: serves $work/hookbridge.toml logging to
# $work/hookbridge.log (text unless LOG_FORMAT says json; RUST_LOG sets the level),
# reads the bound addresses from its "hookbridge listening" log line into listen and
# admin (host:port), sets hookbridge_pid, and waits until it is ready (START_SECONDS
# for each, 20 by default).
start_hookbridge() {
  local pid line=""
  "$1" --log-format "${2:-text}" serve --config "$work/hookbridge.toml" >"$work/hookbridge.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  # shellcheck disable=SC2034 # for the scripts that source this one
  hookbridge_pid=$pid
  for _ in $(seq 1 $((${START_SECONDS:-20} * 10))); do
    line=$(grep -m 1 "hookbridge listening" "$work/hookbridge.log" || true)
    [ -n "$line" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  # The log line: `… hookbridge listening listen=127.0.0.1:41234 admin=127.0.0.1:39871 …`
  # in text, `{…"listen":"127.0.0.1:41234","admin":"127.0.0.1:39871"…}` in JSON.
  listen=$(sed -n 's/.*[ "]listen"\{0,1\}[=:]"\{0,1\}\([0-9.:]*\).*/\1/p' <<<"$line")
  admin=$(sed -n 's/.*[ "]admin"\{0,1\}[=:]"\{0,1\}\([0-9.:]*\).*/\1/p' <<<"$line")
  if [ -z "$listen" ] || [ -z "$admin" ]; then
    echo "error: hookbridge did not report its listeners; its log:" >&2
    cat "$work/hookbridge.log" >&2
    exit 1
  fi
  wait_for "http://$admin/readyz" "hookbridge"
}
