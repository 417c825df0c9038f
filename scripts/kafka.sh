#!/usr/bin/env bash
# Apache Kafka on this machine, from its published jars: one node or an N-node KRaft
# cluster on loopback (every node broker + controller, static voters), with optional
# SASL/SCRAM-SHA-512 and TLS listeners. Used by the integration tests
# (tests/it/support/kafka.rs), the load harness and by hand.
#
#   scripts/kafka.sh install                 fetch Apache Kafka's jars into .tools/ (once);
#                                            prints the folder of the class path
#   scripts/kafka.sh version                 prints the pinned Apache Kafka version
#   scripts/kafka.sh run [init options]      a throw-away cluster in the foreground:
#                                            prints its settings, Ctrl-C stops and removes it
#   scripts/kafka.sh init DIR [options]      write and format a cluster in DIR (must not exist)
#     --nodes N         nodes (default 1); replication factor min(N, 3)
#     --min-insync N    min.insync.replicas (default: 2 with three or more nodes, else 1)
#     --partitions N    partitions of auto-created topics (default 3)
#     --port P          the first node's PLAINTEXT port (default: a free one; the other
#                       ports are chosen free)
#     --scram USER      a SCRAM-SHA-512 user; its password comes from KAFKA_SCRAM_PASSWORD
#                       (never on the command line); adds a SASL listener per node
#     --tls             adds TLS to that listener (SASL_SSL), or a TLS listener (SSL)
#                       without --scram; a throw-away CA signs the nodes' certificates
#     --tls-expired     the same, with node certificates that expired yesterday
#   scripts/kafka.sh exec DIR K              run node K in the foreground (exec: for supervisors)
#   scripts/kafka.sh start DIR [K ...]       start nodes (default: all) in the background,
#                                            wait until each has started
#   scripts/kafka.sh stop DIR [K ...]        SIGTERM (a clean shutdown) and wait
#   scripts/kafka.sh kill DIR K ...          SIGKILL: the node dies with what it had not flushed
#   scripts/kafka.sh pause|resume DIR K ...  SIGSTOP / SIGCONT
#
# init prints KEY=value lines (also kept in DIR/cluster.env):
#   NODES=N  BOOTSTRAP=127.0.0.1:P1,…  SECURE=127.0.0.1:S1,… (the SASL/TLS listeners)
#   PROTOCOL=SASL_SSL|SASL_PLAINTEXT|SSL|  CA=DIR/tls/ca.crt  OTHER_CA=DIR/tls/other-ca.crt
#   NODE_K=PLAINTEXT port of node K
# The PLAINTEXT listener is always there (inter-broker traffic and the tests' own
# consumers); hookbridge is pointed at SECURE when testing SASL/TLS.
#
# Environment: KAFKA_VERSION (pinned default below), KAFKA_HEAP (default 384m: three
# nodes fit beside a build on two cores), KAFKA_JVM_OPTS (extra JVM options).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
version="${KAFKA_VERSION:-4.1.2}"
home="$root/.tools/kafka-$version"
libs="$home/libs"

die() {
  echo "kafka.sh: error: $*" >&2
  exit 1
}

# install: the broker, its tools and a log4j binding for SLF4J, resolved by Maven from
# Maven Central (a pom with two dependencies; Maven caches in ~/.m2).
install() {
  [ -f "$home/.complete" ] && return 0
  command -v java >/dev/null || die "java (17 or newer) is needed: apt-get install openjdk-17-jre-headless"
  command -v mvn >/dev/null || die "maven is needed: apt-get install maven"
  echo "kafka.sh: fetching Apache Kafka $version from Maven Central into $home" >&2
  rm -rf "$home"
  mkdir -p "$home"
  cat >"$home/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>hookbridge.tools</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$version</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>2.25.3</version>
    </dependency>
  </dependencies>
</project>
EOF
  mvn -q -B -f "$home/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime >&2 \
    || die "maven could not fetch org.apache.kafka:kafka_2.13:$version"
  cat >"$home/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.quiet.name = org.apache.kafka.common.config
logger.quiet.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
  touch "$home/.complete"
}

# java_run CLASS ARGS…: a Kafka class with the pinned class path.
java_run() {
  local class=$1
  shift
  # shellcheck disable=SC2086 # KAFKA_JVM_OPTS is a list of options
  exec java -Xms64m -Xmx"${KAFKA_HEAP:-384m}" -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
    ${KAFKA_JVM_OPTS:-} -Dlog4j2.configurationFile="$home/log4j2.properties" \
    -cp "$libs/*" "$class" "$@"
}

# free_ports N: N distinct ports that were free a moment ago (all held at once while
# chosen, so they differ).
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
EOF
}

# tls DIR EXPIRED: a CA (DIR/ca.crt), an unrelated CA (DIR/other-ca.crt) and a PKCS#12
# keystore per node signed by the first, for 127.0.0.1 and localhost; with EXPIRED=1
# the node certificates expired yesterday. keytool (part of the JDK) does it all, so
# nothing beyond Java is needed.
tls() {
  local dir=$1 expired=$2 nodes=$3 pass=$4 k validity=()
  mkdir -p "$dir"
  [ "$expired" = 1 ] && validity=(-startdate -3d -validity 2) || validity=(-validity 30)
  for ca in ca other-ca; do
    keytool -genkeypair -keystore "$dir/$ca.p12" -storetype PKCS12 -storepass "$pass" \
      -alias ca -dname "CN=hookbridge test $ca" -keyalg EC -groupname secp256r1 \
      -ext bc:c -validity 30 -noprompt 2>/dev/null
    keytool -exportcert -rfc -keystore "$dir/$ca.p12" -storepass "$pass" -alias ca \
      -file "$dir/$ca.crt" 2>/dev/null
  done
  for k in $(seq 1 "$nodes"); do
    local store="$dir/node-$k.p12"
    keytool -genkeypair -keystore "$store" -storetype PKCS12 -storepass "$pass" \
      -alias node -dname "CN=localhost" -keyalg EC -groupname secp256r1 -noprompt 2>/dev/null
    keytool -certreq -keystore "$store" -storepass "$pass" -alias node -file "$dir/node-$k.csr" 2>/dev/null
    keytool -gencert -keystore "$dir/ca.p12" -storepass "$pass" -alias ca \
      -infile "$dir/node-$k.csr" -outfile "$dir/node-$k.crt" -rfc "${validity[@]}" \
      -ext "san=ip:127.0.0.1,dns:localhost" -ext "eku=serverAuth,clientAuth" 2>/dev/null
    keytool -importcert -keystore "$store" -storepass "$pass" -alias ca -file "$dir/ca.crt" -noprompt 2>/dev/null
    keytool -importcert -keystore "$store" -storepass "$pass" -alias node -file "$dir/node-$k.crt" -noprompt 2>/dev/null
    rm -f "$dir/node-$k.csr"
  done
  rm -f "$dir/ca.p12" "$dir/other-ca.p12"
}

init() {
  local dir=${1:?init needs a folder}
  shift
  local nodes=1 min_insync="" partitions=3 first_port="" scram_user="" tls=0 expired=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --nodes) nodes=${2:?}; shift 2 ;;
      --min-insync) min_insync=${2:?}; shift 2 ;;
      --partitions) partitions=${2:?}; shift 2 ;;
      --port) first_port=${2:?}; shift 2 ;;
      --scram) scram_user=${2:?}; shift 2 ;;
      --tls) tls=1; shift ;;
      --tls-expired) tls=1; expired=1; shift ;;
      *) die "unknown init option: $1" ;;
    esac
  done
  [ -e "$dir" ] && die "$dir exists: init makes a new cluster"
  if [ -n "$scram_user" ] && [ -z "${KAFKA_SCRAM_PASSWORD:-}" ]; then
    die "--scram needs KAFKA_SCRAM_PASSWORD"
  fi
  install
  local rf=$((nodes < 3 ? nodes : 3))
  [ -n "$min_insync" ] || min_insync=$((rf >= 3 ? 2 : 1))
  local protocol=""
  if [ -n "$scram_user" ]; then
    protocol=$([ "$tls" = 1 ] && echo SASL_SSL || echo SASL_PLAINTEXT)
  elif [ "$tls" = 1 ]; then
    protocol=SSL
  fi
  # Three ports per node: PLAINTEXT, CONTROLLER, the secure listener.
  local ports
  read -r -a ports <<<"$(free_ports $((nodes * 3)))"
  [ -n "$first_port" ] && ports[0]=$first_port
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local store_pass
  store_pass=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
  [ "$tls" = 1 ] && tls "$dir/tls" "$expired" "$nodes" "$store_pass"
  local voters="" bootstrap="" secure="" k
  for k in $(seq 1 "$nodes"); do
    voters+="${voters:+,}$k@127.0.0.1:${ports[$(((k - 1) * 3 + 1))]}"
    bootstrap+="${bootstrap:+,}127.0.0.1:${ports[$(((k - 1) * 3))]}"
    secure+="${secure:+,}127.0.0.1:${ports[$(((k - 1) * 3 + 2))]}"
  done
  local cluster_id
  # Not starting with "-" (1 in 64 would): the storage tool would read it as an option.
  cluster_id=$(python3 -c 'import base64, uuid
while (i := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"): pass
print(i)')
  for k in $(seq 1 "$nodes"); do
    local node="$dir/node-$k" plain=${ports[$(((k - 1) * 3))]} controller=${ports[$(((k - 1) * 3 + 1))]}
    local sport=${ports[$(((k - 1) * 3 + 2))]}
    mkdir -p "$node"
    {
      echo "process.roles=broker,controller"
      echo "node.id=$k"
      echo "controller.quorum.voters=$voters"
      echo "controller.listener.names=CONTROLLER"
      echo "inter.broker.listener.name=PLAINTEXT"
      if [ -n "$protocol" ]; then
        echo "listeners=PLAINTEXT://127.0.0.1:$plain,CONTROLLER://127.0.0.1:$controller,$protocol://127.0.0.1:$sport"
        echo "advertised.listeners=PLAINTEXT://127.0.0.1:$plain,$protocol://127.0.0.1:$sport"
        echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,$protocol:$protocol"
      else
        echo "listeners=PLAINTEXT://127.0.0.1:$plain,CONTROLLER://127.0.0.1:$controller"
        echo "advertised.listeners=PLAINTEXT://127.0.0.1:$plain"
        echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
      fi
      if [ -n "$scram_user" ]; then
        local lower
        lower=$(tr '[:upper:]' '[:lower:]' <<<"$protocol")
        echo "sasl.enabled.mechanisms=SCRAM-SHA-512"
        echo "listener.name.$lower.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
      fi
      if [ "$tls" = 1 ]; then
        echo "ssl.keystore.type=PKCS12"
        echo "ssl.keystore.location=$dir/tls/node-$k.p12"
        echo "ssl.keystore.password=$store_pass"
        echo "ssl.key.password=$store_pass"
      fi
      echo "log.dirs=$node/data"
      echo "num.partitions=$partitions"
      echo "default.replication.factor=$rf"
      echo "min.insync.replicas=$min_insync"
      echo "offsets.topic.replication.factor=$rf"
      echo "offsets.topic.num.partitions=3"
      echo "transaction.state.log.replication.factor=$rf"
      echo "transaction.state.log.min.isr=$((rf < min_insync ? rf : min_insync))"
      echo "transaction.state.log.num.partitions=3"
      echo "share.coordinator.state.topic.replication.factor=$rf"
      echo "share.coordinator.state.topic.min.isr=$((rf < min_insync ? rf : min_insync))"
      echo "group.initial.rebalance.delay.ms=0"
      # Few threads: two cores are shared by the nodes, hookbridge and the tests.
      echo "num.network.threads=2"
      echo "num.io.threads=2"
      echo "num.recovery.threads.per.data.dir=1"
      echo "background.threads=2"
      echo "log.cleaner.threads=1"
    } >"$node/server.properties"
    local scram=()
    [ -n "$scram_user" ] && scram=(--add-scram "SCRAM-SHA-512=[name=$scram_user,password=$KAFKA_SCRAM_PASSWORD]")
    (java_run kafka.tools.StorageTool format -t "$cluster_id" -c "$node/server.properties" \
      "${scram[@]}") >"$node/format.log" 2>&1 \
      || { cat "$node/format.log" >&2; die "formatting node $k failed"; }
  done
  {
    echo "NODES=$nodes"
    echo "BOOTSTRAP=$bootstrap"
    echo "SECURE=$([ -n "$protocol" ] && echo "$secure")"
    echo "PROTOCOL=$protocol"
    echo "CA=$([ "$tls" = 1 ] && echo "$dir/tls/ca.crt")"
    echo "OTHER_CA=$([ "$tls" = 1 ] && echo "$dir/tls/other-ca.crt")"
    for k in $(seq 1 "$nodes"); do echo "NODE_$k=${ports[$(((k - 1) * 3))]}"; done
  } | tee "$dir/cluster.env"
}

# nodes_of DIR [K…]: the node numbers named, or all of DIR's.
nodes_of() {
  local dir=$1
  shift
  if [ $# -gt 0 ]; then echo "$@"; else seq 1 "$(sed -n 's/^NODES=//p' "$dir/cluster.env")"; fi
}

# started DIR K: waits until node K logged that it started (it exits on a failure).
started() {
  local log="$1/node-$2/server.log" pid
  pid=$(cat "$1/node-$2/pid")
  for _ in $(seq 1 600); do
    grep -q "Kafka Server started" "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { tail -30 "$log" >&2; die "node $2 exited while starting"; }
    sleep 0.1
  done
  tail -30 "$log" >&2
  die "node $2 did not start within 60 s"
}

start() {
  local dir=${1:?start needs the cluster folder} k
  shift
  for k in $(nodes_of "$dir" "$@"); do
    # A restart appends to the log: "started" must be the new one.
    [ -f "$dir/node-$k/server.log" ] && mv "$dir/node-$k/server.log" "$dir/node-$k/server.log.$(date +%s%N)"
    "$0" exec "$dir" "$k" >"$dir/node-$k/server.log" 2>&1 &
    echo $! >"$dir/node-$k/pid"
  done
  for k in $(nodes_of "$dir" "$@"); do started "$dir" "$k"; done
}

signal_nodes() {
  local sig=$1 dir=${2:?needs the cluster folder} k pid
  shift 2
  for k in $(nodes_of "$dir" "$@"); do
    pid=$(cat "$dir/node-$k/pid" 2>/dev/null) || continue
    kill "-$sig" "$pid" 2>/dev/null || true
    if [ "$sig" = TERM ] || [ "$sig" = KILL ]; then
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
      rm -f "$dir/node-$k/pid"
    fi
  done
}

run() {
  local dir
  dir=$(mktemp -d)/cluster
  trap 'signal_nodes KILL "$dir"; rm -rf "$(dirname "$dir")"' EXIT
  init "$dir" "$@"
  start "$dir"
  echo "kafka.sh: running in $dir; Ctrl-C stops it and removes its data" >&2
  while sleep 3600; do :; done
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  install) install; echo "$libs" ;;
  version) echo "$version" ;;
  init) init "$@" ;;
  exec)
    dir=${1:?exec needs the cluster folder}
    k=${2:?exec needs a node number}
    [ -f "$home/.complete" ] || die "not installed: run $0 install"
    java_run kafka.Kafka "$dir/node-$k/server.properties"
    ;;
  start) start "$@" ;;
  stop) signal_nodes TERM "$@" ;;
  kill) signal_nodes KILL "$@" ;;
  pause) signal_nodes STOP "$@" ;;
  resume) signal_nodes CONT "$@" ;;
  run) run "$@" ;;
  -h | --help | "") sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
  *) die "unknown command: $command (see --help)" ;;
esac
