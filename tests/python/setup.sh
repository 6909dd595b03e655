#!/usr/bin/env bash
# Makes the virtual environment where python-vmmonclient's tests run, as a
# user would: Debian's python3-openstackclient (and pytest, requests-mock,
# flake8) seen through --system-site-packages, python-vmmonclient installed
# into the venv with pip (editable), nothing installed into the system's
# Python. Idempotent: it reinstalls only when pyproject.toml changes.
# Prints the venv's path.
# shellcheck source=../bed/lib.sh
source "$(dirname "$0")/../bed/lib.sh"

REPO=$(cd "$BED_SRC/../.." && pwd)
SRC=$REPO/vmmon/client/python
VENV=${VMMON_PYCLIENT_VENV:-$VMMON_BED/pyclient-venv}

apt_install python3-venv python3-pip python3-wheel python3-openstackclient \
	python3-keystoneauth1 python3-osc-lib python3-cliff python3-yaml \
	python3-pytest python3-requests-mock python3-flake8 python3-kombu python3-cassandra >&2

if [ ! -x "$VENV/bin/python" ]; then
	log "creating $VENV"
	/usr/bin/python3 -m venv --system-site-packages "$VENV" >&2
fi
# The source folder counts too: a venv installed from another clone is not
# this clone's.
stamp=$({ echo "$SRC"; cat "$SRC/pyproject.toml"; } | sha256sum | cut -d" " -f1)
if [ "$(cat "$VENV/.vmmonclient-installed" 2>/dev/null)" != "$stamp" ] ||
	! "$VENV/bin/python" -c 'import vmmonclient' 2>/dev/null; then
	log "installing python-vmmonclient into $VENV"
	"$VENV/bin/pip" install -q --no-build-isolation -e "$SRC" \
		>>"$VMMON_BED/log/pyclient-pip.log" 2>&1 ||
		die "pip install -e $SRC failed (see $VMMON_BED/log/pyclient-pip.log)"
	echo "$stamp" >"$VENV/.vmmonclient-installed"
fi
# Debian's /usr/bin/openstack runs /usr/bin/python3, which does not see the
# venv: the venv gets an openstack command of its own, as pip would write it.
if [ ! -f "$VENV/bin/openstack" ] || [ -L "$VENV/bin/openstack" ]; then
	rm -f "$VENV/bin/openstack"
	cat >"$VENV/bin/openstack" <<-PY
		#!$VENV/bin/python
		import sys
		from openstackclient.shell import main
		sys.exit(main())
	PY
	chmod +x "$VENV/bin/openstack"
fi
echo "$VENV"
