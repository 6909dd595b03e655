"""``openstack vmmon instance list|show``."""

from __future__ import annotations

import argparse
from typing import Any
import uuid

from osc_lib.command import command
from osc_lib import exceptions as osc_exc

from vmmonclient.v1 import columns

LIST = (("ID", "id"), ("Name", "name"), ("State", "state"),
        ("Power State", "power_state"), ("Flavor", "flavor_name"),
        ("IPs", "ips"), ("Updated At", "updated_at"))
LONG = LIST + (("Project ID", "project_id"), ("User ID", "user_id"),
               ("Host ID", "host_id"), ("Host", "host"), ("Node", "node"),
               ("Task State", "task_state"), ("vCPUs", "flavor_vcpus"),
               ("Memory MB", "flavor_memory_mb"),
               ("Disk GB", "flavor_disk_gb"),
               ("Image ID", "image_id"), ("Created At", "created_at"),
               ("Launched At", "launched_at"), ("Deleted At", "deleted_at"),
               ("Source", "source"))


def find_instance(client: Any, name_or_id: str) -> str:
    """The id of the instance named or identified by name_or_id.

    A UUID is taken as it is (the API says 404 if the caller cannot see
    it); anything else is looked up by exact name among the caller's
    instances.
    """
    try:
        uuid.UUID(name_or_id)
        return name_or_id
    except ValueError:
        pass
    found = [i["id"] for i in client.instances.list()
             if i.get("name") == name_or_id]
    if not found:
        raise osc_exc.CommandError(
            "No instance named %r among the instances you can see; give its "
            "ID (openstack vmmon instance list)" % name_or_id)
    if len(found) > 1:
        raise osc_exc.CommandError(
            "More than one instance is named %r (%s); give its ID" % (
                name_or_id, ", ".join(found)))
    return found[0]


def add_instance_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("instance", metavar="<instance>",
                        help="Instance (ID, or name among your instances)")


class ListInstance(command.Lister):
    """List the instances vmmon monitors (your project's by default)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--all-projects", action="store_true",
                            help="Every project's instances (admin)")
        parser.add_argument("--project", metavar="<project-id>",
                            help="Another project's instances (admin)")
        parser.add_argument("--host", metavar="<host>",
                            help="Only those on this compute host (admin)")
        parser.add_argument("--state", metavar="<state>",
                            help="Only those in this state (active, "
                                 "stopped, paused, ...)")
        parser.add_argument("--name", metavar="<text>",
                            help="Only those whose name holds this text "
                                 "(whatever the case)")
        parser.add_argument("--flavor", metavar="<flavor-name>",
                            help="Only those of this flavor")
        parser.add_argument("--changes-since", metavar="<time>",
                            help="Only those changed at or after this time "
                                 "(ISO 8601), deleted ones too")
        deleted = parser.add_mutually_exclusive_group()
        deleted.add_argument("--deleted", action="store_true", default=None,
                             help="Only deleted instances")
        deleted.add_argument("--no-deleted", dest="deleted",
                             action="store_false",
                             help="Hide deleted instances (with "
                                  "--changes-since)")
        parser.add_argument("--sort", metavar="<key>[:asc|desc]",
                            action="append",
                            help="Sort by vmmon: name, created_at, "
                                 "updated_at, state, flavor_name, host "
                                 "(admin) or a metric's latest value, such "
                                 "as cpu_util:desc (repeat for more keys)")
        parser.add_argument("--limit", metavar="<n>", type=int,
                            help="At most this many")
        parser.add_argument("--marker", metavar="<instance-id>",
                            help="Start after this instance")
        parser.add_argument("--long", action="store_true",
                            help="Show more columns")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Any:
        client = self.app.client_manager.vm_monitor
        items = list(client.instances.list(
            all_projects=parsed_args.all_projects,
            project_id=parsed_args.project, host=parsed_args.host,
            state=parsed_args.state, name=parsed_args.name,
            flavor=parsed_args.flavor, sort=parsed_args.sort,
            changes_since=parsed_args.changes_since,
            deleted=parsed_args.deleted, marker=parsed_args.marker,
            limit=parsed_args.limit))
        return columns.rows(LONG if parsed_args.long else LIST, items)


class ShowInstance(command.ShowOne):
    """Show an instance, its agent's freshness and its latest values."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_instance_argument(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Any:
        client = self.app.client_manager.vm_monitor
        detail = client.instances.get(
            find_instance(client, parsed_args.instance))
        return columns.show(columns.flatten_instance(detail))
