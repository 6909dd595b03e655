"""The python-openstackclient plugin: ``openstack vmmon ...``.

Registered under ``openstack.cli.extension`` as ``vm_monitor``; the commands
are the ``openstack.vm_monitor.v1`` entry points.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from osc_lib import exceptions as osc_exc
from osc_lib import utils

from vmmonclient import httpclient

LOG = logging.getLogger(__name__)

DEFAULT_API_VERSION = "1"
API_VERSION_OPTION = "os_vm_monitor_api_version"
API_NAME = "vm_monitor"
API_VERSIONS = {"1": "vmmonclient.v1.client.Client"}


def _microversion(version: str) -> str:
    """``1`` is the client's default microversion; ``1.x`` is itself."""
    return httpclient.MAX_API_VERSION if "." not in version else version


def check_api_version(check_version: str) -> bool:
    """Accept ``1`` and ``1.x``; OSC skips its own check when this is True."""
    major, _, minor = check_version.partition(".")
    if major not in API_VERSIONS or (minor and not minor.isdigit()):
        raise osc_exc.CommandError(
            "vm-monitor API version %r is not valid: give 1 or 1.<minor> "
            "(--os-vm-monitor-api-version, OS_VM_MONITOR_API_VERSION)"
            % check_version)
    return True


def make_client(instance: Any) -> Any:
    """The v1 client of the session OSC built (called once, when needed)."""
    version = instance._api_version[API_NAME]
    cls = utils.get_client_class(API_NAME, version.split(".")[0],
                                 API_VERSIONS)
    LOG.debug("instantiating vm-monitor client %s (API %s)", cls, version)
    return cls(session=instance.session, interface=instance.interface,
               region_name=instance.region_name,
               api_version=_microversion(version))


def build_option_parser(parser: argparse.ArgumentParser
                        ) -> argparse.ArgumentParser:
    """Add the plugin's global option."""
    parser.add_argument(
        "--os-vm-monitor-api-version",
        metavar="<vm-monitor-api-version>",
        default=utils.env("OS_VM_MONITOR_API_VERSION",
                          default=DEFAULT_API_VERSION),
        help="vm-monitor (vmmon) API version, 1 or 1.<microversion> "
             "(Env: OS_VM_MONITOR_API_VERSION; default: %s)"
             % DEFAULT_API_VERSION)
    return parser
