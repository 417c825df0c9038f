#!/usr/bin/env bash
# Runs a SASL/SCRAM-protected (optionally TLS) Kafka-protocol endpoint on a free
# loopback port, for hookbridge's secure-Kafka tests (tests/it/sasl.rs, through
# support::Broker::start_sasl) and for manual checks.
#
#   KAFKA_SASL_PASSWORD=secret tests/it/support/sasl-broker.sh [options]
#
# What runs: tansu 0.6.0 (plaintext, memory storage, loopback-only internal port) and
# sasl-front.py (beside this script) in front of it, which performs the broker side of
# the Kafka SASL exchange (SaslHandshake + SaslAuthenticate, SCRAM-SHA-256 and
# SCRAM-SHA-512, RFC 5802) and, with --tls, terminates TLS. tansu advertises the front's port, so
# every client connection (bootstrap and per-broker) goes through the front.
#
# Why a front: tansu 0.6.0's storage engines in the PyPI build (memory://, s3://, both
# "dynostore") store no SCRAM credentials: `tansu user create` answers OK and the
# broker then rejects every login as unknown-user. Its --cert/--key flags are
# mutually exclusive and the TLS acceptor is never used.
#
# Options:
#   --tansu PATH    tansu binary (default: $TANSU_BIN; scripts/install-tools.sh prints it)
#   --tls DIR       serve TLS: generate a throw-away CA and a 127.0.0.1/localhost server
#                   certificate in DIR (security.protocol SASL_SSL)
#   --watch-stdin   exit (and stop everything) when standard input closes: lets a test
#                   harness tie the broker's life to its own
# Environment: KAFKA_SASL_PASSWORD (required), the SCRAM password of user hookbridge,
# for SCRAM-SHA-256 and SCRAM-SHA-512.
#
# Prints on stdout, once everything answers, one KEY=value line each (values may hold
# spaces: split on the first '='):
#   PORT=<front port>  PID=<tansu pid> <front pid>  CA=<ca.crt with --tls, else empty>
# then keeps running until killed (SIGTERM/SIGINT stop both processes) or until one of
# them dies, which is reported on stderr with exit status 1. Any start-up failure
# exits non-zero with the reason and the relevant log (kept in a temporary folder).
#
# Start-up time: 0.4-1.2 s once tools are installed (measured on the 2-core dev machine,
# idle vs. loaded): tansu is ready in milliseconds; the rest is three Python start-ups
# (~0.15 s each: port choice, the front, the end-to-end probe) and, with --tls, two EC
# P-256 keys. If another process grabs one of the chosen ports first, the script
# retries with new ones (5 tries).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

tansu="${TANSU_BIN:-}"
tls_dir=""
watch_stdin=0

die() {
  echo "sasl-broker: error: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --tansu) tansu="${2:?--tansu needs a path}"; shift 2 ;;
    --tls) tls_dir="${2:?--tls needs a folder}"; shift 2 ;;
    --watch-stdin) watch_stdin=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

command -v python3 >/dev/null || die "python3 is required"
[ -f "$here/sasl-front.py" ] || die "missing $here/sasl-front.py"
[ -n "${KAFKA_SASL_PASSWORD:-}" ] || die "set KAFKA_SASL_PASSWORD (the SCRAM password of user hookbridge)"
[ -n "$tansu" ] || die "pass --tansu or set TANSU_BIN (scripts/install-tools.sh prints the path)"
[ -x "$tansu" ] || die "tansu not found or not executable: $tansu"
"$tansu" --version >/dev/null 2>&1 || die "tansu at $tansu does not run"

log_dir=$(mktemp -d "${TMPDIR:-/tmp}/sasl-broker.XXXXXX")

# --- processes and cleanup ----------------------------------------------------------
pids=()
# shellcheck disable=SC2317,SC2329 # invoked through the EXIT trap (SC2317 before 0.10)
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    kill -CONT "$pid" 2>/dev/null || true # a paused (SIGSTOP) tansu must still die
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  # The log folder is removed after a normal stop and kept after a failure.
  case "$status" in
    0 | 130 | 143) rm -rf "$log_dir" ;;
    *) echo "sasl-broker: logs kept in $log_dir" >&2 ;;
  esac
  exit "$status"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

started=$(date +%s%N)
ms_since_start() { echo $((($(date +%s%N) - started) / 1000000)); }

# --- TLS material ------------------------------------------------------------------
front_args=()
ca=""
protocol=SASL_PLAINTEXT
if [ -n "$tls_dir" ]; then
  protocol=SASL_SSL
  command -v openssl >/dev/null || die "openssl is required for --tls"
  mkdir -p "$tls_dir"
  (
    cd "$tls_dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -subj "/CN=hookbridge test CA" -keyout ca.key -out ca.crt
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
      -keyout server.key -out server.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out server.crt
  ) >"$log_dir/openssl.log" 2>&1 || {
    cat "$log_dir/openssl.log" >&2
    die "certificate generation failed"
  }
  ca="$tls_dir/ca.crt"
  front_args+=(--tls-cert "$tls_dir/server.crt" --tls-key "$tls_dir/server.key")
fi

# --- tansu and the front ---------------------------------------------------------
stop_attempt() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}

# One attempt on two ports that were free a moment ago. Returns 2 when another process
# took one of them in between (tests run in parallel), so the caller retries; any other
# failure is fatal.
start_pair() {
  local deadline status
  "$tansu" broker \
    --listener-url "tcp://127.0.0.1:$up_port" \
    --advertised-listener-url "tcp://127.0.0.1:$front_port" \
    --storage-engine memory://tansu/ >"$log_dir/tansu.log" 2>&1 &
  tansu_pid=$!
  pids+=("$tansu_pid")
  deadline=$(($(date +%s) + 15))
  until (exec 3<>"/dev/tcp/127.0.0.1/$up_port") 2>/dev/null; do
    # tansu 0.6.0 logs a failed bind and then hangs instead of exiting.
    if grep -q 'AddrInUse' "$log_dir/tansu.log" 2>/dev/null; then
      stop_attempt
      return 2
    fi
    if ! kill -0 "$tansu_pid" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
      cat "$log_dir/tansu.log" >&2 || true
      die "tansu did not listen on 127.0.0.1:$up_port within 15 s (log above)"
    fi
    sleep 0.02
  done

  # The front's stderr (authentication outcomes) goes to ours; stdout carries READY.
  python3 "$here/sasl-front.py" --listen-port "$front_port" --upstream-port "$up_port" \
    "${front_args[@]}" >"$log_dir/front.out" &
  front_pid=$!
  pids+=("$front_pid")
  deadline=$(($(date +%s) + 15))
  until grep -q '^READY ' "$log_dir/front.out" 2>/dev/null; do
    if ! kill -0 "$front_pid" 2>/dev/null; then
      status=0
      wait "$front_pid" || status=$?
      stop_attempt
      [ "$status" = 3 ] && return 2 # its port was taken
      die "sasl-front exited during start-up (status $status, its stderr is above)"
    fi
    [ "$(date +%s)" -lt "$deadline" ] || die "sasl-front did not become ready within 15 s"
    sleep 0.02
  done
}

attempt=0
while :; do
  attempt=$((attempt + 1))
  read -r front_port up_port < <(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])
')
  status=0
  start_pair || status=$?
  [ "$status" = 0 ] && break
  [ "$attempt" -lt 5 ] || die "free ports were taken before use $attempt times in a row"
  echo "sasl-broker: port $front_port or $up_port was taken meanwhile: retrying" >&2
done

# End-to-end probe: an ApiVersions request through the front (TLS included) must come
# back from tansu with SaslHandshake (17) and SaslAuthenticate (36) listed.
python3 - "$front_port" "$ca" <<'PY' || die "protocol probe through the front failed"
import socket, ssl, struct, sys
port, ca = int(sys.argv[1]), sys.argv[2]
sock = socket.create_connection(("127.0.0.1", port), 5)
if ca:
    sock = ssl.create_default_context(cafile=ca).wrap_socket(sock, server_hostname="localhost")
client = b"sasl-broker-probe"
request = struct.pack(">hhih", 18, 0, 1, len(client)) + client
sock.sendall(struct.pack(">i", len(request)) + request)
def exactly(n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise SystemExit("connection closed by the front")
        data += chunk
    return data
(size,) = struct.unpack(">i", exactly(4))
body = exactly(size)
corr, err, count = struct.unpack_from(">ihi", body)
keys = {struct.unpack_from(">h", body, 10 + 6 * i)[0] for i in range(count)}
if corr != 1 or err != 0 or not {17, 36} <= keys:
    raise SystemExit(f"unexpected ApiVersions answer: corr={corr} err={err} keys={sorted(keys)}")
PY

echo "sasl-broker: $protocol endpoint ready in $(ms_since_start) ms (logs: $log_dir)" >&2
printf '%s\n' "PORT=$front_port" "PID=$tansu_pid $front_pid" "CA=$ca"

if [ "$watch_stdin" = 1 ]; then
  # Background jobs read /dev/null unless told otherwise: hand cat our real stdin.
  exec {stdin_fd}<&0
  cat <&"$stdin_fd" >/dev/null &
  pids+=("$!")
fi

# Run until killed, or until any of our processes ends (which is then an error).
set +e
wait -n "${pids[@]}"
set -e
for pid in "${pids[@]}"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    case "$pid" in
      "$tansu_pid") echo "sasl-broker: tansu (pid $pid) exited; log:" >&2; tail -n 20 "$log_dir/tansu.log" >&2 || true; exit 1 ;;
      "$front_pid") die "sasl-front (pid $pid) exited" ;;
      *) echo "sasl-broker: standard input closed: stopping" >&2; exit 0 ;;
    esac
  fi
done
die "a child process ended unexpectedly"
