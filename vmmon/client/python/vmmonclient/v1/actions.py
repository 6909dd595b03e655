"""Control actions carried out through Nova: ``/v1/instances/{id}/actions``."""

from __future__ import annotations

import time
from typing import Callable, Iterator, Optional
import uuid

from vmmonclient import exceptions
from vmmonclient.v1 import base
from vmmonclient.v1.types import Action

ACTIONS = ("start", "stop", "reboot", "pause", "unpause", "suspend", "resume",
           "lock", "unlock", "shelve", "unshelve")
REBOOT_TYPES = ("SOFT", "HARD")
# An action is pending until Nova's notification (or vmmon's timeout)
# settles it in one of these.
FINAL_STATUSES = ("succeeded", "failed", "unknown")


class ActionManager(base.Manager):
    """Run actions on an instance and follow them."""

    # Injected by tests.
    _sleep: Callable[[float], None] = staticmethod(time.sleep)
    _clock: Callable[[], float] = staticmethod(time.monotonic)

    def create(self, instance_id: str, action: str, *,
               type: Optional[str] = None, reason: Optional[str] = None,
               idempotency_key: Optional[str] = None) -> Action:
        """Ask vmmon to run an action through Nova; returns it ``pending``.

        :param action: one of :data:`ACTIONS`
        :param type: ``SOFT`` or ``HARD``, for reboot
        :param reason: why, for lock
        :param idempotency_key: sent as ``Idempotency-Key``; the same key
            (same user, project and instance, within 24 hours) returns the
            first action instead of acting twice. By default a new key is
            made for each call, so that keystoneauth's retries of this one
            call never act twice.
        """
        body = {"action": action}
        if type is not None:
            body["type"] = type
        if reason is not None:
            body["reason"] = reason
        key = idempotency_key or "python-vmmonclient-" + uuid.uuid4().hex
        resp = self.http.request(
            "POST", "/v1/instances/%s/actions" % base.quote(instance_id),
            json=body, headers={"Idempotency-Key": key})
        return resp.json()["action"]

    def list(self, instance_id: str, *, marker: Optional[str] = None,
             limit: Optional[int] = None,
             page_size: Optional[int] = None) -> Iterator[Action]:
        """Yield the instance's actions, oldest first, page after page."""
        return self.http.paginate(
            "/v1/instances/%s/actions" % base.quote(instance_id), "actions",
            params={"marker": marker}, limit=limit, page_size=page_size)

    def get(self, instance_id: str, action_id: str) -> Action:
        """One action and its status."""
        return self.http.get_json("/v1/instances/%s/actions/%s" % (
            base.quote(instance_id), base.quote(action_id)))["action"]

    def wait(self, instance_id: str, action_id: str, *,
             timeout: Optional[float] = 900, interval: float = 2.0,
             callback: Optional[Callable[[Action], None]] = None) -> Action:
        """Poll an action until it is succeeded, failed or unknown.

        :param timeout: seconds to wait at most (None: until it settles;
            vmmon itself gives up after its ``[nova] action_timeout``)
        :param callback: called with the action after every poll
        :raises WaitTimeout: when it is still pending after timeout
        """
        deadline = None if timeout is None else self._clock() + timeout
        while True:
            action = self.get(instance_id, action_id)
            if callback:
                callback(action)
            if action.get("status") in FINAL_STATUSES:
                return action
            if deadline is not None:
                left = deadline - self._clock()
                if left <= 0:
                    raise exceptions.WaitTimeout(
                        "Action %s (%s) on instance %s is still %s after %gs;"
                        " follow it with: openstack vmmon action show %s %s"
                        % (action_id, action.get("action"), instance_id,
                           action.get("status"), timeout, instance_id,
                           action_id))
                self._sleep(min(interval, left))
            else:
                self._sleep(interval)
