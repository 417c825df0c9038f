# shellcheck shell=bash
# Shared by scripts/demo.sh and scripts/check-metrics.sh: a local tansu broker and a
# hookbridge process on free loopback ports, cleaned up on exit.
# Source it from the repository root; it defines: work, free_port, wait_for,
# apt_install, start_tansu, start_hookbridge, local_config.

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# apt_install COMMAND PACKAGE: installs the Debian package when COMMAND is missing.
apt_install() {
  command -v "$1" >/dev/null && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  $sudo apt-get install -y --no-install-recommends "$2" >/dev/null
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_for URL WHAT: polls URL until it answers 2xx, or prints the logs and fails.
wait_for() {
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "error: $2 did not come up; logs:" >&2
  cat "$work"/*.log >&2
  exit 1
}

# start_tansu: installs and starts tansu; sets kafka_port.
start_tansu() {
  local tansu
  tansu=$(scripts/install-tools.sh)
  kafka_port=$(free_port)
  "$tansu" broker --listener-url "tcp://127.0.0.1:$kafka_port" \
    --advertised-listener-url "tcp://127.0.0.1:$kafka_port" \
    --storage-engine memory://tansu/ >"$work/tansu.log" 2>&1 &
  pids+=($!)
}

# local_config SOURCE: writes SOURCE with the broker and free listener ports to
# $work/hookbridge.toml; sets listen_port and admin_port.
local_config() {
  listen_port=$(free_port)
  admin_port=$(free_port)
  sed -e "s|^brokers = \"localhost:9092\"|brokers = \"127.0.0.1:$kafka_port\"|" \
      -e "s|^listen = \"0.0.0.0:8080\"|listen = \"127.0.0.1:$listen_port\"|" \
      -e "s|^admin_listen = \"0.0.0.0:9090\"|admin_listen = \"127.0.0.1:$admin_port\"|" \
      "$1" >"$work/hookbridge.toml"
}

# start_hookbridge BINARY: serves $work/hookbridge.toml and waits until it is ready.
start_hookbridge() {
  "$1" --log-format text serve --config "$work/hookbridge.toml" >"$work/hookbridge.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$admin_port/readyz" "hookbridge"
}
