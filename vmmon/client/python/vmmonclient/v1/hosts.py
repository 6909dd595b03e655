"""Compute hosts and their agents (administrators): ``/v1/hosts``."""

from __future__ import annotations

from typing import Iterator, Optional

from vmmonclient.v1 import base
from vmmonclient.v1.types import Host


class HostManager(base.Manager):
    """Hosts by name, with their agents' heartbeats."""

    def list(self, *, marker: Optional[str] = None,
             limit: Optional[int] = None,
             page_size: Optional[int] = None) -> Iterator[Host]:
        """Yield every host, by name, page after page."""
        return self.http.paginate("/v1/hosts", "hosts",
                                  params={"marker": marker}, limit=limit,
                                  page_size=page_size)

    def get(self, name: str) -> Host:
        """One host and its agent's last heartbeat."""
        return self.http.get_json("/v1/hosts/" + base.quote(name))["host"]
