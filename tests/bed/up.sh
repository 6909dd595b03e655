#!/usr/bin/env bash
# Installs what is missing and starts every service of the vmmon test bed on
# loopback; writes $VMMON_BED/bed.env (default /var/tmp/vmmon-bed/bed.env) for the tests.
# Idempotent: services already running are left as they are.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

"$BED_SRC/install.sh" all
# Cassandra's JVM start is the slowest step: let it run beside the others.
"$BED_SRC/cassandra.sh" start &
cass=$!
"$BED_SRC/rabbitmq.sh" start
"$BED_SRC/keystone.sh" start
"$BED_SRC/libvirt.sh" start
"$BED_SRC/nova.sh" start
wait "$cass" || die "cassandra did not start"
log "test bed up; services listed in $VMMON_BED/bed.env"
