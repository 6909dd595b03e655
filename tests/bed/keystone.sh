#!/usr/bin/env bash
# Starts (or stops) Keystone from Debian's keystone package on 127.0.0.1:5000
# (SQLite, fernet, no Apache) and creates the identities the tests use
# (tests/bed/keystone_setup.py).
#   tests/bed/keystone.sh start|stop|status|wipe
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

DIR=$VMMON_BED/keystone
PORT=${VMMON_KEYSTONE_PORT:-5000}
PIDFILE=$VMMON_BED/run/keystone.pid
URL=http://127.0.0.1:$PORT
ADMIN_PASSWORD=${VMMON_KEYSTONE_ADMIN_PASSWORD:-admin-secret}

ready() { curl -sf -m 2 "$URL/v3" >/dev/null; }

configure() {
	[ -f "$DIR/bootstrapped" ] && return 0
	rm -rf "$DIR"
	mkdir -p "$DIR/fernet-keys" "$DIR/credential-keys"
	cat >"$DIR/keystone.conf" <<-CONF
		[DEFAULT]
		log_file = $VMMON_BED/log/keystone.log
		[database]
		connection = sqlite:///$DIR/keystone.db
		[token]
		provider = fernet
		expiration = 3600
		[fernet_tokens]
		key_repository = $DIR/fernet-keys
		[fernet_receipts]
		key_repository = $DIR/fernet-keys
		[credential]
		key_repository = $DIR/credential-keys
		[cache]
		enabled = true
		backend = dogpile.cache.memory
	CONF
	cp /etc/keystone/logging.conf "$DIR/" 2>/dev/null || true
	local km=(keystone-manage --config-file "$DIR/keystone.conf")
	"${km[@]}" db_sync >>"$VMMON_BED/log/keystone-manage.log" 2>&1 || die "keystone db_sync failed"
	sqlite3 "$DIR/keystone.db" 'PRAGMA journal_mode=WAL;' >/dev/null
	"${km[@]}" fernet_setup --keystone-user root --keystone-group root >>"$VMMON_BED/log/keystone-manage.log" 2>&1
	"${km[@]}" credential_setup --keystone-user root --keystone-group root >>"$VMMON_BED/log/keystone-manage.log" 2>&1
	"${km[@]}" bootstrap --bootstrap-password "$ADMIN_PASSWORD" \
		--bootstrap-admin-url "$URL/v3" --bootstrap-public-url "$URL/v3" \
		--bootstrap-internal-url "$URL/v3" --bootstrap-region-id RegionOne \
		>>"$VMMON_BED/log/keystone-manage.log" 2>&1 || die "keystone bootstrap failed"
	touch "$DIR/bootstrapped"
}

start_server() {
	local t0
	t0=$(now_ms)
	configure
	log "keystone configured in $(($(now_ms) - t0)) ms; starting on $URL"
	setsid uwsgi --plugin python3 --http-socket "127.0.0.1:$PORT" \
		--wsgi-file /usr/bin/keystone-wsgi-public --master --single-interpreter --processes 1 --threads 4 \
		--enable-threads --need-app --add-header 'Connection: close' \
		--env "OS_KEYSTONE_CONFIG_DIR=$DIR" --die-on-term \
		>"$VMMON_BED/log/keystone-uwsgi.log" 2>&1 </dev/null &
	echo $! >"$PIDFILE"
	wait_for keystone 90 ready
	printf 'keystone-ready %d ms\n' "$(($(now_ms) - t0))" >>"$VMMON_BED/timings"
	log "keystone ready after $(($(now_ms) - t0)) ms"
}

start() {
	command -v keystone-manage >/dev/null || "$BED_SRC/install.sh" debs
	if pid_alive "$PIDFILE" && ready; then
		log "keystone already running on $URL"
	else
		start_server
	fi
	env_set VMMON_KEYSTONE_URL "$URL/v3"
	env_set VMMON_KEYSTONE_ADMIN_PASSWORD "$ADMIN_PASSWORD"
	# A Keystone that stops answering (seen once under load) is restarted once.
	if ! timeout 120 /usr/bin/python3 "$BED_SRC/keystone_setup.py" "$URL/v3" "$ADMIN_PASSWORD" >"$VMMON_BED/bed.env.tmp2"; then
		log "creating test identities failed; restarting keystone and trying again"
		stop_pid "$PIDFILE"
		start_server
		timeout 120 /usr/bin/python3 "$BED_SRC/keystone_setup.py" "$URL/v3" "$ADMIN_PASSWORD" >"$VMMON_BED/bed.env.tmp2" ||
			die "creating test identities failed (see $VMMON_BED/log/keystone.log)"
	fi
	local k v
	while IFS='=' read -r k v; do env_set "$k" "$v"; done <"$VMMON_BED/bed.env.tmp2"
	rm -f "$VMMON_BED/bed.env.tmp2"
}

case ${1:-start} in
start) start ;;
stop) stop_pid "$PIDFILE" ;;
status) ready ;;
wipe) stop_pid "$PIDFILE"; rm -rf "$DIR" ;;
*) die "usage: $0 start|stop|status|wipe" ;;
esac
