#!/usr/bin/env bash
# Starts (or stops) a single-node Apache Cassandra for the tests, on the machine's
# JDK, from the jars tests/bed/install.sh resolved with Maven.
#   tests/bed/cassandra.sh start|stop|status|wipe
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

DIR=$VMMON_BED/cassandra
PORT=${VMMON_CASSANDRA_PORT:-9042}
STORAGE_PORT=${VMMON_CASSANDRA_STORAGE_PORT:-7000}
PIDFILE=$VMMON_BED/run/cassandra.pid
HEAP=${VMMON_CASSANDRA_HEAP:-1G}

cql_ready() { port_open 127.0.0.1 "$PORT"; }

start() {
	if pid_alive "$PIDFILE" && cql_ready; then
		log "cassandra already running on 127.0.0.1:$PORT"
		env_set VMMON_CASSANDRA_HOSTS "127.0.0.1:$PORT"
		return 0
	fi
	[ -f "$DIR/lib/.complete" ] || "$BED_SRC/install.sh" cassandra
	mkdir -p "$DIR"/{data,commitlog,saved_caches,hints,cdc_raw,logs,conf}
	sed -e "s#@DIR@#$DIR#g" -e "s#@PORT@#$PORT#g" -e "s#@STORAGE_PORT@#$STORAGE_PORT#g" \
		"$BED_SRC/cassandra/cassandra.yaml.in" >"$DIR/conf/cassandra.yaml"
	# The module options Cassandra 5.0 needs on JDK 17 (its conf/jvm17-server.options).
	local jvm=(
		-Xms"$HEAP" -Xmx"$HEAP" -Xss512k -XX:+UseG1GC -XX:+HeapDumpOnOutOfMemoryError
		-XX:+UseThreadPriorities -XX:+AlwaysPreTouch
		-Djava.net.preferIPv4Stack=true -Djdk.attach.allowAttachSelf=true
		-Dcassandra.config="file://$DIR/conf/cassandra.yaml"
		-Dcassandra.storagedir="$DIR" -Dcassandra.logdir="$DIR/logs"
		-Dlogback.configurationFile="$BED_SRC/cassandra/logback.xml"
		-Dcassandra.jmx.local.port=7199 -Dcassandra-foreground=yes
		-Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=100
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
	local java=${JAVA_HOME:+$JAVA_HOME/bin/}java
	log "starting cassandra on 127.0.0.1:$PORT (heap $HEAP)"
	local t0
	t0=$(now_ms)
	# setsid: the daemon outlives this script and ignores the caller's job control.
	setsid "$java" "${jvm[@]}" -cp "$DIR/lib/*" org.apache.cassandra.service.CassandraDaemon \
		>"$VMMON_BED/log/cassandra.out" 2>&1 </dev/null &
	echo $! >"$PIDFILE"
	local deadline=$(($(date +%s) + 180))
	until cql_ready; do
		pid_alive "$PIDFILE" || die "cassandra exited; see $VMMON_BED/log/cassandra.out and $DIR/logs/system.log"
		[ "$(date +%s)" -lt "$deadline" ] || die "cassandra not ready after 180s; see $DIR/logs/system.log"
		sleep 1
	done
	printf 'cassandra-ready %d ms\n' "$(($(now_ms) - t0))" >>"$VMMON_BED/timings"
	log "cassandra ready after $(($(now_ms) - t0)) ms"
	env_set VMMON_CASSANDRA_HOSTS "127.0.0.1:$PORT"
}

case ${1:-start} in
start) start ;;
stop) stop_pid "$PIDFILE" ;;
status) pid_alive "$PIDFILE" && cql_ready ;;
wipe) stop_pid "$PIDFILE"; rm -rf "${DIR:?}"/{data,commitlog,saved_caches,hints,cdc_raw} ;;
*) die "usage: $0 start|stop|status|wipe" ;;
esac
