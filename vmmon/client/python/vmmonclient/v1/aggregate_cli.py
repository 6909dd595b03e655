"""``openstack vmmon aggregate list``: top-N of instances, hosts or
projects by a metric."""

from __future__ import annotations

import argparse
from typing import Any

from osc_lib.command import command

from vmmonclient.v1 import columns

LIST = (("Group", "group"), ("Name", "name"), ("Value", "value"),
        ("Unit", "unit"), ("Series", "series"))
LONG = LIST + (("Project", "project_id"), ("Host", "host"),
               ("Host ID", "host_id"), ("Timestamp", "timestamp"))


def _group(item: dict) -> dict:
    """The group's own name, whatever it groups by."""
    out = dict(item)
    out["group"] = (item.get("instance_id") or item.get("host")
                    or item.get("project_id") or "")
    return out


class ListAggregate(command.Lister):
    """One value of a metric per instance, host or project, top first."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--metric", metavar="<metric>", required=True,
                            help="Metric to fold, such as cpu_util")
        parser.add_argument("--aggregation", metavar="<aggregation>",
                            choices=("mean", "max", "min", "sum", "last",
                                     "count"),
                            help="mean (default), max, min, sum, last, count")
        parser.add_argument("--group-by", metavar="<group>",
                            choices=("instance", "host", "project"),
                            help="instance (default), host (admin) or "
                                 "project")
        parser.add_argument("--start", metavar="<time>",
                            help="ISO 8601; without start and end, the "
                                 "latest values")
        parser.add_argument("--end", metavar="<time>", help="ISO 8601")
        parser.add_argument("--ascending", action="store_true",
                            help="Lowest first (default: highest first)")
        parser.add_argument("--limit", metavar="<n>", type=int,
                            help="Top N")
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--project", metavar="<project-id>",
                           help="Another project's instances (admin)")
        scope.add_argument("--all-projects", action="store_true",
                           help="Every project's instances (admin)")
        parser.add_argument("--host", metavar="<host>",
                            help="Only this host's instances (admin)")
        parser.add_argument("--state", metavar="<state>",
                            help="Only instances in this state")
        parser.add_argument("--flavor", metavar="<flavor>",
                            help="Only instances of this flavor")
        parser.add_argument("--long", action="store_true",
                            help="Show more columns")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Any:
        client = self.app.client_manager.vm_monitor
        items = client.aggregates.list(
            parsed_args.metric, aggregation=parsed_args.aggregation,
            group_by=parsed_args.group_by, start=parsed_args.start,
            end=parsed_args.end,
            sort="value:asc" if parsed_args.ascending else None,
            limit=parsed_args.limit, project_id=parsed_args.project,
            all_projects=parsed_args.all_projects, host=parsed_args.host,
            state=parsed_args.state, flavor=parsed_args.flavor)
        return columns.rows(LONG if parsed_args.long else LIST,
                            [_group(i) for i in items])
