"""``openstack vmmon event list``."""

from __future__ import annotations

import argparse
from typing import Any

from osc_lib.command import command

from vmmonclient.v1 import columns
from vmmonclient.v1 import instance_cli

LIST = (("Timestamp", "timestamp"), ("Source", "source"),
        ("Event Type", "event_type"), ("Detail", "detail"))
LONG = LIST + (("ID", "id"), ("Request ID", "request_id"),
               ("User ID", "user_id"), ("Project ID", "project_id"),
               ("Host", "host"), ("Fault", "fault"))


class ListEvent(command.Lister):
    """List an instance's lifecycle events (Nova, libvirt, vmmon), newest
    first."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        instance_cli.add_instance_argument(parser)
        parser.add_argument("--start", metavar="<time>",
                            help="ISO 8601: only events from this time")
        parser.add_argument("--end", metavar="<time>",
                            help="ISO 8601: only events until this time")
        parser.add_argument("--limit", metavar="<n>", type=int,
                            help="At most this many")
        parser.add_argument("--marker", metavar="<marker>",
                            help="Continue from this marker (from a next "
                                 "link)")
        parser.add_argument("--long", action="store_true",
                            help="Show more columns")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Any:
        client = self.app.client_manager.vm_monitor
        items = list(client.events.list(
            instance_cli.find_instance(client, parsed_args.instance),
            start=parsed_args.start, end=parsed_args.end,
            marker=parsed_args.marker, limit=parsed_args.limit))
        return columns.rows(LONG if parsed_args.long else LIST, items)
