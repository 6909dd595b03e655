#!/usr/bin/env bash
# Starts (or stops) RabbitMQ from Debian's rabbitmq-server on 127.0.0.1:5672,
# user guest/guest, for the tests.
#   tests/bed/rabbitmq.sh start|stop|status
# A test that needs a broker of its own (to restart it) runs a second node:
# VMMON_RABBIT_PORT=<port> RABBITMQ_NODENAME=<name>@localhost
# VMMON_RABBIT_PRIVATE=1 (the bed's environment file is left alone).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

PORT=${VMMON_RABBIT_PORT:-5672}
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$PORT ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_NODENAME=${RABBITMQ_NODENAME:-rabbit@localhost}
export RABBITMQ_LOG_BASE=/var/log/rabbitmq
export HOME=${HOME:-/root}

ready() { rabbitmqctl -q await_startup --timeout 2 && port_open 127.0.0.1 "$PORT"; }

start() {
	command -v rabbitmq-server >/dev/null || "$BED_SRC/install.sh" debs
	if port_open 127.0.0.1 "$PORT" && ready >/dev/null 2>&1; then
		log "rabbitmq already running on 127.0.0.1:$PORT"
	else
		local t0
		t0=$(now_ms)
		log "starting rabbitmq on 127.0.0.1:$PORT"
		rabbitmq-server -detached >>"$VMMON_BED/log/rabbitmq.out" 2>&1 || true
		wait_for rabbitmq 120 ready
		printf 'rabbitmq-ready %d ms\n' "$(($(now_ms) - t0))" >>"$VMMON_BED/timings"
		log "rabbitmq ready after $(($(now_ms) - t0)) ms"
	fi
	[ -n "${VMMON_RABBIT_PRIVATE:-}" ] && return 0
	env_set VMMON_TRANSPORT_URL "rabbit://guest:guest@127.0.0.1:$PORT/"
	env_set RABBITMQ_NODENAME "$RABBITMQ_NODENAME"
}

stop() {
	port_open 127.0.0.1 "$PORT" || return 0
	rabbitmqctl -q shutdown >/dev/null 2>&1 || true
	wait_for "rabbitmq stop" 60 bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null"
}

case ${1:-start} in
start) start ;;
stop) stop ;;
status) ready ;;
*) die "usage: $0 start|stop|status" ;;
esac
