#!/usr/bin/env bash
# Stops every service of the vmmon test bed (data stays under $VMMON_BED;
# add --wipe to remove it too).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

"$BED_SRC/nova.sh" stop || true
"$BED_SRC/libvirt.sh" stop || true
"$BED_SRC/keystone.sh" stop || true
"$BED_SRC/rabbitmq.sh" stop || true
"$BED_SRC/cassandra.sh" stop || true
if [ "${1:-}" = "--wipe" ]; then
	rm -rf "${VMMON_BED:?}"
fi
log "test bed down"
