#!/usr/bin/env bash
# Installs what the tests of vmmon-dashboard need: Debian's Horizon
# (openstack-dashboard), pytest-django, flake8, headless Chromium with its
# driver and Selenium (tests/bed/horizon.sh); then a venv with
# python-vmmonclient as tests/python/setup.sh makes it (a venv of its own
# here), into which vmmon-dashboard is installed (editable). Nothing is
# installed into the system's Python. Prints the venv's path.
# shellcheck source=../bed/lib.sh
source "$(dirname "$0")/../bed/lib.sh"

REPO=$(cd "$BED_SRC/../.." && pwd)
SRC=$REPO/vmmon/dashboard

"$BED_SRC/horizon.sh" install >&2

VENV=$(VMMON_PYCLIENT_VENV=${VMMON_DASHBOARD_VENV:-$VMMON_BED/dashboard-venv} \
	"$REPO/tests/python/setup.sh")
# The source folder counts too: a venv installed from another clone is not
# this clone's.
stamp=$({ echo "$SRC"; cat "$SRC/pyproject.toml"; } | sha256sum | cut -d" " -f1)
if [ "$(cat "$VENV/.vmmon-dashboard-installed" 2>/dev/null)" != "$stamp" ] ||
	! "$VENV/bin/python" -c 'import vmmon_dashboard' 2>/dev/null; then
	log "installing vmmon-dashboard into $VENV"
	"$VENV/bin/pip" install -q --no-build-isolation --no-deps -e "$SRC" \
		>>"$VMMON_BED/log/dashboard-pip.log" 2>&1 ||
		die "pip install -e $SRC failed (see $VMMON_BED/log/dashboard-pip.log)"
	echo "$stamp" >"$VENV/.vmmon-dashboard-installed"
fi
echo "$VENV"
