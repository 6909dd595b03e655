#!/bin/bash
# Runs the DevStack plugin's phases against stand-ins of DevStack's helper
# functions that record what they were asked, and checks the record; then
# runs shellcheck on the plugin. Prints "devstack: N passed, N failed".
# The DevStack variables below are read by the sourced plugin.
# shellcheck disable=SC2034
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
calls=$work/calls
passed=0
failed=0

# DevStack's environment and helpers, as stand-ins.
DEST=$work/opt
DATA_DIR=$work/data
STACK_USER=stack
SERVICE_HOST=10.0.0.5
SERVICE_PROTOCOL=http
SERVICE_PASSWORD=secret
SERVICE_PROJECT_NAME=service
SERVICE_DOMAIN_NAME=Default
KEYSTONE_SERVICE_URI=http://10.0.0.5/identity
REGION_NAME=RegionOne
NOVA_CONF=$work/nova.conf
ENABLE_DEBUG_LOG_LEVEL=True
LIBVIRT_GROUP=libvirt
SERVICE_TIMEOUT=60
TEMPEST_CONFIG=$work/tempest.conf
# Horizon runs here too: the plugin installs vmmon-dashboard into it.
ENABLED=" horizon"
HORIZON_DIR=$work/horizon
PYTHON=python_standin
record() { echo "$*" >>"$calls"; }
enable_service() { ENABLED="$ENABLED $*"; }
disable_service() { record disable_service "$@"; }
is_service_enabled() { local s; for s in "$@"; do [[ " $ENABLED " == *" $s "* ]] && return 0; done; return 1; }
iniset() { record iniset "$@"; }
install_package() { record install_package "$@"; }
get_transport_url() { echo "rabbit://stackrabbit:secret@10.0.0.5:5672/"; }
get_notification_url() { echo "rabbit://stackrabbit:secret@10.0.0.5:5672/"; }
create_service_user() { record create_service_user "$@"; }
get_or_add_user_project_role() { record get_or_add_user_project_role "$@"; }
get_or_create_service() { record get_or_create_service "$@"; echo service-id-1; }
get_or_create_endpoint() { record get_or_create_endpoint "$@"; }
run_process() { record run_process "$@"; }
stop_process() { record stop_process "$@"; }
wait_for_service() { record wait_for_service "$@"; }
echo_summary() { :; }
setup_develop() { record setup_develop "$@"; }
restart_apache_server() { record restart_apache_server; }
python_standin() { record python "$(pwd)" "$@"; }
die() { record die "$@"; exit 1; }
sudo() { record sudo "$@"; }
hostname() { echo compute-1; }
# The plugin's own binaries and scripts, as stand-ins too.
mkdir -p "$work/bin"
# shellcheck disable=SC2016 # $0 and $* belong to the stand-in script
printf '#!/bin/sh\necho "$0 $*" >>"%s"\n' "$calls" >"$work/bin/vmmon-manage"
chmod +x "$work/bin/vmmon-manage"

check() { # check DESCRIPTION PATTERN
	if grep -qF -- "$2" "$calls"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL: $1: no call matching: $2" >&2
	fi
}

source "$repo/devstack/settings"
VMMON_DIR=$repo
VMMON_CLIENT_DIR=$repo/vmmon/client/python
VMMON_DASHBOARD_DIR=$repo/vmmon/dashboard
VMMON_BIN_DIR=$work/bin
VMMON_CONF_DIR=$work/etc
VMMON_CONF=$VMMON_CONF_DIR/vmmon.conf
VMMON_AGENT_CONF=$VMMON_CONF_DIR/vmmon-agent.conf
VMMON_DATA_DIR=$work/data/vmmon
disable_service vmmon-cassandra
ENABLED=${ENABLED/ vmmon-cassandra/}
# Go is there already: the install phase must not try to fetch it.
go() { record go "$@"; }

for phase in "stack pre-install" "stack install" "stack post-config" "stack extra" "stack test-config" "unstack" "clean"; do
	# shellcheck disable=SC2086
	set -- $phase
	# shellcheck source=/dev/null
	source "$repo/devstack/plugin.sh"
	if [ "$phase" = "stack install" ]; then
		ls "$HORIZON_DIR/openstack_dashboard/local/enabled" >"$work/enabled-after-install" 2>&1
	fi
done

if [[ " $ENABLED " == *" vmmon-api "* && " $ENABLED " == *" vmmon-agent "* ]]; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
	echo "FAIL: settings did not enable the services" >&2
fi
check "builds the binaries" "go build -o $work/bin/ ./vmmon/cmd/vmmon-api ./vmmon/cmd/vmmon-collector ./vmmon/cmd/vmmon-manage ./vmmon-agent/cmd/vmmon-agent"
check "libvirt headers" "install_package libvirt-dev pkg-config"
check "policy sample" "vmmon-manage policy sample --output-dir $work/etc"
check "transport_url" "iniset $work/etc/vmmon.conf DEFAULT transport_url rabbit://stackrabbit:secret@10.0.0.5:5672/"
check "keystone_authtoken" "iniset $work/etc/vmmon.conf keystone_authtoken auth_url http://10.0.0.5/identity/v3"
check "service password" "iniset $work/etc/vmmon.conf keystone_authtoken password secret"
check "cassandra" "iniset $work/etc/vmmon.conf cassandra hosts 127.0.0.1"
check "agent libvirt" "iniset $work/etc/vmmon-agent.conf agent libvirt_uri qemu:///system"
check "agent host" "iniset $work/etc/vmmon-agent.conf agent host compute-1"
check "nova notification format" "iniset $NOVA_CONF notifications notification_format both"
check "nova state changes" "iniset $NOVA_CONF notifications notify_on_state_change vm_and_task_state"
check "nova driver" "iniset $NOVA_CONF oslo_messaging_notifications driver messagingv2"
check "service user" "create_service_user vmmon service"
if grep -q 'admin' <(grep -E 'create_service_user|get_or_add_user_project_role' "$calls"); then
	failed=$((failed + 1))
	echo "FAIL: the vmmon service user is granted more than the service role" >&2
else
	passed=$((passed + 1))
fi
check "catalog service" "get_or_create_service vmmon vm-monitor"
check "catalog endpoint" "get_or_create_endpoint service-id-1 RegionOne http://10.0.0.5:8780"
check "db sync" "vmmon-manage db sync --config-file $work/etc/vmmon.conf"
check "collector" "run_process vmmon-collector $work/bin/vmmon-collector --config-file $work/etc/vmmon.conf"
check "api" "run_process vmmon-api $work/bin/vmmon-api --config-file $work/etc/vmmon.conf"
check "agent in the libvirt group" "run_process vmmon-agent $work/bin/vmmon-agent --config-file $work/etc/vmmon-agent.conf libvirt"
check "waits for the API" "wait_for_service 60 http://10.0.0.5:8780/healthcheck"
check "unstack" "stop_process vmmon-api"
check "python-vmmonclient into Horizon's Python" "setup_develop $repo/vmmon/client/python"
check "vmmon-dashboard into Horizon's Python" "setup_develop $repo/vmmon/dashboard"
check "Horizon's static files collected" "python $work/horizon manage.py collectstatic --noinput"
check "Horizon's static files compressed" "python $work/horizon manage.py compress --force"
check "Horizon restarted" "restart_apache_server"
for f in _1090_project_vmmon_monitoring_panel.py _2090_admin_vmmon_panel_group.py _2091_admin_vmmon_overview_panel.py; do
	if grep -qx "$f" "$work/enabled-after-install"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1)); echo "FAIL: $f not copied into Horizon's local/enabled" >&2
	fi
done
if ls "$HORIZON_DIR"/openstack_dashboard/local/enabled/*vmmon* >/dev/null 2>&1; then
	failed=$((failed + 1)); echo "FAIL: clean left vmmon's enabled files in Horizon" >&2
else
	passed=$((passed + 1))
fi
if grep -q "^die" "$calls"; then failed=$((failed + 1)); echo "FAIL: the plugin died" >&2; else passed=$((passed + 1)); fi
# db sync must come before the services start.
if [ "$(grep -n 'db sync' "$calls" | cut -d: -f1)" -lt "$(grep -n 'run_process vmmon-api' "$calls" | cut -d: -f1)" ]; then
	passed=$((passed + 1))
else
	failed=$((failed + 1)); echo "FAIL: db sync after the services start" >&2
fi

if command -v shellcheck >/dev/null; then
	if shellcheck -x -P SCRIPTDIR -s bash "$repo/devstack/plugin.sh" "$repo/devstack/lib/vmmon" "$repo/devstack/settings" "$repo"/tests/bed/*.sh "$0"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1)); echo "FAIL: shellcheck" >&2
	fi
else
	failed=$((failed + 1)); echo "FAIL: shellcheck is not installed (tests/bed/install.sh debs)" >&2
fi
echo "devstack: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
