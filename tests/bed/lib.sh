# shellcheck shell=bash
# Shared helpers for the vmmon test bed scripts. Source it; do not run it.
#
# Everything the bed creates lives under $VMMON_BED (default /var/tmp/vmmon-bed):
# data, logs, pid files and bed.env, the file tests read to find the services.

set -euo pipefail

VMMON_BED=${VMMON_BED:-/var/tmp/vmmon-bed}
BED_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export VMMON_BED BED_SRC
mkdir -p "$VMMON_BED/log" "$VMMON_BED/run"

log() { printf '%s [bed] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# now_ms prints a millisecond clock for timing steps.
now_ms() { date +%s%3N; }

# timed NAME CMD... runs CMD and records how long it took in $VMMON_BED/timings.
timed() {
	local name=$1 t0 rc=0
	shift
	t0=$(now_ms)
	"$@" || rc=$?
	printf '%s %d ms (exit %d)\n' "$name" "$(($(now_ms) - t0))" "$rc" >>"$VMMON_BED/timings"
	log "$name took $(($(now_ms) - t0)) ms"
	return "$rc"
}

# port_open HOST PORT succeeds when something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# wait_for DESCRIPTION SECONDS CMD... polls CMD until it succeeds or time runs out.
wait_for() {
	local what=$1 secs=$2 deadline
	shift 2
	deadline=$(($(date +%s) + secs))
	until "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			die "$what not ready after ${secs}s"
		fi
		sleep 0.5
	done
}

# pid_alive FILE succeeds when FILE names a running process.
pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid FILE stops the process named in FILE, waiting up to 30 s.
stop_pid() {
	local f=$1 pid
	pid_alive "$f" || { rm -f "$f"; return 0; }
	pid=$(cat "$f")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 60); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$f"
}

# env_set KEY VALUE records KEY=VALUE in bed.env, replacing an earlier value.
env_set() {
	local f=$VMMON_BED/bed.env
	touch "$f"
	grep -v "^$1=" "$f" >"$f.tmp" || true
	printf '%s=%s\n' "$1" "$2" >>"$f.tmp"
	mv "$f.tmp" "$f"
}

# apt_install PKG... installs Debian packages that are missing, starting no services.
apt_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ ! -x /usr/sbin/policy-rc.d ] || ! grep -q 'exit 101' /usr/sbin/policy-rc.d; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
	fi
	if [ ! -f "$VMMON_BED/apt-updated" ]; then
		apt-get update -qq >"$VMMON_BED/log/apt-update.log" 2>&1 || die "apt-get update failed (see $VMMON_BED/log/apt-update.log)"
		touch "$VMMON_BED/apt-updated"
	fi
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		-o Dpkg::Options::=--force-confold "${missing[@]}" >>"$VMMON_BED/log/apt.log" 2>&1 ||
		die "apt-get install ${missing[*]} failed (see $VMMON_BED/log/apt.log)"
}
