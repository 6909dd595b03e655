"""``openstack vmmon host list|show`` (administrators)."""

from __future__ import annotations

import argparse
from typing import Any

from osc_lib.command import command

from vmmonclient.v1 import columns

LIST = (("Name", "name"), ("Status", "status"),
        ("Heartbeat Age (s)", "heartbeat_age_s"),
        ("Interval (s)", "interval_s"))
LONG = LIST + (("Last Heartbeat", "last_heartbeat"), ("Last Seq", "last_seq"),
               ("Seq Gaps", "seq_gaps"), ("Stream", "stream"))


class ListHost(command.Lister):
    """List compute hosts and their agents' heartbeats (admin)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--limit", metavar="<n>", type=int,
                            help="At most this many")
        parser.add_argument("--marker", metavar="<host>",
                            help="Start after this host")
        parser.add_argument("--long", action="store_true",
                            help="Show more columns")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Any:
        client = self.app.client_manager.vm_monitor
        items = list(client.hosts.list(marker=parsed_args.marker,
                                       limit=parsed_args.limit))
        return columns.rows(LONG if parsed_args.long else LIST, items)


class ShowHost(command.ShowOne):
    """Show a compute host and its agent's last heartbeat (admin)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("host", metavar="<host>", help="Host name")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Any:
        client = self.app.client_manager.vm_monitor
        return columns.show(client.hosts.get(parsed_args.host))
