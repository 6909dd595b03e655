"""An instance's lifecycle timeline: ``GET /v1/instances/{id}/events``."""

from __future__ import annotations

from typing import Iterator, Optional

from vmmonclient.v1 import base
from vmmonclient.v1.types import Event


class EventManager(base.Manager):
    """Events from Nova, libvirt and vmmon, newest first."""

    def list(self, instance_id: str, *, start: Optional[str] = None,
             end: Optional[str] = None, marker: Optional[str] = None,
             limit: Optional[int] = None,
             page_size: Optional[int] = None) -> Iterator[Event]:
        """Yield the instance's events, newest first, page after page."""
        params = {"start": start, "end": end, "marker": marker}
        return self.http.paginate(
            "/v1/instances/%s/events" % base.quote(instance_id), "events",
            params=params, limit=limit, page_size=page_size)
