"""``openstack vmmon action create|list|show``."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from osc_lib.command import command
from osc_lib import exceptions as osc_exc

from vmmonclient.v1 import actions
from vmmonclient.v1 import columns
from vmmonclient.v1 import instance_cli

LOG = logging.getLogger(__name__)

LIST = (("ID", "id"), ("Action", "action"), ("Status", "status"),
        ("Created At", "created_at"), ("Updated At", "updated_at"))
LONG = LIST + (("Params", "params"), ("Message", "message"),
               ("Request ID", "request_id"),
               ("Nova Request ID", "nova_request_id"),
               ("User ID", "user_id"), ("Project ID", "project_id"))


class CreateAction(command.ShowOne):
    """Run an action on an instance through Nova (with your own token)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        instance_cli.add_instance_argument(parser)
        parser.add_argument("action", metavar="<action>",
                            choices=actions.ACTIONS,
                            help="One of: %s" % ", ".join(actions.ACTIONS))
        parser.add_argument("--type", metavar="<SOFT|HARD>",
                            choices=actions.REBOOT_TYPES,
                            help="Reboot type (reboot only; Nova's default: "
                                 "SOFT)")
        parser.add_argument("--reason", metavar="<reason>",
                            help="Why (lock only)")
        parser.add_argument("--idempotency-key", metavar="<key>",
                            help="Sent as Idempotency-Key: running the "
                                 "command again with the same key within 24 "
                                 "hours returns the first action instead of "
                                 "acting twice")
        parser.add_argument("--wait", action="store_true",
                            help="Wait until Nova's notification settles the "
                                 "action (succeeded, failed or unknown); "
                                 "exit non-zero unless it succeeded")
        parser.add_argument("--wait-timeout", metavar="<seconds>",
                            type=float, default=900,
                            help="With --wait: give up after this many "
                                 "seconds (default: 900)")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Any:
        client = self.app.client_manager.vm_monitor
        if parsed_args.type and parsed_args.action != "reboot":
            raise osc_exc.CommandError("--type applies to reboot only")
        if parsed_args.reason is not None and parsed_args.action != "lock":
            raise osc_exc.CommandError("--reason applies to lock only")
        instance_id = instance_cli.find_instance(client, parsed_args.instance)
        action = client.actions.create(
            instance_id, parsed_args.action, type=parsed_args.type,
            reason=parsed_args.reason,
            idempotency_key=parsed_args.idempotency_key)
        if parsed_args.wait:
            action = client.actions.wait(
                instance_id, action["id"], timeout=parsed_args.wait_timeout,
                callback=lambda a: LOG.debug("action %s: %s", a.get("id"),
                                             a.get("status")))
            status = action.get("status")
            if status == "failed":
                raise osc_exc.CommandError(
                    "Action %s %s on instance %s failed: %s" % (
                        action["id"], action.get("action"), instance_id,
                        action.get("message") or "Nova reported an error; "
                        "see openstack vmmon event list %s" % instance_id))
            if status == "unknown":
                raise osc_exc.CommandError(
                    "Action %s %s on instance %s is unknown: vmmon heard "
                    "nothing from Nova in time; check the server with "
                    "openstack server show %s" % (
                        action["id"], action.get("action"), instance_id,
                        instance_id))
        return columns.show(action)


class ListAction(command.Lister):
    """List an instance's actions, oldest first."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        instance_cli.add_instance_argument(parser)
        parser.add_argument("--limit", metavar="<n>", type=int,
                            help="At most this many")
        parser.add_argument("--marker", metavar="<action-id>",
                            help="Start after this action")
        parser.add_argument("--long", action="store_true",
                            help="Show more columns")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Any:
        client = self.app.client_manager.vm_monitor
        items = list(client.actions.list(
            instance_cli.find_instance(client, parsed_args.instance),
            marker=parsed_args.marker, limit=parsed_args.limit))
        return columns.rows(LONG if parsed_args.long else LIST, items)


class ShowAction(command.ShowOne):
    """Show one action of an instance and its status."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        instance_cli.add_instance_argument(parser)
        parser.add_argument("action_id", metavar="<action-id>",
                            help="Action ID")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Any:
        client = self.app.client_manager.vm_monitor
        return columns.show(client.actions.get(
            instance_cli.find_instance(client, parsed_args.instance),
            parsed_args.action_id))
