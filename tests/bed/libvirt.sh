#!/usr/bin/env bash
# Runs libvirt for the tests: the monolithic libvirtd started by hand with the QEMU
# driver in software emulation, a tiny guest (Debian's cloud kernel and a busybox
# initramfs that keeps its CPU, disk and NIC busy) carrying Nova's metadata, and a
# test-driver XML file of many domains for scale tests, which a client opens
# either inside its own process (test:///file.xml) or, as on a compute node,
# through libvirtd (test+unix:///file.xml: the daemon holds the domains).
#   tests/bed/libvirt.sh start|stop|status|guest-start|guest-stop|testxml N
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

DIR=$VMMON_BED/libvirt
GUEST=$DIR/guest
NAME=vmmon-bed-guest
UUID=5b6f8a8e-7c1d-4e0a-9f3b-0000000000b1
PIDFILE=/run/libvirtd.pid
URI=qemu:///system
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk failover net_failover virtio_net virtio_balloon button evdev"

build_guest() {
	[ -f "$GUEST/.complete" ] && cmp -s "$BED_SRC/libvirt/init" "$GUEST/.complete" && return 0
	rm -rf "$GUEST"
	mkdir -p "$GUEST/deb" "$GUEST/root"/{bin,lib/modules,proc,sys,dev,tmp}
	local pkg ver
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
	[ -n "$pkg" ] || die "no linux-image-*-cloud-amd64 known to apt (run apt-get update)"
	(cd "$GUEST/deb" && apt-get download "$pkg" >/dev/null 2>&1) || die "apt-get download $pkg failed"
	dpkg-deb --fsys-tarfile "$GUEST"/deb/*.deb | tar -x -C "$GUEST/deb" ./boot ./lib/modules
	ver=${pkg#linux-image-}
	cp "$GUEST/deb/boot/vmlinuz-$ver" "$GUEST/vmlinuz"
	local m
	for m in $MODULES; do
		find "$GUEST/deb/lib/modules/$ver" -name "$m.ko" -exec cp {} "$GUEST/root/lib/modules/" \;
		[ -f "$GUEST/root/lib/modules/$m.ko" ] || die "kernel module $m.ko missing from $pkg"
	done
	cp /bin/busybox "$GUEST/root/bin/busybox"
	cp "$BED_SRC/libvirt/init" "$GUEST/root/init"
	chmod +x "$GUEST/root/init"
	(cd "$GUEST/root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$GUEST/initrd.img")
	truncate -s 64M "$GUEST/disk.raw"
	rm -rf "$GUEST/deb" "$GUEST/root"
	cp "$BED_SRC/libvirt/init" "$GUEST/.complete"
}

configure_daemon() {
	id libvirt-qemu >/dev/null 2>&1 || useradd --system --user-group --no-create-home libvirt-qemu
	local conf=/etc/libvirt/qemu.conf
	if ! grep -q 'vmmon test bed' "$conf" 2>/dev/null; then
		cat >>"$conf" <<-CONF
			# vmmon test bed: software emulation without cgroups or security drivers
			user = "root"
			group = "root"
			dynamic_ownership = 0
			remember_owner = 0
			security_driver = "none"
			cgroup_controllers = [ "cpu", "cpuacct" ]
			namespaces = [ ]
			stdio_handler = "file"
		CONF
	fi
}

daemon_ready() { virsh -c "$URI" version >/dev/null 2>&1; }

start_daemon() {
	command -v libvirtd >/dev/null || "$BED_SRC/install.sh" debs
	if daemon_ready; then return 0; fi
	configure_daemon
	mkdir -p /var/log/libvirt/qemu /var/lib/libvirt /run/libvirt
	local t0
	t0=$(now_ms)
	libvirtd -d -p "$PIDFILE" >>"$VMMON_BED/log/libvirtd.out" 2>&1 || true
	wait_for libvirtd 90 daemon_ready
	printf 'libvirtd-ready %d ms\n' "$(($(now_ms) - t0))" >>"$VMMON_BED/timings"
	log "libvirtd ready after $(($(now_ms) - t0)) ms"
}

guest_running() { [ "$(virsh -c "$URI" domstate "$NAME" 2>/dev/null)" = "running" ]; }
guest_booted() { grep -q 'vmmon-guest ready' "$GUEST/console.log" 2>/dev/null; }

guest_start() {
	build_guest
	local project user
	project=$(grep '^VMMON_PROJECT_DEMO_ID=' "$VMMON_BED/bed.env" 2>/dev/null | cut -d= -f2 || true)
	user=$(grep '^VMMON_USER_DEMO_MEMBER_ID=' "$VMMON_BED/bed.env" 2>/dev/null | cut -d= -f2 || true)
	sed -e "s#@DIR@#$GUEST#g" -e "s#@NAME@#$NAME#g" -e "s#@UUID@#$UUID#g" \
		-e "s#@PROJECT_ID@#${project:-0f1e2d3c4b5a69788796a5b4c3d2e1f0}#g" \
		-e "s#@USER_ID@#${user:-1f2e3d4c5b6a79888796a5b4c3d2e1f0}#g" \
		"$BED_SRC/libvirt/guest.xml.in" >"$GUEST/domain.xml"
	virsh -c "$URI" define "$GUEST/domain.xml" >/dev/null
	if ! guest_running; then
		rm -f "$GUEST/console.log"
		local t0
		t0=$(now_ms)
		virsh -c "$URI" start "$NAME" >/dev/null || die "virsh start $NAME failed; see /var/log/libvirt/qemu/$NAME.log"
		wait_for "guest boot" 120 guest_booted
		printf 'guest-ready %d ms\n' "$(($(now_ms) - t0))" >>"$VMMON_BED/timings"
		log "guest ready after $(($(now_ms) - t0)) ms"
	fi
	env_set VMMON_LIBVIRT_URI "$URI"
	env_set VMMON_GUEST_NAME "$NAME"
	env_set VMMON_GUEST_UUID "$UUID"
}

guest_stop() {
	guest_running || return 0
	virsh -c "$URI" destroy "$NAME" >/dev/null 2>&1 || true
}

# testxml N writes a test-driver node of N domains (every tenth shut off, every
# fifth from the second of 4 vCPUs, the others of one), each with Nova
# metadata, and records its URIs: VMMON_LIBVIRT_TEST_URI_<N> (test:///file,
# the driver runs inside the client) and VMMON_LIBVIRT_TEST_DAEMON_URI_<N>
# (test+unix:///file: libvirtd reads the file and serves a copy of the domains
# to each connection over its UNIX socket, as it serves qemu:///system).
testxml() {
	local n=${1:-200} f="$DIR/test-$1.xml" i uuid state vcpus flavor
	mkdir -p "$DIR"
	{
		echo "<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
		for i in $(seq 1 "$n"); do
			uuid=$(printf '7e57d000-0000-4000-8000-%012d' "$i")
			state=""
			[ $((i % 10)) -eq 0 ] && state="<test:runstate>5</test:runstate>"
			vcpus=1 flavor=m1.tiny
			[ $((i % 5)) -eq 2 ] && vcpus=4 flavor=m1.quad
			cat <<-DOM
				<domain type='test'>
				  <name>test-vm-$i</name><uuid>$uuid</uuid>
				  <metadata><nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
				    <nova:name>test-vm-$i</nova:name>
				    <nova:flavor name="$flavor"><nova:memory>512</nova:memory><nova:disk>1</nova:disk><nova:swap>0</nova:swap><nova:ephemeral>0</nova:ephemeral><nova:vcpus>$vcpus</nova:vcpus></nova:flavor>
				    <nova:owner><nova:user uuid="1f2e3d4c5b6a79888796a5b4c3d2e1f0">demo-member</nova:user><nova:project uuid="0f1e2d3c4b5a69788796a5b4c3d2e1f$((i % 2))">demo</nova:project></nova:owner>
				  </nova:instance></metadata>
				  <memory>524288</memory><currentMemory>524288</currentMemory><vcpu>$vcpus</vcpu>
				  <os><type arch='i686'>hvm</type></os>
				  <devices>
				    <disk type='file'><source file='/guest/vm-$i.img'/><target dev='vda'/></disk>
				    <interface type='network'><source network='default'/><target dev='vnet$i'/></interface>
				  </devices>
				  $state
				</domain>
			DOM
		done
		echo "</node>"
	} >"$f.tmp"
	mv "$f.tmp" "$f"
	env_set "VMMON_LIBVIRT_TEST_URI_$n" "test://$f"
	env_set "VMMON_LIBVIRT_TEST_DAEMON_URI_$n" "test+unix://$f"
}

case ${1:-start} in
start)
	start_daemon
	guest_start
	testxml 200
	;;
stop)
	guest_stop
	pid_alive "$PIDFILE" && stop_pid "$PIDFILE"
	;;
status) daemon_ready && guest_running ;;
guest-start) guest_start ;;
guest-stop) guest_stop ;;
testxml) testxml "${2:-200}" ;;
*) die "usage: $0 start|stop|status|guest-start|guest-stop|testxml N" ;;
esac
