#!/usr/bin/env bash
# A three-node Apache Cassandra cluster for the tests that need one, beside
# the bed's single node: nodes 1 to 3 on the loopback addresses 127.0.0.11 to
# 127.0.0.13 (CQL 9042, storage 7000, JMX 7211 to 7213), 512 MiB of heap each,
# hinted handoff on, node 1 the seed, started one after another.
#   tests/bed/cassandra-cluster.sh start          all three (those not running)
#   tests/bed/cassandra-cluster.sh stop           all three
#   tests/bed/cassandra-cluster.sh kill N         node N, at once (SIGKILL)
#   tests/bed/cassandra-cluster.sh start-node N   node N again, with its data
#   tests/bed/cassandra-cluster.sh replace N      node N's data gone for good:
#                                                 a new node takes its place
#   tests/bed/cassandra-cluster.sh hosts          the CQL addresses, comma-separated
#   tests/bed/cassandra-cluster.sh nodetool N ... nodetool on node N
#   tests/bed/cassandra-cluster.sh wipe           stop and delete every node's data
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

ROOT=$VMMON_BED/cassandra-cluster
NODES=(1 2 3)

addr() { echo "127.0.0.1$1"; }

node() {
	local n=$1
	shift
	VMMON_CASSANDRA_DIR=$ROOT/node$n VMMON_CASSANDRA_ADDR=$(addr "$n") \
		VMMON_CASSANDRA_JMX_PORT=$((7210 + n)) VMMON_CASSANDRA_PIDFILE=$ROOT/node$n.pid \
		VMMON_CASSANDRA_CLUSTER=vmmon-test-cluster VMMON_CASSANDRA_SEEDS="$(addr 1):7000" \
		VMMON_CASSANDRA_HINTS=true VMMON_CASSANDRA_PRIVATE=1 VMMON_CASSANDRA_RING_DELAY_MS=5000 \
		VMMON_CASSANDRA_HEAP=${VMMON_CASSANDRA_CLUSTER_HEAP:-512M} \
		"$BED_SRC/cassandra.sh" "$@"
}

check_node() {
	case ${1:-} in 1 | 2 | 3) ;; *) die "node: 1, 2 or 3, not '${1:-}'" ;; esac
}

# nodetool N ARGS runs Cassandra's NodeTool (from the same jars) on node N.
nodetool() {
	local n=$1
	shift
	local java=${JAVA_HOME:+$JAVA_HOME/bin/}java
	"$java" -Xmx128m -cp "$VMMON_BED/cassandra/lib/*" -Dlogback.configurationFile="$BED_SRC/cassandra/logback.xml" \
		-Dcassandra.logdir="$VMMON_BED/log" \
		--add-exports java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
		--add-exports java.base/jdk.internal.misc=ALL-UNNAMED --add-exports java.base/jdk.internal.ref=ALL-UNNAMED \
		--add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED \
		org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p $((7210 + n)) "$@"
}

start_all() {
	local n
	for n in "${NODES[@]}"; do
		node "$n" start
	done
	# Every node up and normal, seen from node 1.
	wait_for "three Cassandra nodes up" 180 bash -c \
		"[ \"\$(\"$0\" nodetool 1 status 2>/dev/null | grep -c '^UN ')\" -eq 3 ]"
}

case ${1:-start} in
start) start_all ;;
stop) for n in "${NODES[@]}"; do node "$n" stop; done ;;
kill)
	check_node "${2:-}"
	if pid_alive "$ROOT/node$2.pid"; then
		kill -9 "$(cat "$ROOT/node$2.pid")"
	fi
	;;
start-node) check_node "${2:-}" && node "$2" start ;;
replace)
	check_node "${2:-}"
	[ "$2" != 1 ] || die "node 1 is the seed: replace node 2 or 3"
	node "$2" stop
	rm -rf "${ROOT:?}/node$2"
	# The replacement streams every row from the others before it serves:
	# on a small machine, minutes.
	VMMON_CASSANDRA_READY_SECS=${VMMON_CASSANDRA_READY_SECS:-600} VMMON_CASSANDRA_REPLACE=$(addr "$2") node "$2" start
	;;
hosts) echo "$(addr 1),$(addr 2),$(addr 3)" ;;
nodetool)
	check_node "${2:-}"
	n=$2
	shift 2
	nodetool "$n" "$@"
	;;
wipe)
	for n in "${NODES[@]}"; do node "$n" stop; done
	rm -rf "${ROOT:?}"
	;;
*) die "usage: $0 start|stop|kill N|start-node N|replace N|hosts|nodetool N ...|wipe" ;;
esac
