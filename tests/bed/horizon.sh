#!/usr/bin/env bash
# Horizon for the tests of vmmon-dashboard: Debian's openstack-dashboard
# (Horizon 23), served by the tests themselves (Django's runserver on
# loopback, settings of their own), and headless Chromium with its driver
# and Selenium to drive it.
#
#   horizon.sh install   install the packages (idempotent, starts nothing)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

case "${1:-install}" in
install)
	apt_install openstack-dashboard python3-pytest-django python3-flake8 \
		chromium chromium-driver python3-selenium
	for f in /usr/bin/chromium /usr/bin/chromedriver \
		/usr/share/openstack-dashboard/manage.py; do
		[ -e "$f" ] || die "$f missing after the install"
	done
	;;
*)
	die "usage: $0 install"
	;;
esac
