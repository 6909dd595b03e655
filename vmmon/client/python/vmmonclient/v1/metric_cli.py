"""``openstack vmmon metric list`` and ``openstack vmmon measures show``."""

from __future__ import annotations

import argparse
from typing import Any

from osc_lib.command import command

from vmmonclient.v1 import columns
from vmmonclient.v1 import instance_cli
from vmmonclient.v1 import metrics

METRICS = (("Name", "name"), ("Device", "device"), ("Unit", "unit"),
           ("Kind", "kind"), ("Last Timestamp", "last_timestamp"),
           ("Last Value", "last_value"))


class ListMetric(command.Lister):
    """List an instance's metrics with their latest values."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        instance_cli.add_instance_argument(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Any:
        client = self.app.client_manager.vm_monitor
        items = client.metrics.list(
            instance_cli.find_instance(client, parsed_args.instance))
        return columns.rows(METRICS, items)


class ShowMeasures(command.Lister):
    """Show the points of one metric of an instance between two times."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        instance_cli.add_instance_argument(parser)
        parser.add_argument("metric", metavar="<metric>",
                            help="Metric name (cpu_util, memory.usage, "
                                 "disk.device.read.bytes.rate, ...)")
        parser.add_argument("--start", metavar="<time>",
                            help="ISO 8601 start (default: an hour ago)")
        parser.add_argument("--end", metavar="<time>",
                            help="ISO 8601 end (default: now)")
        parser.add_argument("--granularity", metavar="<seconds|raw>",
                            help="raw, or seconds as a multiple of 60 "
                                 "(default: 60)")
        parser.add_argument("--aggregation", metavar="<aggregation>",
                            choices=metrics.AGGREGATIONS,
                            help="How points are combined: %s (default: "
                                 "mean)" % ", ".join(metrics.AGGREGATIONS))
        devices = parser.add_mutually_exclusive_group()
        devices.add_argument("--device", metavar="<device>",
                             help="One device's series (vda, tap...)")
        devices.add_argument("--all-devices", action="store_true",
                             help="A series for each device")
        parser.add_argument("--long", action="store_true",
                            help="Show the unit and aggregation too")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Any:
        client = self.app.client_manager.vm_monitor
        m = client.measures.get(
            instance_cli.find_instance(client, parsed_args.instance),
            parsed_args.metric, start=parsed_args.start, end=parsed_args.end,
            granularity=parsed_args.granularity,
            aggregation=parsed_args.aggregation, device=parsed_args.device,
            all_devices=parsed_args.all_devices)
        headings = ["Timestamp", "Granularity", "Device", "Value"]
        if parsed_args.long:
            headings += ["Unit", "Aggregation"]
        out = []
        for s in m.get("series") or []:
            for p in s.get("points") or []:
                row = (p.get("timestamp"), m.get("granularity"),
                       s.get("device") or "", p.get("value"))
                if parsed_args.long:
                    row += (s.get("unit") or "", m.get("aggregation"))
                out.append(row)
        return headings, out
