#!/usr/bin/env bash
# Installs everything the vmmon test bed runs: Debian packages (RabbitMQ, libvirt
# and QEMU, Keystone, oslo.messaging) and Apache Cassandra resolved with Maven.
# Idempotent: a second run installs nothing and takes a second.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

install_debs() {
	# Keystone's package must not configure a database or start anything.
	if ! dpkg-query -W -f='${Status}' keystone 2>/dev/null | grep -q 'install ok installed'; then
		apt_install debconf-utils
		debconf-set-selections <<-SEL
			keystone keystone/configure_db boolean false
			keystone keystone/create-admin-tenant boolean false
			keystone keystone/register-endpoint boolean false
		SEL
	fi
	apt_install rabbitmq-server \
		libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libvirt-dev pkg-config \
		qemu-system-x86 busybox-static \
		keystone uwsgi-plugin-python3 sqlite3 shellcheck \
		python3-oslo.messaging python3-keystoneauth1 \
		nova-api nova-conductor nova-scheduler placement-api glance-api mariadb-server python3-pymysql python3-libvirt qemu-utils \
		python3-openstackclient python3-venv python3-pytest python3-requests-mock python3-flake8 python3-cassandra
}

install_cassandra() {
	local dest=$VMMON_BED/cassandra/lib
	if [ -f "$dest/.complete" ] && cmp -s "$BED_SRC/cassandra/pom.xml" "$dest/.complete"; then
		return 0
	fi
	rm -rf "$dest"
	mkdir -p "$dest"
	log "resolving Apache Cassandra with Maven"
	mvn -B -q -f "$BED_SRC/cassandra/pom.xml" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$dest" >"$VMMON_BED/log/mvn.log" 2>&1 ||
		die "mvn could not resolve Cassandra (see $VMMON_BED/log/mvn.log)"
	cp "$BED_SRC/cassandra/pom.xml" "$dest/.complete"
}

# schemathesis, in a virtual environment of the bed's own (PyPI).
install_schemathesis() {
	local venv=$VMMON_BED/venv
	[ -x "$venv/bin/schemathesis" ] && return 0
	python3 -m venv "$venv" >>"$VMMON_BED/log/pip.log" 2>&1 || die "python3 -m venv failed (see $VMMON_BED/log/pip.log)"
	"$venv/bin/pip" install -q schemathesis==4.32.5 >>"$VMMON_BED/log/pip.log" 2>&1 ||
		die "installing schemathesis failed (see $VMMON_BED/log/pip.log)"
}

# What building vmmon needs (cgo against libvirt): make build and make run
# call this, so a fresh machine needs nothing by hand.
install_build_deps() {
	if pkg-config --exists libvirt 2>/dev/null; then
		return 0
	fi
	apt_install libvirt-dev pkg-config gcc
}

# What only the benchmarks need: Debian's Ceilometer compute agent, the anchor
# vmmon-agent is measured against (BenchmarkAgentProcess, run by make bench,
# which calls this step). Neither "all" nor make test installs it; apt_install
# starts none of its services.
install_bench_deps() {
	apt_install ceilometer-agent-compute python3-libvirt
}

what=${1:-all}
case $what in
debs) timed install-debs install_debs ;;
build-deps) install_build_deps ;;
bench-deps) timed install-bench-deps install_bench_deps ;;
cassandra) timed install-cassandra install_cassandra ;;
schemathesis) timed install-schemathesis install_schemathesis ;;
all)
	timed install-debs install_debs
	timed install-cassandra install_cassandra
	timed install-schemathesis install_schemathesis
	;;
*) die "usage: $0 [all|debs|build-deps|bench-deps|cassandra|schemathesis]" ;;
esac
