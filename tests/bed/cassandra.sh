#!/usr/bin/env bash
# Starts (or stops) a single-node Apache Cassandra for the tests, on the machine's
# JDK, from the jars tests/bed/install.sh resolved with Maven.
#   tests/bed/cassandra.sh start|stop|status|wipe
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

# The bed's node by default; tests/bed/cassandra-cluster.sh runs the nodes of
# a cluster through the same script, each with its own VMMON_CASSANDRA_DIR,
# _ADDR (a loopback address of its own), _JMX_PORT and _PIDFILE, the
# cluster's _CLUSTER name and _SEEDS, hinted handoff on (_HINTS=true),
# _REPLACE=<address> to take a dead node's place, _RING_DELAY_MS long enough
# for gossip between nodes, and _PRIVATE=1 to leave the bed's environment
# file alone.
LIB=$VMMON_BED/cassandra/lib
DIR=${VMMON_CASSANDRA_DIR:-$VMMON_BED/cassandra}
ADDR=${VMMON_CASSANDRA_ADDR:-127.0.0.1}
PORT=${VMMON_CASSANDRA_PORT:-9042}
STORAGE_PORT=${VMMON_CASSANDRA_STORAGE_PORT:-7000}
JMX_PORT=${VMMON_CASSANDRA_JMX_PORT:-7199}
CLUSTER=${VMMON_CASSANDRA_CLUSTER:-vmmon-test-bed}
SEEDS=${VMMON_CASSANDRA_SEEDS:-$ADDR:$STORAGE_PORT}
HINTS=${VMMON_CASSANDRA_HINTS:-false}
PIDFILE=${VMMON_CASSANDRA_PIDFILE:-$VMMON_BED/run/cassandra.pid}
HEAP=${VMMON_CASSANDRA_HEAP:-1G}
OUT=$VMMON_BED/log/cassandra${VMMON_CASSANDRA_PRIVATE:+-$ADDR}.out

cql_ready() { port_open "$ADDR" "$PORT"; }

publish_env() {
	[ -n "${VMMON_CASSANDRA_PRIVATE:-}" ] || env_set VMMON_CASSANDRA_HOSTS "$ADDR:$PORT"
}

start() {
	if pid_alive "$PIDFILE" && cql_ready; then
		log "cassandra already running on $ADDR:$PORT"
		publish_env
		return 0
	fi
	[ -f "$LIB/.complete" ] || "$BED_SRC/install.sh" cassandra
	mkdir -p "$DIR"/{data,commitlog,saved_caches,hints,cdc_raw,logs,conf} "$(dirname "$PIDFILE")"
	sed -e "s#@DIR@#$DIR#g" -e "s#@PORT@#$PORT#g" -e "s#@STORAGE_PORT@#$STORAGE_PORT#g" \
		-e "s#@ADDR@#$ADDR#g" -e "s#@CLUSTER@#$CLUSTER#g" -e "s#@SEEDS@#$SEEDS#g" -e "s#@HINTS@#$HINTS#g" \
		"$BED_SRC/cassandra/cassandra.yaml.in" >"$DIR/conf/cassandra.yaml"
	# The module options Cassandra 5.0 needs on JDK 17 (its conf/jvm17-server.options).
	local jvm=(
		-Xms"$HEAP" -Xmx"$HEAP" -Xss512k -XX:+UseG1GC -XX:+HeapDumpOnOutOfMemoryError
		-XX:+UseThreadPriorities -XX:+AlwaysPreTouch
		-Djava.net.preferIPv4Stack=true -Djdk.attach.allowAttachSelf=true
		-Dcassandra.config="file://$DIR/conf/cassandra.yaml"
		-Dcassandra.storagedir="$DIR" -Dcassandra.logdir="$DIR/logs"
		-Dlogback.configurationFile="$BED_SRC/cassandra/logback.xml"
		-Dcassandra.jmx.local.port="$JMX_PORT" -Dcassandra-foreground=yes
		-Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms="${VMMON_CASSANDRA_RING_DELAY_MS:-100}"
		-Dcassandra.superuser_setup_delay_ms=0 -Dcassandra.native.epoll.enabled=true
		--add-exports java.base/jdk.internal.misc=ALL-UNNAMED
		--add-exports java.base/jdk.internal.ref=ALL-UNNAMED
		--add-exports java.base/sun.nio.ch=ALL-UNNAMED
		--add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
		--add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
		--add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
		--add-exports java.sql/java.sql=ALL-UNNAMED
		--add-exports java.base/java.lang.ref=ALL-UNNAMED
		--add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
		--add-opens java.base/java.lang.module=ALL-UNNAMED
		--add-opens java.base/jdk.internal.loader=ALL-UNNAMED
		--add-opens java.base/jdk.internal.ref=ALL-UNNAMED
		--add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
		--add-opens java.base/jdk.internal.math=ALL-UNNAMED
		--add-opens java.base/jdk.internal.module=ALL-UNNAMED
		--add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
		--add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
		--add-opens java.base/sun.nio.ch=ALL-UNNAMED
		--add-opens java.base/java.io=ALL-UNNAMED
		--add-opens java.base/java.nio=ALL-UNNAMED
		--add-opens java.base/java.util.concurrent=ALL-UNNAMED
		--add-opens java.base/java.util=ALL-UNNAMED
		--add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED
		--add-opens java.base/java.lang=ALL-UNNAMED
		--add-opens java.base/java.math=ALL-UNNAMED
		--add-opens java.base/java.lang.reflect=ALL-UNNAMED
		--add-opens java.base/java.net=ALL-UNNAMED
	)
	[ -z "${VMMON_CASSANDRA_REPLACE:-}" ] || jvm+=(-Dcassandra.replace_address_first_boot="$VMMON_CASSANDRA_REPLACE")
	local java=${JAVA_HOME:+$JAVA_HOME/bin/}java
	log "starting cassandra on $ADDR:$PORT (heap $HEAP)"
	local t0
	t0=$(now_ms)
	# setsid: the daemon outlives this script and ignores the caller's job control.
	setsid "$java" "${jvm[@]}" -cp "$LIB/*" org.apache.cassandra.service.CassandraDaemon \
		>"$OUT" 2>&1 </dev/null &
	echo $! >"$PIDFILE"
	local wait=${VMMON_CASSANDRA_READY_SECS:-180}
	local deadline=$(($(date +%s) + wait))
	until cql_ready; do
		pid_alive "$PIDFILE" || die "cassandra exited; see $OUT and $DIR/logs/system.log"
		[ "$(date +%s)" -lt "$deadline" ] || die "cassandra not ready after ${wait}s; see $DIR/logs/system.log"
		sleep 1
	done
	printf 'cassandra-ready %d ms\n' "$(($(now_ms) - t0))" >>"$VMMON_BED/timings"
	log "cassandra ready after $(($(now_ms) - t0)) ms"
	publish_env
}

case ${1:-start} in
start) start ;;
stop) stop_pid "$PIDFILE" ;;
status) pid_alive "$PIDFILE" && cql_ready ;;
wipe) stop_pid "$PIDFILE"; rm -rf "${DIR:?}"/{data,commitlog,saved_caches,hints,cdc_raw} ;;
*) die "usage: $0 start|stop|status|wipe" ;;
esac
