"""vmmon's /v1 API: ``vmmonclient.v1.Client``."""

from vmmonclient.v1.client import Client

__all__ = ["Client"]
