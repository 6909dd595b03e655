"""Version discovery: ``GET /`` and ``GET /v1`` (no token needed)."""

from __future__ import annotations

from typing import List

from vmmonclient.v1 import base
from vmmonclient.v1.types import Version


class VersionManager(base.Manager):
    """The API's versions and microversion range."""

    def list(self) -> List[Version]:
        """Every version the server offers."""
        return self.http.get_json("/").get("versions") or []

    def get_current(self) -> Version:
        """The v1 version, with its ``min_version`` and ``max_version``."""
        return self.http.get_json("/v1").get("version") or {}
