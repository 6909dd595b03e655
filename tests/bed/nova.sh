#!/usr/bin/env bash
# Runs a real Nova for the tests (Debian's packages): MariaDB, Placement,
# Glance with a file store, nova-api, -conductor, -scheduler, two
# nova-computes and a stand-in for the Neutron API that Nova calls even for
# servers without networks (with one network of its own, for servers that
# want a NIC). Needs the bed's RabbitMQ, Keystone and libvirtd.
#
# nova-fake-1 runs the fake virt driver (availability zone "nova", where
# servers go when they name no zone): cheap servers, as many as a test wants.
# nova-libvirt-1 runs the libvirt driver on the bed's libvirtd with QEMU in
# software emulation (zone "libvirt"): real VMs booted from the bed guest's
# kernel and busybox initramfs, which vmmon-agent can measure.
#   tests/bed/nova.sh start|stop|status
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

DIR=$VMMON_BED/nova
RUN=$VMMON_BED/run
PW=vmmon-nova-secret
KEYSTONE=http://127.0.0.1:5000/v3
TRANSPORT=rabbit://guest:guest@127.0.0.1:5672/
FAKE_HOST=nova-fake-1
LIBVIRT_HOST=nova-libvirt-1
LIBVIRT_AZ=libvirt
# The bed guest's kernel and initramfs (tests/bed/libvirt.sh) become Glance images.
GUEST=$VMMON_BED/libvirt/guest

install() {
	# Not the nova-compute package: its hypervisor dependency pulls in
	# libvirt and QEMU with all they recommend. The libvirt driver needs only
	# the Python binding and qemu-img beside what libvirt.sh installs.
	apt_install nova-api nova-conductor nova-scheduler placement-api glance-api mariadb-server python3-pymysql \
		python3-libvirt qemu-utils
}

mariadb_ready() { mysqladmin --socket=/run/mysqld/mysqld.sock ping >/dev/null 2>&1; }

start_mariadb() {
	mariadb_ready && return 0
	mkdir -p /run/mysqld
	chown mysql:mysql /run/mysqld
	setsid mysqld_safe --user=mysql --bind-address=127.0.0.1 --skip-name-resolve >"$VMMON_BED/log/mariadb.out" 2>&1 </dev/null &
	wait_for mariadb 60 mariadb_ready
	local db
	for db in nova_api nova nova_cell0 placement glance; do
		mysql -e "CREATE DATABASE IF NOT EXISTS $db; GRANT ALL ON $db.* TO 'vmmon'@'127.0.0.1' IDENTIFIED BY '$PW';"
	done
}

db() { echo "mysql+pymysql://vmmon:$PW@127.0.0.1/$1"; }

authtoken() { # authtoken USER: a keystone_authtoken (or [placement], ...) section body
	cat <<-CONF
		auth_type = password
		auth_url = $KEYSTONE
		www_authenticate_uri = $KEYSTONE
		username = $1
		password = $PW
		project_name = service
		user_domain_name = Default
		project_domain_name = Default
		region_name = RegionOne
	CONF
}

configure() {
	mkdir -p "$DIR"/{state,lock,images,log} "$DIR"/libvirt/{state,instances,lock}
	cp /etc/nova/api-paste.ini "$DIR/api-paste.ini"
	cp /etc/glance/glance-api-paste.ini "$DIR/glance-api-paste.ini"
	# Run from a copy, so that an edited stand-in counts as a changed configuration.
	cp "$BED_SRC/nova/neutron_standin.py" "$DIR/neutron_standin.py"
	cat >"$DIR/nova.conf" <<-CONF
		[DEFAULT]
		transport_url = $TRANSPORT
		compute_driver = fake.SmallFakeDriver
		enabled_apis = osapi_compute
		heal_instance_info_cache_interval = 0
		use_rootwrap_daemon = false
		state_path = $DIR/state
		host = $FAKE_HOST
		log_dir = $DIR/log
		# Servers that name no zone go to the fake driver's host, so tests
		# wanting many cheap servers never land on the libvirt host.
		default_schedule_zone = nova
		[api]
		auth_strategy = keystone
		[api_database]
		connection = $(db nova_api)
		[database]
		connection = $(db nova)
		[conductor]
		workers = 1
		[scheduler]
		workers = 1
		discover_hosts_in_cells_interval = 2
		[filter_scheduler]
		# Zed's defaults plus the zone filter: the placement pre-filter only
		# narrows zones backed by an aggregate, and "nova" is not one.
		enabled_filters = AvailabilityZoneFilter,ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,ServerGroupAntiAffinityFilter,ServerGroupAffinityFilter
		[keystone_authtoken]
		$(authtoken nova)
		[placement]
		$(authtoken placement)
		[glance]
		$(authtoken glance)
		[neutron]
		$(authtoken neutron)
		endpoint_override = http://127.0.0.1:9696
		[notifications]
		notification_format = versioned
		notify_on_state_change = vm_and_task_state
		[oslo_messaging_notifications]
		driver = messagingv2
		transport_url = $TRANSPORT
		[oslo_concurrency]
		lock_path = $DIR/lock
		[wsgi]
		api_paste_config = $DIR/api-paste.ini
		[vnc]
		enabled = false
		[cinder]
		os_region_name = RegionOne
	CONF
	# Each nova-compute reads nova.conf and then its own file (later wins).
	cat >"$DIR/nova-compute-fake.conf" <<-CONF
		[DEFAULT]
		log_file = nova-compute-fake.log
	CONF
	cat >"$DIR/nova-compute-libvirt.conf" <<-CONF
		[DEFAULT]
		compute_driver = libvirt.LibvirtDriver
		host = $LIBVIRT_HOST
		log_file = nova-compute-libvirt.log
		state_path = $DIR/libvirt/state
		instances_path = $DIR/libvirt/instances
		# The bed's services come and go; nothing here heals by itself.
		resume_guests_state_on_host_boot = false
		[libvirt]
		# Software emulation: /dev/kvm exists here but its guests hang.
		virt_type = qemu
		connection_uri = qemu:///system
		cpu_mode = none
		[oslo_concurrency]
		lock_path = $DIR/libvirt/lock
	CONF
	cat >"$DIR/placement.conf" <<-CONF
		[DEFAULT]
		log_dir = $DIR/log
		[placement_database]
		connection = $(db placement)
		[api]
		auth_strategy = keystone
		[keystone_authtoken]
		$(authtoken placement)
	CONF
	cat >"$DIR/glance-api.conf" <<-CONF
		[DEFAULT]
		bind_host = 127.0.0.1
		bind_port = 9292
		log_file = $DIR/log/glance-api.log
		workers = 1
		[database]
		connection = $(db glance)
		[keystone_authtoken]
		$(authtoken glance)
		[paste_deploy]
		flavor = keystone
		config_file = $DIR/glance-api-paste.ini
		[glance_store]
		stores = file
		default_store = file
		filesystem_store_datadir = $DIR/images
	CONF
}

# uwsgi_app NAME PORT WSGI-FILE ENV=VALUE [THREADS]: THREADS (default 2) native
# threads in its one process; 1 for an app on eventlet (nova-api), whose
# hub must not be woken from another native thread (its worker wedges with
# "greenlet.error: cannot switch to a different thread").
uwsgi_app() {
	pid_alive "$RUN/$1.pid" && return 0
	setsid uwsgi --plugin python3 --http-socket "127.0.0.1:$2" --wsgi-file "$3" --master --single-interpreter \
		--processes 1 --threads "${5:-2}" --enable-threads --need-app --add-header 'Connection: close' --die-on-term \
		--env "$4" >"$VMMON_BED/log/$1.log" 2>&1 </dev/null &
	echo $! >"$RUN/$1.pid"
}

daemon() { # daemon NAME COMMAND...
	local name=$1
	shift
	pid_alive "$RUN/$name.pid" && return 0
	setsid "$@" >"$VMMON_BED/log/$name.log" 2>&1 </dev/null &
	echo $! >"$RUN/$name.pid"
}

# SERVICES are Nova's processes that start() runs and stop() ends, in start order.
SERVICES=(neutron-standin placement glance-api nova-api nova-conductor nova-scheduler nova-compute nova-compute-libvirt)

# hosts_mapped succeeds once both nova-computes are mapped to the cell,
# mapping them if need be (each nova-manage call costs seconds: look first).
hosts_mapped() {
	local hosts
	hosts=$(nova-manage --config-file "$DIR/nova.conf" cell_v2 list_hosts 2>/dev/null) || return 1
	if ! grep -q " $FAKE_HOST " <<<"$hosts" || ! grep -q " $LIBVIRT_HOST " <<<"$hosts"; then
		nova-manage --config-file "$DIR/nova.conf" cell_v2 discover_hosts >/dev/null 2>&1
		return 1
	fi
}

# conf_sum prints a checksum of what Nova's processes read (files may be missing).
conf_sum() { cat "$DIR"/*.conf "$DIR/neutron_standin.py" 2>/dev/null | md5sum || true; }

start() {
	local t0 k v before s running=0
	t0=$(now_ms)
	timed install-nova install
	# The libvirt compute needs libvirtd, and its images are the bed guest's
	# kernel and initramfs: both come from libvirt.sh (idempotent).
	if [ ! -f "$GUEST/vmlinuz" ] || [ ! -f "$GUEST/initrd.img" ] || ! virsh -c qemu:///system version >/dev/null 2>&1; then
		"$BED_SRC/libvirt.sh" start
	fi
	start_mariadb
	before=$(conf_sum)
	configure
	# A bed started by an older nova.sh runs with other settings: restart
	# Nova's processes (not MariaDB) so that they read the new ones.
	if [ "$before" != "$(conf_sum)" ]; then
		for s in "${SERVICES[@]}"; do pid_alive "$RUN/$s.pid" && running=1; done
		if [ "$running" = 1 ]; then
			log "Nova's configuration changed: restarting its processes"
			stop_services
		fi
	fi
	/usr/bin/python3 "$BED_SRC/nova/nova_setup.py" "$KEYSTONE" "$(grep '^VMMON_KEYSTONE_ADMIN_PASSWORD=' "$VMMON_BED/bed.env" | cut -d= -f2)" "$PW" ||
		die "creating Nova's identities in Keystone failed"
	if [ ! -f "$DIR/synced" ]; then
		placement-manage --config-file "$DIR/placement.conf" db sync >>"$VMMON_BED/log/nova-manage.log" 2>&1 || die "placement db sync failed"
		glance-manage --config-file "$DIR/glance-api.conf" db_sync >>"$VMMON_BED/log/nova-manage.log" 2>&1 || die "glance db_sync failed"
		local nm=(nova-manage --config-file "$DIR/nova.conf")
		"${nm[@]}" api_db sync >>"$VMMON_BED/log/nova-manage.log" 2>&1 || die "nova api_db sync failed"
		"${nm[@]}" cell_v2 map_cell0 --database_connection "$(db nova_cell0)" >>"$VMMON_BED/log/nova-manage.log" 2>&1
		"${nm[@]}" cell_v2 create_cell --name cell1 >>"$VMMON_BED/log/nova-manage.log" 2>&1 || true
		"${nm[@]}" db sync >>"$VMMON_BED/log/nova-manage.log" 2>&1 || die "nova db sync failed"
		touch "$DIR/synced"
	fi
	log "Nova databases ready after $(($(now_ms) - t0)) ms"
	daemon neutron-standin /usr/bin/python3 "$DIR/neutron_standin.py" 9696 "$DIR/neutron-ports.json"
	uwsgi_app placement 8778 /usr/bin/placement-api "OS_PLACEMENT_CONFIG_DIR=$DIR"
	daemon glance-api glance-api --config-file "$DIR/glance-api.conf"
	wait_for placement 60 curl -sf -m 2 http://127.0.0.1:8778/
	uwsgi_app nova-api 8774 /usr/bin/nova-api-wsgi "OS_NOVA_CONFIG_DIR=$DIR" 1
	daemon nova-conductor nova-conductor --config-file "$DIR/nova.conf"
	daemon nova-scheduler nova-scheduler --config-file "$DIR/nova.conf"
	wait_for nova-conductor 60 grep -q "Starting conductor node" "$DIR/log/nova-conductor.log"
	# nova-compute's entry point, not its package (see install).
	local compute=(/usr/bin/python3 -c 'import sys; from nova.cmd.compute import main; sys.exit(main())' --config-file "$DIR/nova.conf")
	daemon nova-compute "${compute[@]}" --config-file "$DIR/nova-compute-fake.conf"
	daemon nova-compute-libvirt "${compute[@]}" --config-file "$DIR/nova-compute-libvirt.conf"
	# A nova-api that still answers nothing (a bed started by an older
	# nova.sh, with two threads; see uwsgi_app) gets one fresh start.
	if ! answers_within 90 http://127.0.0.1:8774/; then
		log "nova-api not answering after 90s: starting it again"
		stop_pid "$RUN/nova-api.pid"
		uwsgi_app nova-api 8774 /usr/bin/nova-api-wsgi "OS_NOVA_CONFIG_DIR=$DIR" 1
		wait_for nova-api 120 curl -sf -m 2 http://127.0.0.1:8774/
	fi
	wait_for glance-api 60 curl -sf -m 2 http://127.0.0.1:9292/
	wait_for "compute hosts mapped" 180 hosts_mapped
	/usr/bin/python3 "$BED_SRC/nova/nova_setup.py" "$KEYSTONE" "$(grep '^VMMON_KEYSTONE_ADMIN_PASSWORD=' "$VMMON_BED/bed.env" | cut -d= -f2)" "$PW" --content \
		"$GUEST/vmlinuz" "$GUEST/initrd.img" "$LIBVIRT_HOST" "$LIBVIRT_AZ" \
		>"$VMMON_BED/nova.env.tmp" || die "creating the test images, flavors and zone failed"
	while IFS='=' read -r k v; do env_set "$k" "$v"; done <"$VMMON_BED/nova.env.tmp"
	rm -f "$VMMON_BED/nova.env.tmp"
	env_set VMMON_NOVA_URL http://127.0.0.1:8774/v2.1
	env_set VMMON_NOVA_FAKE_HOST "$FAKE_HOST"
	env_set VMMON_NOVA_LIBVIRT_HOST "$LIBVIRT_HOST"
	env_set VMMON_NOVA_LIBVIRT_AZ "$LIBVIRT_AZ"
	# The stand-in's one network: a server on it gets a NIC whose counters move.
	env_set VMMON_NOVA_NETWORK_ID "$(sed -n 's/^NETWORK_ID = "\(.*\)"$/\1/p' "$DIR/neutron_standin.py")"
	printf 'nova-ready %d ms\n' "$(($(now_ms) - t0))" >>"$VMMON_BED/timings"
	log "Nova ready after $(($(now_ms) - t0)) ms"
}

# answers_within SECS URL succeeds once URL answers, or fails after SECS.
answers_within() {
	local deadline=$(($(date +%s) + $1))
	until curl -sf -m 2 "$2" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.5
	done
}

stop_services() {
	local i
	for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
		stop_pid "$RUN/${SERVICES[i]}.pid"
	done
}

stop() {
	stop_services
	mysqladmin --socket=/run/mysqld/mysqld.sock shutdown >/dev/null 2>&1 || true
	# No QEMU of Nova's outlives the bed (libvirtd would keep them running):
	# Nova finds them shut off and says so when it starts again.
	local d
	if virsh -c qemu:///system version >/dev/null 2>&1; then
		for d in $(virsh -c qemu:///system list --name 2>/dev/null | grep '^instance-' || true); do
			virsh -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
		done
	fi
}

case ${1:-start} in
start) start ;;
stop) stop ;;
status) curl -sf -m 2 http://127.0.0.1:8774/ >/dev/null ;;
*) die "usage: $0 start|stop|status" ;;
esac
